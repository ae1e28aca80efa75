"""Recover failed webhook deliveries, as GitHub documents it (GitHub never redelivers by itself).

One run pages the App's delivery log (newest first) back to a durable checkpoint, groups attempts by
``guid`` (constant across redeliveries), leaves alone every guid that has an OK attempt, and asks GitHub to
redeliver the most recent attempt of each other guid, oldest first, within the run's bounds.

The checkpoint is the newest delivery up to which everything is *settled*: delivered OK, redelivered by us,
refused by GitHub, or too old to redeliver. It only moves forward over settled deliveries, so a run that
crashes, is rate limited or hits its bounds leaves the rest to the next run. Deliveries younger than
``settle_seconds`` are never passed: GitHub may still be recording them (and older ids may still appear).

A guid redelivered by an earlier run is remembered for ``cooldown_seconds`` with the attempt it was
redelivered from; attempts up to that one are settled, and a newer (failed) attempt waits for the cool-down
to end before it is redelivered again. Runs hold a lock with an owner token, so two runs never overlap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from argoai_core.errors import PermanentError, RateLimitedError, UnavailableError
from argoai_core.logs import get_logger
from argoai_reviewer.metrics import WEBHOOK_REDELIVERIES

log = get_logger(__name__)

PER_PAGE = 100


@dataclass(frozen=True)
class HookDelivery:
    """One attempt in the App's webhook delivery log (``GET /app/hook/deliveries``)."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    status: str
    status_code: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None

    @property
    def ok(self) -> bool:
        """Whether this attempt was delivered: GitHub's status ``OK`` (a 2xx answer)."""
        return self.status == "OK" or 200 <= self.status_code < 300


class RunLock(Protocol):
    """A lease with an owner token, so two runs never overlap (released by compare-and-delete)."""

    async def acquire(self, key: str, ttl_seconds: float) -> str | None:
        """Take the lock; return its owner token, or None when another run holds it."""
        ...

    async def extend(self, key: str, token: str, ttl_seconds: float) -> bool:
        """Extend the lock while we still own it."""
        ...

    async def release(self, key: str, token: str) -> bool:
        """Release the lock only if ``token`` still owns it."""
        ...


class HookDeliveries(Protocol):
    """The App's webhook delivery log on GitHub."""

    async def list_hook_deliveries(
        self, *, per_page: int = PER_PAGE, cursor: str | None = None
    ) -> tuple[list[HookDelivery], str | None]:
        """One page of attempts, newest first, and the next page's cursor (None after the last page)."""
        ...

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to deliver ``delivery_id`` again."""
        ...


@dataclass(frozen=True)
class Checkpoint:
    """The newest delivery up to which every delivery is settled."""

    delivery_id: int
    delivered_at: datetime


class RedeliveryState(Protocol):
    """What runs remember between them (shared by every run, durable)."""

    async def checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the last run, or None before the first."""
        ...

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a new checkpoint."""
        ...

    async def redelivered_from(self, guids: Sequence[str]) -> dict[str, int]:
        """For each guid redelivered within its cool-down: the delivery id the redelivery was made from."""
        ...

    async def mark_redelivered(self, guid: str, delivery_id: int, cooldown_seconds: float) -> None:
        """Remember, for ``cooldown_seconds``, that ``guid`` was redelivered from ``delivery_id``."""
        ...


@dataclass(frozen=True)
class RedeliverLimits:
    """Bounds and timings of one run (see ``RedeliverSettings``)."""

    max_redeliveries: int = 50
    max_pages: int = 30
    per_page: int = PER_PAGE
    settle_seconds: float = 60.0
    max_age_seconds: float = 3 * 86_400 - 600
    cooldown_seconds: float = 900.0
    spacing_seconds: float = 1.0
    lock_ttl_seconds: float = 120.0


@dataclass
class RedeliverySummary:
    """What one run did (printed as one JSON line by ``argoai redeliver``)."""

    scanned: int = 0
    pages: int = 0
    failed_guids: int = 0
    redelivered: int = 0
    would_redeliver: int = 0
    in_cooldown: int = 0
    deferred: int = 0
    rejected: int = 0
    pending: int = 0
    skipped_too_old: int = 0
    checkpoint: int | None = None
    scan_complete: bool = False
    rate_limited: bool = False
    locked: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        return asdict(self)


class LockLostError(UnavailableError):
    """The run's lock expired and may be held by another run: stop before doing anything twice."""


@dataclass
class _Guid:
    """The attempts of one guid seen in this run, newest first, and what became of it."""

    attempts: list[HookDelivery]
    settled_up_to: int = 0  # the newest attempt is settled when its id is at most this (redelivered)
    settled_all: bool = False

    @property
    def newest(self) -> HookDelivery:
        return self.attempts[0]

    def settled(self, delivery: HookDelivery) -> bool:
        # An older attempt is superseded by the newest one, which stays in view while it is unsettled (the
        # checkpoint cannot pass it): only the newest attempt decides whether the guid still needs work.
        newest = self.newest
        return delivery.id != newest.id or self.settled_all or newest.id <= self.settled_up_to


@dataclass
class _Scan:
    deliveries: list[HookDelivery]
    complete: bool  # reached the checkpoint, the redelivery horizon, or the end of the log


class Redeliverer:
    """One run of the redelivery job over the delivery log, the shared state and the run lock."""

    def __init__(
        self,
        deliveries: HookDeliveries,
        state: RedeliveryState,
        lock: RunLock,
        *,
        lock_key: str,
        limits: RedeliverLimits,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._github = deliveries
        self._state = state
        self._lock = lock
        self._lock_key = lock_key
        self._limits = limits
        self._clock = clock
        self._sleep = sleep
        self._token: str | None = None

    async def run(self, *, dry_run: bool = False) -> RedeliverySummary:
        """Scan, redeliver and checkpoint once; a dry run only reads (no lock, no requests, no writes).

        Returns with ``locked`` set when another run holds the lock, and with ``rate_limited`` set when
        GitHub asked us to slow down (what was settled before that is kept). Raises ``UnavailableError``
        when GitHub or Redis fails, and ``LockLostError`` when the lock expired mid-run.
        """
        summary = RedeliverySummary(dry_run=dry_run)
        if dry_run:
            await self._run(summary)
            return summary
        self._token = await self._lock.acquire(self._lock_key, self._limits.lock_ttl_seconds)
        if self._token is None:
            summary.locked = True
            log.info("redeliver_skipped_locked", lock=self._lock_key)
            return summary
        try:
            await self._run(summary)
        finally:
            token, self._token = self._token, None
            await self._lock.release(self._lock_key, token)
        return summary

    async def _run(self, summary: RedeliverySummary) -> None:
        now = self._clock()
        previous = await self._state.checkpoint()
        summary.checkpoint = previous.delivery_id if previous else None
        scan = await self._scan(previous, now, summary)
        groups = _group(scan.deliveries)
        candidates = await self._decide(groups, now, summary)
        if not summary.rate_limited:
            await self._redeliver(candidates, groups, summary)
        if not scan.complete:
            if not summary.rate_limited:
                log.warning(
                    "redeliver_scan_incomplete",
                    pages=summary.pages,
                    hint="more deliveries since the checkpoint than max_pages pages; raise it",
                )
            return
        settle_cutoff = now - timedelta(seconds=self._limits.settle_seconds)
        checkpoint = _advance(previous, scan.deliveries, groups, settle_cutoff)
        if checkpoint is not None and checkpoint != previous:
            summary.checkpoint = checkpoint.delivery_id
            if not summary.dry_run:
                await self._keep_lock()
                await self._state.save_checkpoint(checkpoint)

    async def _scan(self, previous: Checkpoint | None, now: datetime, summary: RedeliverySummary) -> _Scan:
        """Pages of the log, newest first, down to the checkpoint (or the horizon) within ``max_pages``."""
        horizon = now - timedelta(seconds=self._limits.max_age_seconds)
        found: list[HookDelivery] = []
        cursor: str | None = None
        while summary.pages < self._limits.max_pages:
            try:
                page, cursor = await self._github.list_hook_deliveries(
                    per_page=self._limits.per_page, cursor=cursor
                )
            except RateLimitedError as exc:
                summary.rate_limited = True
                log.warning("redeliver_rate_limited", during="listing", retry_in=exc.delay)
                return _Scan(found, complete=False)
            summary.pages += 1
            await self._keep_lock()
            reached = False
            for delivery in page:
                if previous is not None and delivery.id <= previous.delivery_id:
                    reached = True
                    break
                found.append(delivery)
                # Newest first: everything after a too-old delivery is too old as well.
                reached = reached or delivery.delivered_at < horizon
            summary.scanned = len(found)
            if reached or cursor is None:
                return _Scan(found, complete=True)
        return _Scan(found, complete=False)

    async def _decide(self, groups: dict[str, _Guid], now: datetime, summary: RedeliverySummary) -> list[str]:
        """Settle what needs nothing; return the guids to redeliver, oldest first."""
        settle_cutoff = now - timedelta(seconds=self._limits.settle_seconds)
        horizon = now - timedelta(seconds=self._limits.max_age_seconds)
        unsettled = [guid for guid, group in groups.items() if not any(a.ok for a in group.attempts)]
        marks = await self._state.redelivered_from(unsettled) if unsettled else {}
        candidates: list[str] = []
        for guid, group in groups.items():
            newest = group.newest
            if any(a.ok for a in group.attempts):
                group.settled_all = True
            elif newest.delivered_at > settle_cutoff:
                summary.pending += 1  # GitHub may still be recording it: next run
            elif newest.delivered_at < horizon:
                group.settled_all = True
                summary.skipped_too_old += 1
                WEBHOOK_REDELIVERIES.labels(outcome="too_old").inc()
            else:
                summary.failed_guids += 1
                if guid in marks:
                    # Redelivered by an earlier run: the attempts it covered are settled; a newer failed
                    # attempt (the redelivery's own) waits for the cool-down to end.
                    group.settled_up_to = marks[guid]
                    summary.in_cooldown += 1
                else:
                    candidates.append(guid)
        candidates.sort(key=lambda guid: groups[guid].newest.id)
        return candidates

    async def _redeliver(
        self, candidates: list[str], groups: dict[str, _Guid], summary: RedeliverySummary
    ) -> None:
        """Redeliver the oldest candidates first, serially and spaced, up to ``max_redeliveries``."""
        allowed = candidates[: self._limits.max_redeliveries]
        summary.deferred = len(candidates) - len(allowed)
        if summary.dry_run:
            summary.would_redeliver = len(allowed)
            return
        for index, guid in enumerate(allowed):
            group = groups[guid]
            newest = group.newest
            if index:
                await self._sleep(self._limits.spacing_seconds)
            await self._keep_lock()
            try:
                await self._github.redeliver(newest.id)
            except RateLimitedError as exc:
                summary.rate_limited = True
                summary.deferred += len(allowed) - index
                log.warning("redeliver_rate_limited", during="redelivering", retry_in=exc.delay)
                return
            except PermanentError as exc:
                # GitHub refused this one for good (gone, or past its 3 days): retrying cannot help.
                group.settled_all = True
                summary.rejected += 1
                WEBHOOK_REDELIVERIES.labels(outcome="rejected").inc()
                log.error("redelivery_rejected", guid=guid, delivery_id=newest.id, error=str(exc))
                continue
            await self._state.mark_redelivered(guid, newest.id, self._limits.cooldown_seconds)
            group.settled_all = True
            summary.redelivered += 1
            WEBHOOK_REDELIVERIES.labels(outcome="redelivered").inc()
            log.info(
                "redelivered", guid=guid, delivery_id=newest.id, webhook=newest.event, action=newest.action
            )

    async def _keep_lock(self) -> None:
        """Renew the run's lease; stop the run when another owner may have it."""
        if self._token is None:
            return
        if not await self._lock.extend(self._lock_key, self._token, self._limits.lock_ttl_seconds):
            raise LockLostError(f"the redeliver lock {self._lock_key!r} expired during the run")


def _group(deliveries: list[HookDelivery]) -> dict[str, _Guid]:
    """Attempts by guid, each list newest first (the log's order)."""
    groups: dict[str, _Guid] = {}
    for delivery in deliveries:
        groups.setdefault(delivery.guid, _Guid(attempts=[])).attempts.append(delivery)
    return groups


def _advance(
    previous: Checkpoint | None,
    deliveries: list[HookDelivery],
    groups: dict[str, _Guid],
    settle_cutoff: datetime,
) -> Checkpoint | None:
    """The newest delivery such that it and every scanned delivery before it are settled."""
    checkpoint = previous
    for delivery in sorted(deliveries, key=lambda d: d.id):
        if delivery.delivered_at > settle_cutoff or not groups[delivery.guid].settled(delivery):
            break
        checkpoint = Checkpoint(delivery.id, delivery.delivered_at)
    return checkpoint
