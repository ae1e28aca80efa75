"""What a review job came to when it did not fail: the pipeline's result, which the runtime settles.

Kept below every stage: the conversation stage returns these, the runtime maps them to JetStream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from argoai_core.models.history import FeedbackCounts, Usage

# Tells the queue a running review is still alive (an in-progress acknowledgement).
Heartbeat = Callable[[], Awaitable[None]]


class OutcomeKind(StrEnum):
    """How a review ended without an error."""

    POSTED = "posted"
    SKIPPED = "skipped"
    SUPERSEDED = "superseded"
    DUPLICATE = "duplicate"
    UPDATED = "updated"


@dataclass(frozen=True)
class ReviewOutcome:
    """What the pipeline did with a job: posted a review, updated the summary only, or decided (with a
    reason) to do nothing."""

    kind: OutcomeKind
    reason: str = ""
    review_id: int | None = None
    # What a posted or updated review cost and found (for the audit history).
    usage: Usage | None = None
    # What the team made of the findings of a pull request that was closed (for the audit history).
    feedback: FeedbackCounts | None = None

    @classmethod
    def posted(cls, review_id: int) -> ReviewOutcome:
        """A review was posted."""
        return cls(OutcomeKind.POSTED, review_id=review_id)

    @classmethod
    def updated(cls, reason: str) -> ReviewOutcome:
        """Reviewed, nothing new worth a review: the summary comment and the check run were updated."""
        return cls(OutcomeKind.UPDATED, reason=reason)

    @classmethod
    def skipped(cls, reason: str) -> ReviewOutcome:
        """Nothing to review, by policy or by content (draft, only ignored files…)."""
        return cls(OutcomeKind.SKIPPED, reason=reason)

    @classmethod
    def superseded(cls, reason: str = "a newer head exists") -> ReviewOutcome:
        """The pull request moved on (new head, closed) before the review could be posted."""
        return cls(OutcomeKind.SUPERSEDED, reason=reason)

    @classmethod
    def duplicate(cls, reason: str = "this head was already reviewed") -> ReviewOutcome:
        """This head was already reviewed, or another pod is reviewing it now."""
        return cls(OutcomeKind.DUPLICATE, reason=reason)
