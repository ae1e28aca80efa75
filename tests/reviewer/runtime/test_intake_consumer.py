"""The intake consumer end to end on a real nats-server: webhooks stored by the gateway's publisher become
exactly one review job each (duplicates collapse), skips and malformed payloads are settled for good."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from argoai_core.models.job import ReviewJob
from argoai_core.streams import HEADER_DELIVERY, HEADER_EVENT
from argoai_gateway.adapters.publisher import JetStreamPublisher
from argoai_gateway.ports import Delivery
from argoai_gateway.settings import GatewaySettings
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.intake_consumer import IntakeWorker
from reviewer.runtime.helpers import Stream, eventually, fast_settings, load_webhook, running
from support.webhooks import load_payload

HOST = "api.github.com"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SETTINGS = fast_settings()


@pytest.fixture
async def gateway(stream: Stream) -> AsyncIterator[JetStreamPublisher]:
    """The gateway's own JetStream publisher, storing deliveries as the gateway does."""
    publisher = JetStreamPublisher(stream.settings, GatewaySettings())
    await publisher.start()
    await asyncio.wait_for(publisher.wait_declared(), 10)
    yield publisher
    await publisher.close()


async def intake_loop(stream: Stream) -> ConsumerLoop:
    worker = IntakeWorker(stream.jobs, github_host=HOST, bot_name="argoai", max_deliver=SETTINGS.max_deliver)
    return ConsumerLoop(
        "intake",
        await stream.jobs.intake_source(SETTINGS),
        worker.handle,
        concurrency=SETTINGS.intake_concurrency,
        fetch_timeout=SETTINGS.fetch_timeout_seconds,
        grace_period=SETTINGS.grace_period_seconds,
    )


def delivery(
    payload: dict[str, Any] | bytes, *, event: str = "pull_request", delivery_id: str = ""
) -> Delivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    delivery_id = delivery_id or str(uuid.uuid4())
    headers = {
        HEADER_EVENT: event,
        HEADER_DELIVERY: delivery_id,
        "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    }
    return Delivery(event, delivery_id, body, headers)


async def jobs_in_stream(stream: Stream) -> list[tuple[dict[str, str], ReviewJob]]:
    return [
        (headers, ReviewJob.model_validate_json(body))
        for headers, body in await stream.stored(stream.names.jobs_stream)
    ]


async def intake_settled(stream: Stream, count: int) -> bool:
    """Every one of ``count`` stored webhooks was delivered to the intake and settled."""
    info = await stream.js.consumer_info(stream.names.webhooks_stream, stream.names.intake_consumer)
    return info.delivered.stream_seq >= count and info.num_ack_pending == 0 and info.num_pending == 0


async def test_opened_webhook_becomes_one_job_carrying_the_trace(
    stream: Stream, gateway: JetStreamPublisher
) -> None:
    """A stored pull_request.opened webhook becomes one job keyed by PR and head, in the webhook's trace."""
    payload = load_webhook("pull_request.opened")
    loop = await intake_loop(stream)
    await gateway.publish(delivery(payload, delivery_id="d-opened"))
    async with running(loop):
        await eventually(lambda: intake_settled(stream, 1))
    ((headers, job),) = await jobs_in_stream(stream)
    assert job.delivery_id == "d-opened"
    assert job.head_sha == payload["pull_request"]["head"]["sha"]
    assert headers["Nats-Msg-Id"] == job.key
    assert headers["traceparent"].split("-")[1] == TRACE_ID


async def test_the_same_webhook_stored_twice_makes_one_job(stream: Stream) -> None:
    """A webhook stored twice (redelivered after the dedup window) yields one job; both are acked."""
    body = json.dumps(load_webhook("pull_request.opened")).encode()
    headers = {HEADER_EVENT: "pull_request", HEADER_DELIVERY: "d-same"}
    for _ in range(2):
        await stream.js.publish(stream.names.webhook_subject("pull_request"), body, headers=headers)
    loop = await intake_loop(stream)
    async with running(loop):
        await eventually(lambda: intake_settled(stream, 2))
    assert len(await jobs_in_stream(stream)) == 1


async def test_two_synchronize_deliveries_for_one_head_make_one_job(
    stream: Stream, gateway: JetStreamPublisher
) -> None:
    """GitHub may send two synchronize events for one push: one job, from the first delivery."""
    payload = load_payload("pull_request.synchronize")
    loop = await intake_loop(stream)
    await gateway.publish(delivery(payload, delivery_id="sync-1"))
    await gateway.publish(delivery(payload, delivery_id="sync-2"))
    async with running(loop):
        await eventually(lambda: intake_settled(stream, 2))
    ((_, job),) = await jobs_in_stream(stream)
    assert job.action == "synchronize"
    assert job.before_sha == payload["before"]


async def test_a_new_head_makes_a_new_job(stream: Stream, gateway: JetStreamPublisher) -> None:
    """A synchronize to another head is another review: two heads, two jobs."""
    first = load_payload("pull_request.synchronize")
    second = copy.deepcopy(first)
    second["pull_request"]["head"]["sha"] = "1" * 40
    loop = await intake_loop(stream)
    await gateway.publish(delivery(first))
    await gateway.publish(delivery(second))
    async with running(loop):
        await eventually(lambda: intake_settled(stream, 2))
    heads = sorted(job.head_sha for _, job in await jobs_in_stream(stream))
    assert heads == sorted([first["pull_request"]["head"]["sha"], "1" * 40])


async def test_skipped_and_malformed_webhooks_are_settled_without_jobs(
    stream: Stream, gateway: JetStreamPublisher
) -> None:
    """Closed, labeled, non-JSON and malformed deliveries make no job and never come back; later ones flow."""
    broken = copy.deepcopy(load_webhook("pull_request.opened"))
    del broken["pull_request"]["head"]
    loop = await intake_loop(stream)
    await gateway.publish(delivery(load_payload("pull_request.closed")))
    await gateway.publish(delivery(load_payload("pull_request.labeled")))
    await gateway.publish(delivery(b"{not json"))
    await gateway.publish(delivery(broken))
    await gateway.publish(delivery(load_webhook("pull_request.ready_for_review")))
    async with running(loop):
        await eventually(lambda: intake_settled(stream, 5))
        await asyncio.sleep(SETTINGS.ack_wait_seconds + 0.3)  # nothing is redelivered after the ack wait
    info = await stream.js.consumer_info(stream.names.webhooks_stream, stream.names.intake_consumer)
    assert info.num_redelivered == 0
    assert info.num_ack_pending == 0
    ((_, job),) = await jobs_in_stream(stream)
    assert job.action == "ready_for_review"


async def test_webhook_too_large_for_one_message_is_read_from_the_object_store(
    stream: Stream, gateway: JetStreamPublisher
) -> None:
    """A payload over NATS's message limit (stored by the gateway in the Object Store) still becomes a job."""
    payload = copy.deepcopy(load_webhook("pull_request.opened"))
    payload["repository"]["description"] = "x" * 1_500_000
    loop = await intake_loop(stream)
    await gateway.publish(delivery(payload, delivery_id="d-large"))
    ((headers, _),) = await stream.stored(stream.names.webhooks_stream)
    assert "ArgoAI-Payload-Object" in headers  # the gateway did take the Object Store path
    async with running(loop):
        await eventually(lambda: intake_settled(stream, 1))
    ((_, job),) = await jobs_in_stream(stream)
    assert job.delivery_id == "d-large"
