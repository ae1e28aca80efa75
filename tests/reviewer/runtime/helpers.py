"""Helpers of the reviewer runtime tests: a JetStream with ArgoAI's streams, a recording review runner."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_reviewer.adapters.jobs import JetStreamJobs
from argoai_reviewer.outcome import Heartbeat, ReviewOutcome
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.worker import ReviewWorker
from argoai_reviewer.settings import ReviewerSettings

WEBHOOKS = Path(__file__).parent / "webhooks"

Behaviour = Callable[[ReviewJob, int, Heartbeat], Awaitable[ReviewOutcome]]


def load_webhook(name: str) -> dict[str, Any]:
    """A real GitHub payload copied into this folder (these carry an ``installation``, as App webhooks do)."""
    data: dict[str, Any] = json.loads((WEBHOOKS / f"{name}.json").read_text())
    return data


def make_job(number: int, *, head: str | None = None) -> ReviewJob:
    """A review job for PR ``number`` of a test repository."""
    return ReviewJob(
        delivery_id=f"delivery-{number}",
        installation_id=7,
        repo=RepoRef(host="api.github.com", owner="octo", name="repo"),
        number=number,
        action="opened",
        head_sha=head or f"{number:040x}",
        base_sha="b" * 40,
        base_ref="main",
    )


async def post(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
    """Default behaviour: the review is posted at once."""
    return ReviewOutcome.posted(1)


@dataclass
class RecordingRunner:
    """A ReviewRunner running ``behaviour``; records each call, how it ended, and how many ran at once."""

    behaviour: Behaviour = post
    calls: list[tuple[int, int]] = field(default_factory=list)  # (PR number, attempt of that PR)
    finished: list[int] = field(default_factory=list)  # returned or raised
    cancelled: list[int] = field(default_factory=list)
    call_times: dict[int, list[float]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    async def run(self, job: ReviewJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Record the call, run the behaviour, record that it finished."""
        attempt = sum(1 for number, _ in self.calls if number == job.number) + 1
        self.calls.append((job.number, attempt))
        self.call_times.setdefault(job.number, []).append(time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            outcome = await self.behaviour(job, attempt, heartbeat)
        except BaseException as exc:
            # A cancelled review (shutdown) did not finish; one that raised did.
            (self.cancelled if isinstance(exc, asyncio.CancelledError) else self.finished).append(job.number)
            raise
        finally:
            self.in_flight -= 1
        self.finished.append(job.number)
        return outcome

    def numbers(self) -> list[int]:
        """PR numbers of every call, in order."""
        return [number for number, _ in self.calls]


@dataclass
class Stream:
    """A NATS connection with ArgoAI's streams declared under a test-unique prefix."""

    settings: NatsSettings
    nc: Client
    js: JetStreamContext
    names: StreamNames
    jobs: JetStreamJobs

    async def publish_jobs(self, *jobs: ReviewJob) -> None:
        """Publish review jobs as the intake does."""
        for job in jobs:
            await self.jobs.publish_job(job.model_dump_json().encode(), key=job.key, headers={})

    async def messages(self, stream: str) -> int:
        """Messages stored in ``stream`` now."""
        info = await self.js.stream_info(stream)
        return info.state.messages

    async def stored(self, stream: str) -> list[tuple[dict[str, str], bytes]]:
        """Headers and body of every message in ``stream``."""
        info = await self.js.stream_info(stream)
        if info.state.messages == 0:
            return []
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await self.js.get_msg(stream, seq)
            except NotFoundError:
                continue
            found.append((dict(msg.headers or {}), msg.data or b""))
        return found

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead letter, decoded."""
        return [json.loads(body) for _, body in await self.stored(self.names.dead_letter_stream)]

    async def connect_another(self) -> JetStreamJobs:
        """A second connection, as another reviewer pod would have (closed with the fixture)."""
        nc = await nats.connect(self.settings.url)
        self._others.append(nc)
        return JetStreamJobs(nc, self.names)

    _others: list[Client] = field(default_factory=list)


def fast_settings(**overrides: Any) -> ReviewerSettings:
    """Reviewer settings with short timings, so that redeliveries happen within a test."""
    values: dict[str, Any] = {
        "concurrency": 4,
        "llm_concurrency": 4,
        "ack_wait_seconds": 1.0,
        "max_deliver": 3,
        "fetch_timeout_seconds": 0.2,
        "grace_period_seconds": 2.0,
        "max_review_seconds": 30.0,
    }
    values.update(overrides)
    return ReviewerSettings(**values)


async def review_loop(
    jobs: JetStreamJobs, runner: RecordingRunner, settings: ReviewerSettings
) -> ConsumerLoop:
    """A review consumer loop as the reviewer runs it."""
    return ConsumerLoop(
        "review",
        await jobs.review_source(settings),
        ReviewWorker(runner, jobs, settings).handle,
        concurrency=settings.concurrency,
        fetch_timeout=settings.fetch_timeout_seconds,
        grace_period=settings.grace_period_seconds,
    )


@asynccontextmanager
async def running(*loops: ConsumerLoop) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run consumer loops for the duration of the block, then stop them and wait for their drain."""
    tasks = [asyncio.create_task(loop.run()) for loop in loops]
    try:
        yield tasks
    finally:
        for loop in loops:
            loop.stop()
        await asyncio.gather(*tasks)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until ``check()`` holds; fail the test when it does not within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)
