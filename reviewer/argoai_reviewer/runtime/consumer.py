"""A bounded consumer loop: pull only as many deliveries as there are free slots, run each as a task.

On :meth:`ConsumerLoop.stop` the loop fetches nothing more, gives running handlers the grace period to finish,
then cancels the rest and hands their deliveries back (nak without delay) so another pod takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger
from argoai_reviewer.runtime.delivery import Delivery, DeliverySource

log = get_logger(__name__)

Handler = Callable[[Delivery], Awaitable[None]]

# Redelivery delay after a handler failed in a way it did not handle itself (a bug): not a hot loop.
UNEXPECTED_FAILURE_DELAY_SECONDS = 30.0


class ConsumerLoop:
    """Runs ``handle`` on deliveries from ``source``, at most ``concurrency`` at a time.

    ``handle`` settles each delivery itself (ack, nak or term); the loop only hands back deliveries whose
    handler was cancelled at shutdown or failed unexpectedly.
    """

    def __init__(
        self,
        name: str,
        source: DeliverySource,
        handle: Handler,
        *,
        concurrency: int,
        fetch_timeout: float,
        grace_period: float,
    ) -> None:
        self.name = name
        self._source = source
        self._handle = handle
        self._concurrency = concurrency
        self._fetch_timeout = fetch_timeout
        self._grace_period = grace_period
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        # Set whenever a slot frees up or a stop is requested: what a full loop waits for.
        self._wake = asyncio.Event()
        self.running = False

    @property
    def in_flight(self) -> int:
        """Deliveries being handled right now."""
        return len(self._tasks)

    def stop(self) -> None:
        """Stop fetching; :meth:`run` returns once running handlers finished or the grace period ran out."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Fetch and handle deliveries until :meth:`stop`, then drain."""
        self.running = True
        try:
            while not self._stopping.is_set():
                free = self._concurrency - len(self._tasks)
                if free <= 0:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                try:
                    deliveries = await self._source.fetch(free, self._fetch_timeout)
                except UnavailableError as exc:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        # nats-py turns a cancelled fetch on a closed connection into ConnectionClosedError:
                        # restore the cancellation instead of fetching again.
                        raise asyncio.CancelledError from exc
                    log.warning("fetch failed", consumer=self.name, error=str(exc))
                    await self._pause(exc.delay)
                    continue
                if self._stopping.is_set():
                    # Fetched while stopping: not ours to start any more.
                    await asyncio.gather(*(self._hand_back(d) for d in deliveries))
                    break
                for delivery in deliveries:
                    self._start(delivery)
        finally:
            await self._drain()
            self.running = False

    def _start(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._run_one(delivery), name=f"{self.name}:{delivery.stream_sequence}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def _run_one(self, delivery: Delivery) -> None:
        try:
            await self._handle(delivery)
        except asyncio.CancelledError:
            await self._hand_back(delivery)
            raise
        except Exception:
            # Top of one delivery's handling: a bug must neither kill the loop nor strand the message.
            log.exception("handler failed", consumer=self.name, seq=delivery.stream_sequence)
            await self._hand_back(delivery, UNEXPECTED_FAILURE_DELAY_SECONDS)

    async def _hand_back(self, delivery: Delivery, delay: float = 0.0) -> None:
        try:
            await delivery.nak(delay)
        except UnavailableError as exc:
            # JetStream redelivers it after the ack wait anyway.
            log.warning("could not hand a delivery back", consumer=self.name, error=str(exc))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        log.info("draining", consumer=self.name, in_flight=len(self._tasks), grace_seconds=self._grace_period)
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._grace_period)
        for task in pending:
            task.cancel()
        if pending:
            log.info("handing back unfinished deliveries", consumer=self.name, count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
