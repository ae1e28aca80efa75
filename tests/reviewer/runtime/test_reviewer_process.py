"""The whole reviewer process on real NATS and Redis, with a recording runner in place of the pipeline:
webhook in, review run, health and metrics served, graceful stop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import nats

from argoai_core.models.job import ReviewJob
from argoai_core.settings import CommonSettings, GitHubSettings, LLMSettings, NatsSettings, RedisSettings
from argoai_core.streams import HEADER_DELIVERY, HEADER_EVENT, StreamNames
from argoai_reviewer.adapters.redis_state import RedisConnection, RedisReviewState
from argoai_reviewer.outcome import Heartbeat, ReviewOutcome
from argoai_reviewer.runtime.process import Reviewer
from argoai_reviewer.runtime.worker import ReviewRunner
from argoai_reviewer.settings import ReviewerConfig
from argoai_reviewer.wiring import RuntimeServices, assembler
from reviewer.runtime.helpers import RecordingRunner, eventually, fast_settings, load_webhook


def config(nats: NatsSettings, redis: RedisSettings) -> ReviewerConfig:
    return ReviewerConfig(
        common=CommonSettings(),
        github=GitHubSettings(api_url="https://ghe.example.com/api/v3"),
        llm=LLMSettings(),
        nats=nats,
        redis=redis,
        reviewer=fast_settings(metrics_host="127.0.0.1", metrics_port=0, grace_period_seconds=10.0),
    )


async def test_reviewer_turns_a_webhook_into_a_review_and_stops_gracefully(
    nats_settings: NatsSettings, redis_settings: RedisSettings
) -> None:
    """Webhook → job → pipeline (with the runtime's Redis state) → ack; /readyz turns 503 while draining,
    the running review still finishes, and the pipeline is closed after it."""
    started, release = asyncio.Event(), asyncio.Event()
    services_seen: list[RuntimeServices] = []
    closed: list[bool] = []

    async def review(job: ReviewJob, _: int, __: Heartbeat) -> ReviewOutcome:
        started.set()
        await release.wait()
        await services_seen[0].state.mark_reviewed(job.pr_key, job.head_sha, 42)
        return ReviewOutcome.posted(42)

    runner = RecordingRunner(review)

    @asynccontextmanager
    async def factory(_: ReviewerConfig, services: RuntimeServices) -> AsyncIterator[ReviewRunner]:
        services_seen.append(services)
        yield runner
        closed.append(True)

    reviewer = Reviewer(config(nats_settings, redis_settings), assembler(factory))
    serving = asyncio.create_task(reviewer.serve())
    payload = load_webhook("pull_request.opened")
    async with httpx.AsyncClient(timeout=5) as http:

        async def ready() -> bool:
            if serving.done():
                serving.result()
            return (
                reviewer.health._server.started and (await get(http, reviewer, "/readyz")).status_code == 200
            )

        await eventually(ready)
        names = StreamNames(nats_settings.prefix)
        await services_seen[0].js.publish(
            names.webhook_subject("pull_request"),
            json.dumps(payload).encode(),
            headers={HEADER_EVENT: "pull_request", HEADER_DELIVERY: "d-1"},
        )
        await asyncio.wait_for(started.wait(), 10)

        reviewer.stop()
        draining_ready = await get(http, reviewer, "/readyz")
        draining_health = await get(http, reviewer, "/healthz")
        metrics = (await get(http, reviewer, "/metrics")).text
        release.set()
        await asyncio.wait_for(serving, 15)

    assert draining_ready.status_code == 503
    assert draining_health.status_code == 200
    assert 'argoai_intake_webhooks_total{result="job"}' in metrics
    assert "argoai_reviews_in_flight 1.0" in metrics
    assert runner.calls == [(payload["number"], 1)]
    assert runner.finished == [payload["number"]]
    assert closed == [True]
    # What the process left behind, read with fresh connections: the job is gone, the state is in Redis.
    nc = await nats.connect(nats_settings.url)
    try:
        info = await nc.jetstream().stream_info(StreamNames(nats_settings.prefix).jobs_stream)
        assert info.state.messages == 0
    finally:
        await nc.close()
    connection = RedisConnection.from_settings(redis_settings)
    try:
        pr_key = f"ghe.example.com/Codertocat/Hello-World#{payload['number']}"
        head = await RedisReviewState(connection, ttl_seconds=60).last_reviewed_head(pr_key)
        assert head == payload["pull_request"]["head"]["sha"]
    finally:
        await connection.aclose()


async def get(http: httpx.AsyncClient, reviewer: Reviewer, path: str) -> httpx.Response:
    return await http.get(f"http://127.0.0.1:{reviewer.health.port}{path}")
