"""POST /webhooks/github against the real nats-server: what is answered, and what the stream then holds."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import httpx
import pytest
from nats.aio.client import Client

from argoai_core.adapters.jetstream import load_body
from argoai_core.streams import HEADER_PAYLOAD_BUCKET, HEADER_PAYLOAD_OBJECT
from argoai_gateway.metrics import GatewayMetrics
from support.webhooks import delivery_headers, load_payload

if TYPE_CHECKING:
    from conftest import Stream

MB = 1024 * 1024
SECRET = "gateway-test-secret-6f1c2d"
OLD_SECRET = "gateway-test-previous-secret-0a9b"
URL = "/webhooks/github"


@pytest.fixture
def webhook_secrets() -> list[str]:
    """The current secret and the previous one: a rotation in progress."""
    return [SECRET, OLD_SECRET]


def pull_request_body() -> bytes:
    """A real pull_request.opened payload, as GitHub sends it (compact JSON)."""
    return json.dumps(load_payload("pull_request.opened"), separators=(",", ":")).encode()


async def post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await client.post(URL, content=body, headers=headers)


# --- accepted deliveries -------------------------------------------------------------------------------


async def test_signed_pull_request_is_stored_once_with_subject_id_and_headers(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """A signed pull_request gets 202 and is stored once, on its subject, Nats-Msg-Id = delivery id."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)
    headers["X-GitHub-Hook-Installation-Target-ID"] = "987"
    headers["X-GitHub-Hook-Installation-Target-Type"] = "integration"

    response = await post(client, body, headers)

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "delivery": headers["X-GitHub-Delivery"]}
    [message] = await stream.messages()
    assert message.subject == stream.names.webhook_subject("pull_request")
    assert message.data == body
    assert message.headers is not None
    assert message.headers["Nats-Msg-Id"] == headers["X-GitHub-Delivery"]
    assert message.headers["X-GitHub-Delivery"] == headers["X-GitHub-Delivery"]
    assert message.headers["X-GitHub-Event"] == "pull_request"
    assert message.headers["X-GitHub-Hook-ID"] == "123456"
    assert message.headers["X-GitHub-Hook-Installation-Target-ID"] == "987"
    assert message.headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"


async def test_every_published_event_goes_to_its_own_subject(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """issue_comment and installation deliveries land on subjects named after their event."""
    for event, fixture in (
        ("issue_comment", "issue_comment.created"),
        ("installation", "installation.created"),
    ):
        body = json.dumps(load_payload(fixture)).encode()
        assert (await post(client, body, delivery_headers(event, body, SECRET))).status_code == 202
    subjects = [message.subject for message in await stream.messages()]
    assert subjects == [
        stream.names.webhook_subject("issue_comment"),
        stream.names.webhook_subject("installation"),
    ]


async def test_trace_context_travels_with_the_message(client: httpx.AsyncClient, stream: Stream) -> None:
    """An incoming W3C traceparent continues in the stored message's traceparent (same trace id)."""
    trace_id = uuid.uuid4().hex
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)
    headers["traceparent"] = f"00-{trace_id}-{'ab' * 8}-01"

    assert (await post(client, body, headers)).status_code == 202

    [message] = await stream.messages()
    assert message.headers is not None
    version, stored_trace_id, _span, _flags = message.headers["traceparent"].split("-")
    assert (version, stored_trace_id) == ("00", trace_id)


async def test_previous_secret_is_accepted_during_rotation(client: httpx.AsyncClient, stream: Stream) -> None:
    """A delivery signed with the second configured secret (rotation) is accepted and stored."""
    body = pull_request_body()
    response = await post(client, body, delivery_headers("pull_request", body, OLD_SECRET))
    assert response.status_code == 202
    assert len(await stream.messages()) == 1


async def test_charset_parameter_on_json_content_type_is_accepted(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """Content-Type: application/json; charset=utf-8 is JSON too."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET) | {
        "Content-Type": "application/json; charset=utf-8"
    }
    assert (await post(client, body, headers)).status_code == 202
    assert len(await stream.messages()) == 1


async def test_replayed_delivery_is_acknowledged_but_stored_once(
    client: httpx.AsyncClient, stream: Stream, metrics: GatewayMetrics
) -> None:
    """The same delivery sent twice gets 202 twice, is stored once, and is counted as a duplicate."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)

    first = await post(client, body, headers)
    second = await post(client, body, headers)

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["status"] == "duplicate"
    assert len(await stream.messages()) == 1
    assert metrics.count("pull_request", "accepted") == 1
    assert metrics.count("pull_request", "duplicate") == 1


# --- answered but not stored ---------------------------------------------------------------------------


async def test_ping_is_answered_200_and_not_stored(client: httpx.AsyncClient, stream: Stream) -> None:
    """GitHub's ping gets 200 and nothing is stored."""
    body = json.dumps(load_payload("ping.event")).encode()
    response = await post(client, body, delivery_headers("ping", body, SECRET))
    assert response.status_code == 200
    assert await stream.messages() == []


async def test_unknown_event_is_acknowledged_counted_and_not_stored(
    client: httpx.AsyncClient, stream: Stream, metrics: GatewayMetrics
) -> None:
    """An event ArgoAI does not use (star) gets 202, is counted as ignored, and is not stored."""
    body = b'{"action":"created","starred_at":"2026-01-01T00:00:00Z"}'
    response = await post(client, body, delivery_headers("star", body, SECRET))
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    assert metrics.count("star", "ignored") == 1
    assert await stream.messages() == []


# --- refused -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256"])
async def test_missing_required_header_is_400_and_nothing_is_stored(
    client: httpx.AsyncClient, stream: Stream, header: str
) -> None:
    """Without X-GitHub-Event, X-GitHub-Delivery or X-Hub-Signature-256 the answer is 400 naming it."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)
    del headers[header]
    response = await post(client, body, headers)
    assert response.status_code == 400
    assert response.json()["error"] == "missing_header"
    assert header in response.json()["message"]
    assert await stream.messages() == []


@pytest.mark.parametrize("delivery", ["has space", "x" * 200, "-leading-dash", "dé"])
async def test_malformed_delivery_id_is_400_and_nothing_is_stored(
    client: httpx.AsyncClient, stream: Stream, delivery: str
) -> None:
    """An X-GitHub-Delivery that is not an id (spaces, 200 chars, …) is refused with 400."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET) | {"X-GitHub-Delivery": delivery}
    response = await client.post(URL, content=body, headers={k: v.encode() for k, v in headers.items()})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_delivery"
    assert await stream.messages() == []


async def test_forged_signature_is_401_and_nothing_is_stored(
    client: httpx.AsyncClient, stream: Stream, metrics: GatewayMetrics
) -> None:
    """A body signed with a wrong secret gets 401, is not stored, and is counted as rejected (unverified)."""
    body = pull_request_body()
    response = await post(client, body, delivery_headers("pull_request", body, "not-the-secret"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert metrics.count("unverified", "rejected") == 1
    assert await stream.messages() == []


async def test_tampered_body_is_401_and_nothing_is_stored(client: httpx.AsyncClient, stream: Stream) -> None:
    """A correctly signed body changed in transit gets 401."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)
    response = await post(client, body.replace(b'"opened"', b'"closed"', 1), headers)
    assert response.status_code == 401
    assert await stream.messages() == []


async def test_sha1_signature_is_401_and_nothing_is_stored(client: httpx.AsyncClient, stream: Stream) -> None:
    """A correct legacy sha1= signature in X-Hub-Signature-256 gets 401."""
    import hashlib
    import hmac

    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)
    headers["X-Hub-Signature-256"] = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    response = await post(client, body, headers)
    assert response.status_code == 401
    assert await stream.messages() == []


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "", "application/jsonx"]
)
async def test_non_json_content_type_is_415_and_nothing_is_stored(
    client: httpx.AsyncClient, stream: Stream, content_type: str
) -> None:
    """A body not declared as application/json gets 415 (GitHub's form encoding included)."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET)
    headers["Content-Type"] = content_type
    response = await post(client, body, headers)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert await stream.messages() == []


@pytest.mark.parametrize("cut", [1, 100])
async def test_truncated_json_is_400_and_nothing_is_stored(
    client: httpx.AsyncClient, stream: Stream, cut: int
) -> None:
    """Correctly signed but truncated JSON gets 400 invalid_json."""
    body = pull_request_body()[:-cut]
    response = await post(client, body, delivery_headers("pull_request", body, SECRET))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert await stream.messages() == []


class CountingBody:
    """A request body of ``total`` bytes sent in 1 MB chunks, remembering how many the server pulled."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            chunk = b" " * min(MB, self.total - self.sent)
            self.sent += len(chunk)
            yield chunk


async def test_oversized_body_with_content_length_is_413_before_reading(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """A declared Content-Length over 25 MB gets 413 without the body being read, and nothing is stored."""
    body = CountingBody(26 * MB)
    headers = delivery_headers("pull_request", b"", SECRET) | {"Content-Length": str(body.total)}
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert body.sent <= MB  # at most the first chunk the transport hands over unasked
    assert await stream.messages() == []


async def test_oversized_chunked_body_is_413_without_reading_past_the_cap(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """A chunked body (no Content-Length) past 25 MB gets 413 once the cap is crossed, not at its end."""
    body = CountingBody(40 * MB)
    headers = delivery_headers("pull_request", b"", SECRET)
    response = await client.post(URL, content=body, headers=headers)
    assert "content-length" not in {name.lower() for name in response.request.headers}
    assert response.status_code == 413
    assert 25 * MB < body.sent <= 26 * MB
    assert await stream.messages() == []


async def test_body_of_exactly_25_mb_is_not_refused_for_size(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """A body of exactly 25 MB is within the limit (here refused later, as its signature is forged)."""
    response = await client.post(
        URL, content=CountingBody(25 * MB), headers=delivery_headers("pull_request", b"", "forged")
    )
    assert response.status_code == 401


async def test_get_on_webhook_path_is_405(client: httpx.AsyncClient) -> None:
    """Only POST is allowed on the webhook path."""
    response = await client.get(URL)
    assert response.status_code == 405


# --- large payloads ------------------------------------------------------------------------------------


def large_pull_request_body(size: int) -> bytes:
    """A real pull_request payload padded (in the PR description) to about ``size`` bytes."""
    payload = load_payload("pull_request.opened")
    payload["pull_request"]["body"] = "x" * size
    return json.dumps(payload, separators=(",", ":")).encode()


async def test_body_larger_than_a_nats_message_goes_through_the_object_store(
    client: httpx.AsyncClient, stream: Stream, inspector: Client
) -> None:
    """A 3 MB delivery (NATS max_payload is 1 MB) is stored by reference and load_body returns it intact."""
    body = large_pull_request_body(3 * MB)
    headers = delivery_headers("pull_request", body, SECRET)

    response = await post(client, body, headers)

    assert response.status_code == 202
    [message] = await stream.messages()
    assert message.data in (b"", None)
    assert message.headers is not None
    assert message.headers[HEADER_PAYLOAD_BUCKET] == stream.names.payload_bucket
    assert message.headers[HEADER_PAYLOAD_OBJECT] == headers["X-GitHub-Delivery"]
    assert message.headers["Nats-Msg-Id"] == headers["X-GitHub-Delivery"]

    # Read it back the way a consumer does: as a delivered JetStream message.
    subscription = await stream.js.subscribe(stream.names.webhook_subjects, ordered_consumer=True)
    delivered = await subscription.next_msg(timeout=5)
    await subscription.unsubscribe()
    assert await load_body(inspector.jetstream(), delivered) == body


async def test_small_body_is_read_back_inline_by_load_body(
    client: httpx.AsyncClient, stream: Stream, inspector: Client
) -> None:
    """load_body returns an inline body unchanged."""
    body = pull_request_body()
    assert (await post(client, body, delivery_headers("pull_request", body, SECRET))).status_code == 202
    subscription = await stream.js.subscribe(stream.names.webhook_subjects, ordered_consumer=True)
    delivered = await subscription.next_msg(timeout=5)
    await subscription.unsubscribe()
    assert await load_body(inspector.jetstream(), delivered) == body


async def test_replayed_large_delivery_is_stored_once(client: httpx.AsyncClient, stream: Stream) -> None:
    """A large delivery sent twice is one stream message and one stored object."""
    body = large_pull_request_body(2 * MB)
    headers = delivery_headers("pull_request", body, SECRET)
    assert (await post(client, body, headers)).status_code == 202
    second = await post(client, body, headers)
    assert second.status_code == 202
    assert second.json()["status"] == "duplicate"
    assert len(await stream.messages()) == 1
    store = await stream.js.object_store(stream.names.payload_bucket)
    assert [info.name for info in await store.list()] == [headers["X-GitHub-Delivery"]]


# --- health, readiness, metrics ------------------------------------------------------------------------


async def test_healthz_and_readyz_when_connected(client: httpx.AsyncClient) -> None:
    """healthz is 200; readyz is 200 when NATS is connected and the stream exists."""
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


async def test_deleted_stream_gives_503_then_is_declared_again(
    client: httpx.AsyncClient, stream: Stream
) -> None:
    """Webhooks stream deleted: readyz and deliveries 503; the gateway re-creates it and recovers."""
    await stream.js.delete_stream(stream.names.webhooks_stream)
    assert (await client.get("/readyz")).status_code == 503
    body = pull_request_body()
    refused = await post(client, body, delivery_headers("pull_request", body, SECRET))
    assert refused.status_code == 503

    async with asyncio.timeout(10):
        while (await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110 - polling the app under test
            await asyncio.sleep(0.05)
    retried = await post(client, body, refused.request.headers)
    assert retried.status_code == 202
    assert [m.headers["Nats-Msg-Id"] for m in await stream.messages() if m.headers] == [
        refused.request.headers["X-GitHub-Delivery"]
    ]


async def test_metrics_exposes_deliveries_and_histograms(client: httpx.AsyncClient) -> None:
    """/metrics is Prometheus text with deliveries by event/outcome and the latency and size histograms."""
    body = pull_request_body()
    await post(client, body, delivery_headers("pull_request", body, SECRET))
    text = (await client.get("/metrics")).text
    assert 'argoai_gateway_deliveries_total{event="pull_request",outcome="accepted"} 1.0' in text
    assert "argoai_gateway_request_seconds_bucket" in text
    assert "argoai_gateway_publish_seconds_count 1.0" in text
    assert f"argoai_gateway_payload_bytes_sum {float(len(body))}" in text


async def test_invalid_content_length_is_400(client: httpx.AsyncClient, stream: Stream) -> None:
    """A Content-Length that is not a number is refused with 400."""
    body = pull_request_body()
    headers = delivery_headers("pull_request", body, SECRET) | {"Content-Length": "12abc"}
    response = await client.post(URL, content=CountingBody(10), headers=headers)
    assert response.status_code == 400
    assert await stream.messages() == []


async def test_signature_is_checked_before_json_is_parsed(client: httpx.AsyncClient) -> None:
    """Invalid JSON with a forged signature is 401 (not 400): nothing unverified is parsed."""
    body = b'{"truncated": '
    response = await post(client, body, delivery_headers("pull_request", body, "forged"))
    assert response.status_code == 401
