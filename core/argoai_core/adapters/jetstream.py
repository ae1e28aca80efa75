"""NATS JetStream adapter shared by the components: connecting, declaring streams idempotently, and reading
a stored webhook body whether it travelled inline or through the payload Object Store bucket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, ObjectStoreConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, BucketNotFoundError, NotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from argoai_core.errors import PermanentError
from argoai_core.settings import NatsSettings
from argoai_core.streams import HEADER_PAYLOAD_BUCKET, HEADER_PAYLOAD_OBJECT, StreamNames

# A redelivered GitHub webhook keeps its X-GitHub-Delivery; within this window JetStream drops the copy.
DUPLICATE_WINDOW_SECONDS = 15 * 60
# GitHub lets an App redeliver a webhook for 3 days; keep the raw deliveries as long.
WEBHOOK_MAX_AGE_SECONDS = 3 * 24 * 3600

Callback = Callable[[], Awaitable[None]]


async def connect(
    settings: NatsSettings,
    *,
    name: str,
    on_disconnect: Callback | None = None,
    on_reconnect: Callback | None = None,
) -> Client:
    """Connect to NATS and keep reconnecting forever: the process never needs a restart when NATS returns."""

    async def _ignore(*_: object) -> None:
        return None

    return await nats.connect(
        servers=[server.strip() for server in settings.url.split(",")],
        name=name,
        connect_timeout=settings.connect_timeout_seconds,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        ping_interval=5,
        max_outstanding_pings=2,
        disconnected_cb=on_disconnect or _ignore,
        reconnected_cb=on_reconnect or _ignore,
        error_cb=_ignore,
    )


def stream_configs(names: StreamNames) -> list[StreamConfig]:
    """The streams ArgoAI needs, with their retention rules."""
    return [
        StreamConfig(
            name=names.webhooks_stream,
            subjects=[names.webhook_subjects],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            max_age=WEBHOOK_MAX_AGE_SECONDS,
        ),
        StreamConfig(
            name=names.jobs_stream,
            subjects=[names.review_subject],
            storage=StorageType.FILE,
            # Work-queue: a job is removed once a reviewer acknowledges it; one consumer serves every pod.
            retention=RetentionPolicy.WORK_QUEUE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        ),
        StreamConfig(
            name=names.dead_letter_stream,
            subjects=[names.dead_letter_subject],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            max_age=30 * 24 * 3600,
        ),
    ]


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create ``config``'s stream, or bring an existing one to ``config``; safe to call from every pod."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return
        except BadRequestError:
            # Another pod created it between our lookup and our create: fall through to update.
            pass
    await js.update_stream(config)


async def ensure_streams(js: JetStreamContext, names: StreamNames) -> None:
    """Declare every ArgoAI stream, and the Object Store bucket for oversized webhook payloads."""
    for config in stream_configs(names):
        await ensure_stream(js, config)
    await ensure_payload_bucket(js, names)


async def ensure_payload_bucket(js: JetStreamContext, names: StreamNames) -> ObjectStore:
    """The Object Store bucket for webhook payloads larger than one NATS message, created when missing."""
    try:
        return await js.object_store(names.payload_bucket)
    except BucketNotFoundError:
        pass
    try:
        return await js.create_object_store(
            names.payload_bucket,
            # Payloads live as long as the stream messages that point at them.
            config=ObjectStoreConfig(storage=StorageType.FILE, ttl=WEBHOOK_MAX_AGE_SECONDS),
        )
    except BadRequestError:
        # Another pod created it between our lookup and our create.
        return await js.object_store(names.payload_bucket)


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
