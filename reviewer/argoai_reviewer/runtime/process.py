"""The reviewer process: health port, then the intake and review consumers until asked to stop.

What the process runs is assembled by an :data:`Assemble` function (``argoai_reviewer.wiring.assemble`` in
production): it connects NATS and Redis and builds the review pipeline, and the runtime knows the result only
as a :class:`~argoai_reviewer.runtime.delivery.JobQueue` and a
:class:`~argoai_reviewer.runtime.worker.ReviewRunner`.

A stop request is honoured at every moment of the process's life: while the dependencies are still being
connected (NATS unreachable at start-up must not make SIGTERM wait forever), while reviews run (they get the
grace period), and while connections close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from argoai_core.errors import RetryableError
from argoai_core.logs import get_logger
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.delivery import DeliverySource, JobQueue
from argoai_reviewer.runtime.health import HealthServer
from argoai_reviewer.runtime.history import HistoryRecorder
from argoai_reviewer.runtime.intake_consumer import IntakeWorker
from argoai_reviewer.runtime.memory import trim_heaps_every
from argoai_reviewer.runtime.notify_worker import NotificationWorker
from argoai_reviewer.runtime.worker import (
    DeadLetterObserver,
    FailureNotifier,
    OutageWaiter,
    ReviewRunner,
    ReviewWorker,
)
from argoai_reviewer.settings import ReviewerConfig

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Assembly:
    """What the process runs, built once its connections are up."""

    queue: JobQueue
    runner: ReviewRunner
    # Whether the queue's connection is up now (readiness).
    connected: Callable[[], bool]
    # Where reviews stopped by an open circuit breaker wait (None: they are retried like any failure).
    outages: OutageWaiter | None = None
    # Sends notifications to their targets; None when no target is configured (no consumer then).
    notifications: NotificationWorker | None = None
    # Where the audit history goes (None: not recorded, e.g. tests of other parts).
    history: HistoryRecorder | None = None


# Connects the dependencies and builds the pipeline; entered once at start-up, exited at shutdown.
Assemble = Callable[[ReviewerConfig], AbstractAsyncContextManager[Assembly]]


class Reviewer:
    """One reviewer process: health port, the assembled queue and pipeline, the intake and review loops."""

    def __init__(self, config: ReviewerConfig, assemble: Assemble) -> None:
        self._config = config
        self._assemble = assemble
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
        settings = self._config.reviewer
        async with AsyncExitStack() as stack:
            await self.health.start()
            stack.push_async_callback(self.health.stop)
            assembly = await self._unless_stopped(self._assembled(stack))
            if assembly is None:
                log.info("reviewer stopped before it was ready")
                return
            self._connected = assembly.connected
            queue = assembly.queue
            runner = assembly.runner
            intake = IntakeWorker(
                queue,
                github_host=self._config.github.host,
                bot_name=self._config.common.bot_name,
                max_deliver=settings.max_deliver,
                history=assembly.history,
            )
            # The production pipeline also reports final failures on the pull request; a bare runner does not.
            notifier = runner if isinstance(runner, FailureNotifier) else None
            observer = runner if isinstance(runner, DeadLetterObserver) else None
            review = ReviewWorker(
                runner,
                queue,
                settings,
                notifier,
                outages=assembly.outages,
                history=assembly.history,
                observer=observer,
            )
            sources = await self._unless_stopped(self._open_sources(stack, queue))
            if sources is None:
                log.info("reviewer stopped before it was ready")
                return
            intake_source, review_source = sources
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
            if assembly.notifications is not None:
                notify_source = await self._unless_stopped(queue.notify_source(self._config.notify))
                if notify_source is None:
                    log.info("reviewer stopped before it was ready")
                    return
                stack.push_async_callback(notify_source.close)
                self._loops.append(
                    ConsumerLoop(
                        "notify",
                        notify_source,
                        assembly.notifications.handle,
                        concurrency=self._config.notify.concurrency,
                        fetch_timeout=settings.fetch_timeout_seconds,
                        grace_period=settings.grace_period_seconds,
                    )
                )
            stack.push_async_callback(await queue.watch_exhausted(review.handle_exhausted))
            stack.push_async_callback(await queue.watch_superseded(review.supersede))
            tasks = [asyncio.create_task(loop.run(), name=f"consumer:{loop.name}") for loop in self._loops]
            if settings.heap_trim_seconds > 0:
                trimming = asyncio.create_task(trim_heaps_every(settings.heap_trim_seconds), name="heap-trim")
                stack.push_async_callback(_cancelled, trimming)
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

    async def _open_sources(
        self, stack: AsyncExitStack, queue: JobQueue
    ) -> tuple[DeliverySource, DeliverySource]:
        """Declare both consumers and pull from them; the stack closes them after the loops drained."""
        settings = self._config.reviewer
        intake_source = await queue.intake_source(settings)
        stack.push_async_callback(intake_source.close)
        review_source = await queue.review_source(settings)
        stack.push_async_callback(review_source.close)
        return intake_source, review_source

    async def _assembled(self, stack: AsyncExitStack) -> Assembly:
        """Connect and build what the process runs, retrying while a dependency is not ready yet.

        A retryable failure at start-up (a NATS cluster too small to create a missing stream, Redis or NATS
        refusing for a moment) is logged and tried again after its delay, never a crash loop; a stop request
        ends the wait (see :meth:`_unless_stopped`).
        """
        while True:
            try:
                return await stack.enter_async_context(self._assemble(self._config))
            except RetryableError as exc:
                log.warning("reviewer not ready yet; retrying", error=str(exc), delay=exc.delay)
                await asyncio.sleep(max(exc.delay, 1.0))

    async def _unless_stopped(self, step: Awaitable[T]) -> T | None:
        """Await a start-up ``step``, or cancel it and return None as soon as a stop is requested.

        Start-up waits on dependencies that may not answer (NATS retried forever while unreachable): a stop
        request must still end the process within its grace period.
        """
        task = asyncio.ensure_future(step)
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if task.done():
            return task.result()
        await _cancelled(task)
        return None


async def _cancelled(task: asyncio.Future[Any]) -> None:
    """Cancel a task (a start-up step, a background loop) and wait until it has stopped."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
