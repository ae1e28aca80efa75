"""The review consumer on a real nats-server and Redis: a review stopped by an open circuit breaker holds its
delivery (no redelivery, no dead letter) and runs again once the breaker closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from argoai_core.errors import CircuitOpenError
from argoai_core.errors import UnavailableError as TimeoutError_
from argoai_core.models.job import ReviewJob
from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.circuit_redis import RedisBreakerStore
from argoai_reviewer.adapters.redis_state import RedisConnection
from argoai_reviewer.outcome import Heartbeat, ReviewOutcome
from argoai_reviewer.resilience.breaker import BreakerOptions, Breakers
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.worker import ReviewWorker
from reviewer.runtime.helpers import RecordingRunner, Stream, eventually, fast_settings, make_job, running

LLM = "llm:openai:http://llm.test/v1"


@pytest.fixture
async def redis(redis_settings: RedisSettings) -> AsyncIterator[RedisConnection]:
    """A connection to the real Redis with this test's key prefix."""
    connection = RedisConnection.from_settings(redis_settings)
    yield connection
    await connection.aclose()


async def test_a_review_waits_for_an_open_breaker_without_spending_deliveries(
    stream: Stream, redis: RedisConnection
) -> None:
    """A review stopped by an open breaker keeps its delivery (no redelivery, no dead letter, even past
    max_deliver × ack_wait) and is run again once the breaker closes; it is then acked."""
    options = BreakerOptions(failures=1, probe=3600.0, poll=0.05)
    breakers = Breakers(RedisBreakerStore(redis), options)
    circuit = breakers.circuit(LLM)
    opened = await circuit.failed(CircuitOpenError("down", circuit=LLM))
    assert not (await circuit.state(fresh=True)).open  # an already-refused call is no new failure
    opened = await circuit.failed(TimeoutError_("LLM timed out"))
    assert isinstance(opened, CircuitOpenError)

    async def behave(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        await circuit.before_call()
        return ReviewOutcome.posted(1)

    runner = RecordingRunner(behave)
    settings = fast_settings(ack_wait_seconds=0.5, max_deliver=2)
    worker = ReviewWorker(runner, stream.jobs, settings, outages=breakers)
    loop = ConsumerLoop(
        "review",
        await stream.jobs.review_source(settings),
        worker.handle,
        concurrency=settings.concurrency,
        fetch_timeout=settings.fetch_timeout_seconds,
        grace_period=settings.grace_period_seconds,
    )
    await stream.publish_jobs(make_job(1))
    async with running(loop):
        await eventually(lambda: _called(runner, 1))
        await asyncio.sleep(2.0)  # four ack waits: a naked or unheld job would have been redelivered
        assert runner.calls == [(1, 1)]
        await RedisBreakerStore(redis).succeeded(LLM)
        await eventually(lambda: _called(runner, 2))
        await eventually(lambda: _empty(stream))
    assert runner.calls == [(1, 1), (1, 2)]
    assert await stream.dead_letters() == []


async def _called(runner: RecordingRunner, times: int) -> bool:
    return len(runner.calls) >= times


async def _empty(stream: Stream) -> bool:
    return await stream.messages(stream.names.jobs_stream) == 0
