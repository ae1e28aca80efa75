"""The narrow view the runtime has of a message queue; ``adapters/jobs.py`` implements it on JetStream.

Every method raises :class:`~argoai_core.errors.UnavailableError` when the queue cannot be reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from argoai_reviewer.settings import NotifySettings, ReviewerSettings


class Delivery(Protocol):
    """One delivery of one message, to be settled exactly once (ack, nak or term)."""

    @property
    def subject(self) -> str:
        """The subject the message was published on."""
        ...

    async def body(self) -> bytes:
        """The message body (fetched from wherever it was stored when too large to travel inline)."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The message headers (trace context, delivery id…)."""
        ...

    @property
    def num_delivered(self) -> int:
        """How many times this message has been delivered, this delivery included (1 the first time)."""
        ...

    @property
    def stream_sequence(self) -> int:
        """The message's sequence number in its stream."""
        ...

    async def ack(self) -> None:
        """Done: never deliver again."""
        ...

    async def nak(self, delay: float = 0.0) -> None:
        """Not done: deliver again after ``delay`` seconds (to any consumer)."""
        ...

    async def term(self) -> None:
        """Failed for good: never deliver again."""
        ...

    async def in_progress(self) -> None:
        """Still working on it: restart the acknowledgement timer."""
        ...


class DeliverySource(Protocol):
    """A durable consumer to pull deliveries from."""

    async def fetch(self, count: int, wait_seconds: float) -> list[Delivery]:
        """Up to ``count`` deliveries, waiting at most ``wait_seconds`` for the first; [] when none came."""
        ...

    async def close(self) -> None:
        """Stop pulling (at shutdown)."""
        ...


class JobSink(Protocol):
    """Where review jobs and dead letters are published."""

    async def publish_job(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> bool:
        """Publish a review job under dedup ``key``; return False when it duplicates a recent one."""
        ...

    async def dead_letter(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> int | None:
        """Publish a dead letter (a job that failed for good, with the reason) under dedup ``key``; return
        its sequence in the dead-letter stream (its id for ``argoai dlq``), when known."""
        ...

    async def announce_superseded(self, pr_key: str, old_head: str, new_head: str) -> None:
        """Tell every reviewer process that ``pr_key`` moved on from ``old_head`` (fire and forget)."""
        ...


class JobQueue(JobSink, Protocol):
    """The reviewer's queue: its two durable consumers, the job and dead-letter subjects, exhausted jobs."""

    async def intake_source(self, settings: ReviewerSettings) -> DeliverySource:
        """Declare (or update) the consumer of webhooks that become jobs, and pull from it."""
        ...

    async def review_source(self, settings: ReviewerSettings) -> DeliverySource:
        """Declare (or update) the consumer of review jobs every pod shares, and pull from it."""
        ...

    async def notify_source(self, settings: NotifySettings) -> DeliverySource:
        """Declare (or update) the consumer of notifications every pod shares, and pull from it."""
        ...

    async def watch_exhausted(
        self, handle: Callable[[Delivery], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``handle`` for each job whose last allowed delivery expired unsettled; returns the stop."""
        ...

    async def watch_superseded(
        self, handle: Callable[[str, str], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``handle(pr_key, old_head)`` when a pull request moves on from a head; returns the stop."""
        ...
