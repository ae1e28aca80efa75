"""The hot path: ``POST /webhooks/github`` as a plain ASGI endpoint.

Order matters and is fixed: required headers and content type; the body, read under a size cap (declared
``Content-Length`` first, then counted while streaming, so an oversized body is refused without being read);
the HMAC over the raw bytes against every configured secret; only then a JSON validity check (orjson, no
objects built from it, no pydantic); then ``ping`` is answered, events ArgoAI does not use are acknowledged
and dropped, and the rest is stored in JetStream, answering 202 only after the PubAck.

It bypasses FastAPI's routing and dependency injection on purpose: at thousands of deliveries per second
those layers cost more than the HMAC does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

import orjson
from opentelemetry import trace
from starlette.types import Receive, Scope, Send

from argoai_core.errors import ArgoAIError, RetryableError
from argoai_core.logs import get_logger
from argoai_core.streams import (
    HEADER_DELIVERY,
    HEADER_EVENT,
    HEADER_HOOK_ID,
    HEADER_TARGET_ID,
    HEADER_TARGET_TYPE,
    PUBLISHED_EVENTS,
)
from argoai_core.telemetry import extract_context, inject_headers
from argoai_gateway import metrics as outcomes
from argoai_gateway.errors import (
    DeliveryError,
    InvalidJSONError,
    MissingHeaderError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from argoai_gateway.metrics import GatewayMetrics
from argoai_gateway.ports import Delivery, Publisher
from argoai_gateway.signature import verify_signature
from argoai_gateway.status import error_body, error_headers, status_for
from argoai_gateway.throttle import Throttle

WEBHOOK_PATH = "/webhooks/github"
# Deliveries refused before their signature is checked are counted under this event label: until then the
# header is attacker-controlled and must not create metric series.
UNVERIFIED = "unverified"
_REQUIRED = (
    (b"x-github-event", "X-GitHub-Event"),
    (b"x-github-delivery", "X-GitHub-Delivery"),
    (b"x-hub-signature-256", "X-Hub-Signature-256"),
)
# GitHub's delivery ids are GUIDs; the id becomes the Nats-Msg-Id and, for large bodies, an object name, so
# anything else (too long, spaces, control characters) is refused rather than stored.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# GitHub's delivery headers carried along on the stored message (ASGI gives header names lower-cased).
_CARRIED = (
    (b"x-github-hook-id", HEADER_HOOK_ID),
    (b"x-github-hook-installation-target-id", HEADER_TARGET_ID),
    (b"x-github-hook-installation-target-type", HEADER_TARGET_TYPE),
)

log = get_logger(__name__)

# Deliveries refused because they cannot be stored come in bursts (every webhook while NATS is down): one
# line per this many seconds says why.
UNAVAILABLE_LOG_SECONDS = 10.0


def is_json_media_type(content_type: str) -> bool:
    """Whether ``content_type`` is ``application/json``, with or without parameters such as a charset."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    """The raw request body; PayloadTooLargeError as soon as it is known to exceed ``limit`` bytes."""
    if declared is not None:
        if not declared.isdigit():
            raise DeliveryError("Content-Length is not a number")
        if int(declared) > limit:
            raise PayloadTooLargeError(f"body of {int(declared)} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DeliveryError("client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_json(send: Send, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    """Answer with a JSON ``body``."""
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend((name.lower().encode(), value.encode()) for name, value in headers.items())
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _about(payload: object) -> dict[str, str]:
    """The action and repository of a delivery, for its log line (bounded: the values come from a payload)."""
    if not isinstance(payload, dict):
        return {}
    repository = payload.get("repository")
    found = {
        "action": payload.get("action"),
        "repo": repository.get("full_name") if isinstance(repository, dict) else None,
    }
    return {key: value[:200] for key, value in found.items() if isinstance(value, str)}


class WebhookReceiver:
    """ASGI endpoint receiving GitHub deliveries and storing the verified ones through ``publisher``."""

    def __init__(
        self, publisher: Publisher, secrets: Sequence[bytes], max_body_bytes: int, metrics: GatewayMetrics
    ) -> None:
        self.publisher = publisher
        self.secrets = tuple(secrets)
        self.limit = max_body_bytes
        self.metrics = metrics
        self.tracer = trace.get_tracer("argoai_gateway")
        self._unavailable_log = Throttle(UNAVAILABLE_LOG_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ``POST /webhooks/github``."""
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        delivery_id = headers.get(b"x-github-delivery", b"").decode("latin-1")
        event = label = UNVERIFIED
        try:
            missing = [name for key, name in _REQUIRED if not headers.get(key)]
            if missing:
                raise MissingHeaderError(f"missing header(s): {', '.join(missing)}")
            if _DELIVERY_ID.fullmatch(delivery_id) is None:
                raise DeliveryError("X-GitHub-Delivery is not a delivery id")
            if not is_json_media_type(headers.get(b"content-type", b"").decode("latin-1")):
                raise UnsupportedMediaTypeError("Content-Type must be application/json")
            body = await read_body(receive, headers.get(b"content-length"), self.limit)
            verify_signature(body, headers[b"x-hub-signature-256"].decode("latin-1"), self.secrets)
            event = headers[b"x-github-event"].decode("latin-1")
            # Signed body: the event name may now label metrics (bounded, as headers are not signed).
            label = self.metrics.event_label(event)
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise InvalidJSONError("body is not valid JSON") from None
            self.metrics.payload_bytes.observe(len(body))
            status, answer = await self._dispatch(event, label, delivery_id, body, headers, payload)
        except ArgoAIError as exc:
            status = status_for(exc)
            self.metrics.delivery(label, outcomes.UNAVAILABLE if status >= 500 else outcomes.REJECTED)
            self._log_refusal(exc, status, event, delivery_id)
            await send_json(send, status, error_body(exc), error_headers(exc))
            return
        finally:
            self.metrics.request_seconds.observe(time.perf_counter() - started)
        await send_json(send, status, answer)

    def _log_refusal(self, exc: ArgoAIError, status: int, event: str, delivery_id: str) -> None:
        """One line per refused delivery; while deliveries cannot be stored (NATS down, every webhook a
        503), one line per UNAVAILABLE_LOG_SECONDS saying why and how many were refused meanwhile."""
        if not isinstance(exc, RetryableError):
            log.warning(
                "delivery_refused",
                github_event=event[:64],
                delivery=delivery_id[:64],
                status=status,
                reason=str(exc),
            )
            return
        held = self._unavailable_log.allow()
        if held is None:
            return
        log.warning(
            "delivery_unavailable",
            github_event=event[:64],
            delivery=delivery_id[:64],
            status=status,
            reason=str(exc),
            also_refused_since_last_line=held,
            detail="GitHub records these as failed; argoai redeliver sends them again once NATS stores again",
        )

    async def _dispatch(
        self,
        event: str,
        label: str,
        delivery_id: str,
        body: bytes,
        headers: dict[bytes, bytes],
        payload: object,
    ) -> tuple[int, bytes]:
        """Answer a verified delivery: pong, ignore, or store it."""
        if event == "ping":
            self.metrics.delivery(event, outcomes.PING)
            hook_id = headers.get(b"x-github-hook-id", b"").decode("latin-1")
            log.info("ping", delivery=delivery_id, hook_id=hook_id)
            return 200, orjson.dumps({"status": "pong"})
        if event not in PUBLISHED_EVENTS:
            self.metrics.delivery(label, outcomes.IGNORED)
            log.debug("event_ignored", github_event=event[:64], delivery=delivery_id)
            return 202, orjson.dumps({"status": "ignored", "delivery": delivery_id})
        message_headers = {HEADER_EVENT: event, HEADER_DELIVERY: delivery_id}
        for key, name in _CARRIED:
            value = headers.get(key)
            if value:
                message_headers[name] = value.decode("latin-1")
        parent = headers.get(b"traceparent")
        context = extract_context({"traceparent": parent.decode("latin-1")}) if parent else None
        # The span's context travels in the message headers, so the reviewer's work joins this trace.
        with self.tracer.start_as_current_span(
            "webhook.store", context=context, kind=trace.SpanKind.PRODUCER
        ):
            inject_headers(message_headers)
            published = time.perf_counter()
            stored = await self.publisher.publish(Delivery(event, delivery_id, body, message_headers))
            self.metrics.publish_seconds.observe(time.perf_counter() - published)
        if stored.duplicate:
            self.metrics.delivery(event, outcomes.DUPLICATE)
            log.info("delivery_duplicate", github_event=event, delivery=delivery_id, sequence=stored.sequence)
            return 202, orjson.dumps({"status": "duplicate", "delivery": delivery_id})
        self.metrics.delivery(event, outcomes.ACCEPTED)
        # One line per accepted delivery, from the already parsed (and signed) payload; never the body.
        log.info(
            "delivery_stored",
            github_event=event,
            delivery=delivery_id,
            sequence=stored.sequence,
            **_about(payload),
        )
        return 202, orjson.dumps({"status": "accepted", "delivery": delivery_id})
