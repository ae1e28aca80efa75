"""The audit history as the runtime writes it: one :class:`~argoai_core.models.history.HistoryRecord` per
settled job (posted, updated, skipped, duplicate, superseded, retried, failed, dead-lettered), built here from
what the worker decided, and handed to a :class:`HistoryRecorder` that must never block or fail the review.

Record ids are derived from the job's key, stream sequence and delivery count, so a settlement retried after a
lost acknowledgement, or one exhausted job dead-lettered by every pod that heard of it, is stored once.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from argoai_core.models.history import HistoryRecord, Outcome, Subject
from argoai_core.models.job import AnyJob, CommandJob, PullRequestClosedJob, ReviewJob
from argoai_reviewer.outcome import ReviewOutcome

REASON_MAX = 2000


class HistoryRecorder(Protocol):
    """Where history records go (the history stream); ``record`` returns at once and never raises."""

    def record(self, record: HistoryRecord) -> None:
        """Record ``record`` in the background; a failure is logged and counted by the recorder."""
        ...


def record_id(outcome: str, natural: str) -> str:
    """A URL-safe record id, the same for the same ``natural`` key (so a repeated record is stored once)."""
    return f"{outcome}-{hashlib.blake2b(natural.encode(), digest_size=12).hexdigest()}"


def _subject(job: AnyJob) -> Subject:
    if isinstance(job, CommandJob):
        return "command"
    if isinstance(job, PullRequestClosedJob):
        return "closed"
    return "review"


def job_record(
    job: AnyJob,
    outcome: Outcome,
    *,
    record_id: str,
    reason: str = "",
    seconds: float | None = None,
    result: ReviewOutcome | None = None,
    attempts: int | None = None,
    dead_letter_id: int | None = None,
) -> HistoryRecord:
    """The history record of ``job`` ending as ``outcome``."""
    return HistoryRecord(
        id=record_id,
        outcome=outcome,
        subject=_subject(job),
        reason=reason[:REASON_MAX],
        repo=job.repo,
        number=job.number,
        head_sha=job.head_sha if isinstance(job, ReviewJob) else None,
        job_key=job.key,
        delivery_id=job.delivery_id,
        command=job.command if isinstance(job, CommandJob) else ("review" if _forced_review(job) else None),
        actor=job.commenter if isinstance(job, CommandJob) else None,
        duration_seconds=None if seconds is None else round(seconds, 3),
        usage=result.usage if result is not None else None,
        feedback=result.feedback if result is not None else None,
        attempts=attempts,
        dead_letter_id=dead_letter_id,
    )


def _forced_review(job: AnyJob) -> bool:
    return isinstance(job, ReviewJob) and job.command_id is not None


def webhook_record(
    *, record_id: str, event: str, delivery_id: str, reason: str, attempts: int, dead_letter_id: int | None
) -> HistoryRecord:
    """The history record of a webhook the intake gave up on (dead-lettered, replayable)."""
    return HistoryRecord(
        id=record_id,
        outcome="dead_lettered",
        subject="webhook",
        reason=f"{event} webhook: {reason}"[:REASON_MAX],
        delivery_id=delivery_id,
        attempts=attempts,
        dead_letter_id=dead_letter_id,
    )
