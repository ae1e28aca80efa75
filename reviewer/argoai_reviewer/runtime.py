"""The reviewer process: connect NATS and Redis, run the intake and review consumers until asked to stop.

The review pipeline is built by a :data:`RunnerFactory` (``argoai_reviewer.wiring.build_runner`` in
production) from the settings and the shared services below; the runtime knows it only as a
:class:`~argoai_reviewer.worker.ReviewRunner`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass

from argoai_core.adapters.jetstream import connect, ensure_streams
from argoai_core.logs import get_logger
from argoai_core.settings import (
    CommonSettings,
    GitHubSettings,
    LLMSettings,
    NatsSettings,
    RedisSettings,
    load,
)
from argoai_core.streams import StreamNames
from argoai_reviewer.adapters.jobs import JetStream, JetStreamJobs
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
)
from argoai_reviewer.consumer import ConsumerLoop
from argoai_reviewer.health import HealthServer
from argoai_reviewer.intake_consumer import IntakeWorker
from argoai_reviewer.settings import ReviewerSettings
from argoai_reviewer.worker import FailureNotifier, ReviewRunner, ReviewWorker

log = get_logger(__name__)

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class ReviewerConfig:
    """Every settings section the reviewer reads, built once at start-up."""

    common: CommonSettings
    github: GitHubSettings
    llm: LLMSettings
    nats: NatsSettings
    redis: RedisSettings
    reviewer: ReviewerSettings

    @classmethod
    def load(cls, **reviewer_overrides: object) -> ReviewerConfig:
        """Read every section from the environment; ConfigError naming the first bad variable."""
        return cls(
            common=load(CommonSettings),
            github=load(GitHubSettings),
            llm=load(LLMSettings),
            nats=load(NatsSettings),
            redis=load(RedisSettings),
            reviewer=load(ReviewerSettings, **reviewer_overrides),
        )


@dataclass(frozen=True)
class RuntimeServices:
    """Connections and shared state the pipeline gets from the runtime (one Redis pool per process)."""

    js: JetStream
    redis: RedisConnection
    lock: RedisReviewLock
    state: RedisReviewState
    history: RedisReviewHistory

    @classmethod
    def build(cls, config: ReviewerConfig, js: JetStream) -> RuntimeServices:
        """The services on ``js`` and on a new Redis pool (closed by the caller: ``redis.aclose()``)."""
        redis = RedisConnection.from_settings(config.redis, timeout=config.reviewer.redis_timeout_seconds)
        settings = config.reviewer
        return cls(
            js=js,
            redis=redis,
            lock=RedisReviewLock(redis),
            state=RedisReviewState(redis, ttl_seconds=settings.state_ttl_days * SECONDS_PER_DAY),
            history=RedisReviewHistory(redis, max_per_repo=settings.history_per_repo),
        )


# Builds the review pipeline; entered once at start-up, exited at shutdown (to close HTTP clients).
RunnerFactory = Callable[[ReviewerConfig, RuntimeServices], AbstractAsyncContextManager[ReviewRunner]]


class Reviewer:
    """One reviewer process: health port, NATS, Redis, the intake and review consumers."""

    def __init__(self, config: ReviewerConfig, runner_factory: RunnerFactory) -> None:
        self._config = config
        self._runner_factory = runner_factory
        self._loops: list[ConsumerLoop] = []
        self._connected: Callable[[], bool] = lambda: False
        self._stop = asyncio.Event()
        self.health = HealthServer(config.reviewer.metrics_host, config.reviewer.metrics_port, self.ready)

    def ready(self) -> bool:
        """Whether this pod takes work: NATS connected and every consumer running, not stopping."""
        return (
            not self._stop.is_set()
            and self._connected()
            and bool(self._loops)
            and all(loop.running for loop in self._loops)
        )

    def stop(self) -> None:
        """Ask :meth:`serve` to stop: no new work; running reviews get the grace period."""
        self._stop.set()

    async def serve(self) -> None:
        """Run until :meth:`stop`, then shut down in order: consumers, pipeline, Redis, NATS, health port."""
        config = self._config
        settings = config.reviewer
        names = StreamNames(config.nats.prefix)
        async with AsyncExitStack() as stack:
            await self.health.start()
            stack.push_async_callback(self.health.stop)
            nc = await connect(config.nats, name="argoai-reviewer")
            # drain() raises while NATS is down (reconnecting): close instead, or shutdown ends in a trace.
            stack.push_async_callback(lambda: nc.drain() if nc.is_connected else nc.close())
            self._connected = lambda: nc.is_connected
            js = nc.jetstream()
            await ensure_streams(js, names)
            services = RuntimeServices.build(config, js)
            stack.push_async_callback(services.redis.aclose)
            runner = await stack.enter_async_context(self._runner_factory(config, services))
            jobs = JetStreamJobs(nc, names)
            intake = IntakeWorker(
                jobs,
                github_host=config.github.host,
                bot_name=config.common.bot_name,
                max_deliver=settings.max_deliver,
            )
            # The production pipeline also reports final failures on the pull request; a bare runner does not.
            notifier = runner if isinstance(runner, FailureNotifier) else None
            review = ReviewWorker(runner, jobs, settings, notifier)
            intake_source = await jobs.intake_source(settings)
            stack.push_async_callback(intake_source.close)
            review_source = await jobs.review_source(settings)
            stack.push_async_callback(review_source.close)
            self._loops = [
                ConsumerLoop(
                    "intake",
                    intake_source,
                    intake.handle,
                    concurrency=settings.intake_concurrency,
                    fetch_timeout=settings.fetch_timeout_seconds,
                    grace_period=settings.grace_period_seconds,
                ),
                ConsumerLoop(
                    "review",
                    review_source,
                    review.handle,
                    concurrency=settings.concurrency,
                    fetch_timeout=settings.fetch_timeout_seconds,
                    grace_period=settings.grace_period_seconds,
                ),
            ]
            stack.push_async_callback(await jobs.watch_exhausted(review.handle_exhausted))
            tasks = [asyncio.create_task(loop.run(), name=f"consumer:{loop.name}") for loop in self._loops]
            log.info("reviewer started", concurrency=settings.concurrency, metrics_port=self.health.port)
            stopped = asyncio.create_task(self._stop.wait())
            await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
            log.info("reviewer stopping", grace_seconds=settings.grace_period_seconds)
            for loop in self._loops:
                loop.stop()
            stopped.cancel()
            # A consumer loop that ended by itself has a bug: surface it after the others drained.
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        log.info("reviewer stopped")
