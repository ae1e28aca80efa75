"""NATS JetStream adapter shared by the components: connecting (with the connection's state in the logs),
declaring streams, the payload Object Store bucket and their replica count idempotently, and reading a stored
webhook body whether it travelled inline or through the payload bucket.

Replicas: every stream, KV bucket and object store ArgoAI creates gets ``ARGOAI_NATS_REPLICAS`` copies, and
an existing one with another count is brought to it at start (JetStream moves the data; consumers follow their
stream). The count travels with the connection: :func:`connect` returns a client whose JetStream contexts
carry it, so a component that connects through :func:`connect` declares what its settings say without passing
the count along (a context made another way leaves an existing count unchanged and creates one copy).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ObjectStoreConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from argoai_core.adapters.connection_log import ConnectionLog
from argoai_core.errors import ConfigError, PermanentError, UnavailableError
from argoai_core.logs import get_logger
from argoai_core.settings import NatsSettings
from argoai_core.streams import HEADER_PAYLOAD_BUCKET, HEADER_PAYLOAD_OBJECT, StreamNames, object_store_stream

# A redelivered GitHub webhook keeps its X-GitHub-Delivery; within this window JetStream drops the copy.
DUPLICATE_WINDOW_SECONDS = 15 * 60
# GitHub lets an App redeliver a webhook for 3 days; keep the raw deliveries as long.
WEBHOOK_MAX_AGE_SECONDS = 3 * 24 * 3600
# A notification is published once per (event, target) within this window: a budget spent all day long, or a
# failure reported by several pods, reaches a target once.
NOTIFY_DUPLICATE_WINDOW_SECONDS = 24 * 3600
# Notifications nobody could deliver are dropped after this (a target that is down for days is not caught up).
NOTIFY_MAX_AGE_SECONDS = 3 * 24 * 3600
REPLICAS_SETTING = "ARGOAI_NATS_REPLICAS"
# A stream whose replica count changed stops taking writes until a quorum of its new replicas is current.
RESCALE_WAIT_SECONDS = 10.0

# JetStream API error codes (nats-server's errors.json) answering a replica count the servers cannot hold.
_NOT_CLUSTERED = 10074  # "replicas > 1 not supported in non-clustered mode"
_NO_PEERS = 10005  # "no suitable peers for placement"
_INSUFFICIENT_RESOURCES = 10023
STREAM_NAME_IN_USE = 10058  # created meanwhile by another pod, with another configuration

Callback = Callable[[], Awaitable[None]]
# Errors nats-py reports on an established connection just before it drops it and reconnects.
_CONNECTION_LOST = (
    nats.errors.UnexpectedEOF,
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionClosedError,
    OSError,
)

log = get_logger(__name__)


class ReplicatedJetStream(JetStreamContext):
    """A JetStream context that knows how many replicas this installation declares (ARGOAI_NATS_REPLICAS)."""

    def __init__(self, conn: Client, replicas: int, **opts: Any) -> None:
        super().__init__(conn, **opts)
        self.replicas = replicas


class NatsClient(Client):
    """nats-py's client, handing the installation's replica count to every JetStream context it makes."""

    def __init__(self, replicas: int) -> None:
        super().__init__()
        self.replicas = replicas
        # Set by close() and drain(): a connection closed on purpose is not an outage to report.
        self.closing = False

    def jetstream(self, **opts: Any) -> ReplicatedJetStream:
        """A JetStream context (see nats-py) carrying :attr:`replicas`."""
        return ReplicatedJetStream(self, self.replicas, **opts)

    async def close(self) -> None:
        """Close the connection (see nats-py)."""
        self.closing = True
        await super().close()

    async def drain(self) -> None:
        """Drain the subscriptions, then close (see nats-py)."""
        self.closing = True
        await super().drain()


def declared_replicas(js: JetStreamContext) -> int | None:
    """The replica count ``js`` declares: ARGOAI_NATS_REPLICAS when made by :func:`connect`, else None."""
    return js.replicas if isinstance(js, ReplicatedJetStream) else None


async def connect(
    settings: NatsSettings,
    *,
    name: str,
    on_disconnect: Callback | None = None,
    on_reconnect: Callback | None = None,
) -> NatsClient:
    """Connect to NATS and keep reconnecting forever: the process never needs a restart when NATS returns.

    Returns once a server answers, however long that takes (cancel the call to give up). The connection's
    state goes to the logs (:class:`~argoai_core.adapters.connection_log.ConnectionLog`): one warning naming
    the URL (without credentials) when NATS is unreachable, repeated with a growing interval while it stays
    so, one info line when it is back.
    """
    client = NatsClient(settings.replicas)
    state = ConnectionLog(settings.public_url, name)

    def server() -> str:
        url = client.connected_url
        if url is None:
            return settings.public_url
        return f"{url.scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")

    async def error(exc: Exception) -> None:
        if client.closing:
            return
        if not client.is_connected:
            state.failed(exc)
        elif isinstance(exc, _CONNECTION_LOST):
            state.dropped(exc)  # reported just before the disconnect callback: it says why
        else:
            state.other_error(exc)

    async def disconnected() -> None:
        if client.closing:
            return
        state.dropped()
        if on_disconnect is not None:
            await on_disconnect()

    async def reconnected() -> None:
        state.connected(server())
        if on_reconnect is not None:
            await on_reconnect()

    # nats-py annotates these timeouts as int but waits with them as floats.
    timeouts: dict[str, Any] = {
        "connect_timeout": settings.connect_timeout_seconds,
        "reconnect_time_wait": 0.5,
    }
    await client.connect(
        servers=[server.strip() for server in settings.url.split(",")],
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        ping_interval=5,
        max_outstanding_pings=2,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        **timeouts,
    )
    state.connected(server())
    return client


@contextlib.contextmanager
def replica_errors(what: str, replicas: int | None) -> Iterator[None]:
    """Turn JetStream's refusals of a replica count into errors naming ARGOAI_NATS_REPLICAS: ConfigError
    when the server can never hold it (not clustered), UnavailableError when the cluster cannot right now."""
    try:
        yield
    except APIError as exc:
        detail = exc.description or type(exc).__name__
        if exc.err_code == _NOT_CLUSTERED:
            raise ConfigError(
                f"{REPLICAS_SETTING}={replicas}: the NATS server is not part of a cluster and keeps one copy "
                f"only ({detail}); set {REPLICAS_SETTING}=1 or point ARGOAI_NATS_URL at a NATS cluster"
            ) from None
        if exc.err_code in (_NO_PEERS, _INSUFFICIENT_RESOURCES):
            # Too few servers in the cluster, or some of them down right now: retrying may succeed.
            raise UnavailableError(
                f"{REPLICAS_SETTING}={replicas}: the NATS cluster cannot hold {replicas} replicas of {what} "
                f"({detail}): it needs {replicas} JetStream servers up",
                delay=5,
            ) from None
        raise


def stream_configs(names: StreamNames, replicas: int | None = None) -> list[StreamConfig]:
    """The streams ArgoAI needs, with their retention rules (``replicas`` None: keep an existing count)."""
    return [
        StreamConfig(
            name=names.webhooks_stream,
            subjects=[names.webhook_subjects],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            max_age=WEBHOOK_MAX_AGE_SECONDS,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=names.jobs_stream,
            subjects=[names.review_subject],
            storage=StorageType.FILE,
            # Work-queue: a job is removed once a reviewer acknowledges it; one consumer serves every pod.
            retention=RetentionPolicy.WORK_QUEUE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=names.notify_stream,
            subjects=[names.notify_subjects],
            storage=StorageType.FILE,
            # Work-queue: a notification is removed once a target accepted it (or it was dead-lettered).
            retention=RetentionPolicy.WORK_QUEUE,
            duplicate_window=NOTIFY_DUPLICATE_WINDOW_SECONDS,
            max_age=NOTIFY_MAX_AGE_SECONDS,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=names.dead_letter_stream,
            subjects=[names.dead_letter_subject, names.notify_dead_letter_subject],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=30 * 24 * 3600,
            num_replicas=replicas,
        ),
    ]


async def _update(js: JetStreamContext, config: StreamConfig, current: int | None) -> None:
    """Update existing stream ``config.name`` (holding ``current`` replicas) to ``config``.

    A replica count the cluster cannot place right now (fewer servers up than replicas) does not take a
    working stream away: it keeps its current count, with one error line naming the setting, and the next
    start tries again. One info line when the count changes.
    """
    name, wanted = config.name, config.num_replicas
    if wanted is None or (current or 1) == wanted:
        await js.update_stream(config)
        return
    try:
        await js.update_stream(config)
    except APIError as exc:
        if exc.err_code not in (_NO_PEERS, _INSUFFICIENT_RESOURCES):
            raise
        log.error(
            "nats_replicas_not_reconciled",
            stream=name,
            replicas=current or 1,
            wanted=wanted,
            setting=REPLICAS_SETTING,
            error=exc.description or type(exc).__name__,
            detail=f"the stream keeps {current or 1} replica(s); {wanted} need {wanted} JetStream servers up",
        )
        await js.update_stream(dataclasses.replace(config, num_replicas=current))
        return
    assert name is not None
    settled = await _wait_for_quorum(js, name, wanted)
    log.info(
        "nats_replicas_reconciled",
        stream=name,
        replicas_before=current or 1,
        replicas=wanted,
        setting=REPLICAS_SETTING,
        settled_seconds=settled,
    )


async def _wait_for_quorum(js: JetStreamContext, stream: str, replicas: int) -> float | None:
    """Wait (at most RESCALE_WAIT_SECONDS) until a rescaled stream has a leader and a quorum of current
    replicas, i.e. takes writes again: until then a publish waits for its PubAck and may time out. Returns
    the seconds it took, None when it did not happen in time (the caller goes on; the stream catches up)."""
    started = time.monotonic()
    quorum = replicas // 2 + 1
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(RESCALE_WAIT_SECONDS):
            while True:
                cluster = (await js.stream_info(stream)).cluster
                if cluster is not None and cluster.leader is not None:
                    current = 1 + sum(1 for peer in cluster.replicas or [] if peer.current)
                    if current >= quorum:
                        return round(time.monotonic() - started, 2)
                elif cluster is None and replicas == 1:
                    return round(time.monotonic() - started, 2)
                await asyncio.sleep(0.1)
    return None


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create ``config``'s stream, or bring an existing one to ``config``; safe to call from every pod.

    ``config.num_replicas`` None keeps an existing stream's count (and creates one copy).
    """
    name = config.name
    assert name is not None
    with replica_errors(f"stream {name}", config.num_replicas):
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            try:
                await js.add_stream(config)
                return
            except APIError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
            # Another pod created it between our lookup and our create: bring it to our configuration.
            info = await js.stream_info(name)
        current = info.config.num_replicas
        if config.num_replicas is None:
            config = dataclasses.replace(config, num_replicas=current)
        await _update(js, config, current)


async def ensure_replicas(js: JetStreamContext, stream: str, replicas: int | None) -> None:
    """Bring existing stream ``stream`` (a KV bucket's ``KV_<b>``, an object store's ``OBJ_<b>``) to
    ``replicas`` copies, keeping the rest of its configuration; nothing when ``replicas`` is None."""
    if replicas is None:
        return
    with replica_errors(f"stream {stream}", replicas):
        info = await js.stream_info(stream)
        current = info.config.num_replicas
        if (current or 1) == replicas:
            return
        await _update(js, dataclasses.replace(info.config, num_replicas=replicas), current)


async def ensure_streams(js: JetStreamContext, names: StreamNames, *, replicas: int | None = None) -> None:
    """Declare every ArgoAI stream, and the Object Store bucket for oversized webhook payloads.

    ``replicas`` defaults to the count ``js`` declares (:func:`declared_replicas`). Raises ConfigError
    (the server cannot hold that many copies, ever) or UnavailableError (not now) naming the setting.
    """
    replicas = replicas if replicas is not None else declared_replicas(js)
    for config in stream_configs(names, replicas):
        await ensure_stream(js, config)
    await ensure_payload_bucket(js, names, replicas=replicas)


async def ensure_payload_bucket(
    js: JetStreamContext, names: StreamNames, *, replicas: int | None = None
) -> ObjectStore:
    """The Object Store bucket for webhook payloads larger than one NATS message, created when missing and
    brought to ``replicas`` copies (default: the count ``js`` declares)."""
    replicas = replicas if replicas is not None else declared_replicas(js)
    bucket = names.payload_bucket
    with replica_errors(f"object store {bucket}", replicas):
        try:
            store = await js.object_store(bucket)
        except BucketNotFoundError:
            try:
                return await js.create_object_store(
                    bucket,
                    # Payloads live as long as the stream messages that point at them.
                    config=ObjectStoreConfig(
                        storage=StorageType.FILE, ttl=WEBHOOK_MAX_AGE_SECONDS, replicas=replicas or 1
                    ),
                )
            except APIError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
            # Another pod created it between our lookup and our create.
            store = await js.object_store(bucket)
    await ensure_replicas(js, object_store_stream(bucket), replicas)
    return store


async def load_body(js: JetStreamContext, msg: Msg) -> bytes:
    """The webhook body of stored delivery ``msg``: inline, or fetched from the payload bucket it names.

    PermanentError when the referenced object is gone (expired or deleted): retrying cannot bring it back.
    """
    headers = msg.headers or {}
    name = headers.get(HEADER_PAYLOAD_OBJECT)
    if name is None:
        return bytes(msg.data)
    bucket = headers.get(HEADER_PAYLOAD_BUCKET, "")
    try:
        store = await js.object_store(bucket)
        result = await store.get(name)
    except (BucketNotFoundError, ObjectNotFoundError):
        raise PermanentError(f"webhook payload {bucket}/{name} is no longer stored") from None
    return bytes(result.data or b"")
