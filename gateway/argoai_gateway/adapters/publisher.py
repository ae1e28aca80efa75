"""JetStream publisher: the only gateway module that talks to NATS.

The connection is made in the background: the gateway serves (and answers 503, ``/readyz`` false) while NATS
is down, including at start-up, and recovers by itself when NATS returns; argoai_core's ``connect`` logs the
connection's state. Streams are declared (with ARGOAI_NATS_REPLICAS copies) once connected, and again after
every reconnect in case the server came back with an empty store. A replica count the NATS server can never
hold ends the gateway with that configuration error (:meth:`JetStreamPublisher.wait_fatal`).
"""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from argoai_core.adapters.connection_log import describe
from argoai_core.adapters.jetstream import connect, ensure_payload_bucket, ensure_streams
from argoai_core.errors import ConfigError, UnavailableError
from argoai_core.logs import get_logger
from argoai_core.settings import NatsSettings
from argoai_core.streams import HEADER_PAYLOAD_BUCKET, HEADER_PAYLOAD_OBJECT, StreamNames
from argoai_gateway.ports import Delivery, Stored
from argoai_gateway.settings import GatewaySettings

log = get_logger(__name__)

# Room left in a NATS message for the headers (GitHub's, trace context, Nats-Msg-Id) next to the body.
_HEADER_ROOM = 8 * 1024
_READY_CHECK_TIMEOUT = 1.0
# Declaring the streams is retried with a growing delay (and one log line per attempt).
_RETRY_SECONDS = 1.0
_MAX_RETRY_SECONDS = 30.0
# What nats-py raises when the server is unreachable, slow, or refuses the write (e.g. stream full).
_NATS_FAILURES = (nats.errors.Error, APIError, NoStreamResponseError, asyncio.TimeoutError, OSError)


class JetStreamPublisher:
    """Stores deliveries in the webhooks stream; bodies too large for one message go to the Object Store."""

    def __init__(
        self, nats_settings: NatsSettings, gateway: GatewaySettings, *, name: str = "argoai-gateway"
    ) -> None:
        self._settings = nats_settings
        self._gateway = gateway
        self._name = name
        self.names = StreamNames(nats_settings.prefix)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._payloads: ObjectStore | None = None
        self._streams_ready = False
        self._declared = asyncio.Event()
        self._fatal: asyncio.Future[None] | None = None
        self._setup: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Begin connecting in the background; returns at once, whether NATS is up or not."""
        self._fatal = asyncio.get_running_loop().create_future()
        self._setup = asyncio.create_task(self._connect_and_declare(), name="nats-connect")

    async def close(self) -> None:
        """Stop connecting, or close the connection (callers bound the wait: NATS may be frozen)."""
        for task in [self._setup, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._nc is not None and not self._nc.is_closed:
            with contextlib.suppress(*_NATS_FAILURES):
                await self._nc.close()

    async def wait_declared(self) -> None:
        """Return once connected with the streams declared (the first time); callers bound the wait."""
        await self._declared.wait()

    async def wait_fatal(self) -> None:
        """Raise the ConfigError that makes storing impossible for good (the NATS server cannot hold
        ARGOAI_NATS_REPLICAS copies); never returns otherwise."""
        assert self._fatal is not None, "start() first"
        await asyncio.shield(self._fatal)

    async def _connect_and_declare(self) -> None:
        # nats-py retries an unanswered first connect forever when max_reconnect_attempts is -1 (as
        # argoai_core's connect sets it): this returns once a server answers, however long that takes.
        self._nc = await connect(self._settings, name=self._name, on_reconnect=self._reconnected)
        self._js = self._nc.jetstream(timeout=self._gateway.publish_timeout_seconds)
        await self._declare()

    async def _declare(self) -> None:
        """Declare the streams and payload bucket, retrying until it works (NATS may drop meanwhile)."""
        assert self._js is not None
        delay = _RETRY_SECONDS
        while True:
            try:
                await ensure_streams(self._js, self.names)
                self._payloads = await ensure_payload_bucket(self._js, self.names)
            except ConfigError as exc:
                if self._fatal is not None and not self._fatal.done():
                    self._fatal.set_exception(exc)
                return
            except UnavailableError as exc:
                log.error("nats_declare_failed", error=str(exc), retry_in=delay)
            except _NATS_FAILURES as exc:
                log.warning("nats_declare_failed", error=type(exc).__name__, retry_in=delay)
            else:
                self._streams_ready = True
                self._declared.set()
                log.info(
                    "streams_ready",
                    stream=self.names.webhooks_stream,
                    bucket=self.names.payload_bucket,
                    replicas=self._settings.replicas,
                )
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_SECONDS)

    async def _reconnected(self) -> None:
        self._redeclare()

    def _redeclare(self) -> None:
        """Declare the streams again in the background, unless that is already under way."""
        if self._tasks:
            return
        task = asyncio.create_task(self._declare(), name="nats-redeclare")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def ready(self) -> bool:
        """Connected to NATS and the webhooks stream exists (asked of the server, not remembered)."""
        if self._js is None or self._nc is None or not self._nc.is_connected or not self._streams_ready:
            return False
        try:
            async with asyncio.timeout(_READY_CHECK_TIMEOUT):
                await self._js.stream_info(self.names.webhooks_stream)
        except _NATS_FAILURES:
            return False
        return True

    async def publish(self, delivery: Delivery) -> Stored:
        """Store ``delivery`` under its delivery id (JetStream drops replays); else UnavailableError."""
        nc, js = self._nc, self._js
        # Fail fast while disconnected: nats-py would buffer the message and time out later.
        if nc is None or js is None or not nc.is_connected:
            raise UnavailableError("NATS is not connected", delay=5)
        if not self._streams_ready:
            raise UnavailableError("the JetStream streams are not declared yet", delay=5)
        headers = {**delivery.headers, "Nats-Msg-Id": delivery.delivery_id}
        body = delivery.body
        timeout = self._gateway.publish_timeout_seconds
        try:
            if len(body) + _HEADER_ROOM > nc.max_payload:
                await self._put_payload(delivery)
                headers[HEADER_PAYLOAD_BUCKET] = self.names.payload_bucket
                headers[HEADER_PAYLOAD_OBJECT] = delivery.delivery_id
                body = b""
            # nats-py's own timeout covers the wait for the PubAck, not the write before it, which blocks
            # while the socket towards a frozen server is full: bound the whole call.
            async with asyncio.timeout(timeout):
                ack = await js.publish(
                    self.names.webhook_subject(delivery.event), body, timeout=timeout, headers=headers
                )
        except NoStreamResponseError as exc:
            # Connected, but no stream takes the subject (deleted, or the server lost its store): declare
            # it again in the background so that GitHub's retry of this delivery finds it.
            self._redeclare()
            raise UnavailableError("no JetStream stream stored the delivery") from exc
        except (TimeoutError, nats.errors.TimeoutError) as exc:
            raise UnavailableError(
                f"JetStream did not acknowledge the delivery in time ({type(exc).__name__})"
            ) from exc
        except _NATS_FAILURES as exc:
            raise UnavailableError(f"JetStream did not store the delivery: {describe(exc)}") from exc
        return Stored(stream=ack.stream, sequence=ack.seq, duplicate=bool(ack.duplicate))

    async def _put_payload(self, delivery: Delivery) -> None:
        """Store a large body in the payload bucket under the delivery id, unless a replay already did."""
        store = self._payloads
        assert store is not None
        async with asyncio.timeout(self._gateway.large_publish_timeout_seconds):
            # A delivery id always names the same body: skip rewriting it (and purging the chunks a
            # reader may be fetching) when a previous attempt stored it.
            with contextlib.suppress(ObjectNotFoundError):
                info = await store.get_info(delivery.delivery_id)
                if info.size == len(delivery.body):
                    return
            await store.put(delivery.delivery_id, delivery.body)
