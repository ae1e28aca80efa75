"""The audit history: one versioned record per thing ArgoAI did with a job, published to the history stream.

A record is written for every job's outcome (posted, updated, skipped, duplicate, superseded, failed,
dead-lettered), for every dead letter replayed, and for every command (who gave it and what it did). The
history stream (JetStream, file storage) is the system of record; ``argoai history`` and ``argoai api`` build
their query store from it. Records are immutable facts: a later record about the same pull request never
rewrites an earlier one.

Version 1. A reader ignores fields it does not know (``extra="ignore"``), so adding optional fields keeps
version 1; changing a field's meaning makes version 2, which a version-1 reader skips (and counts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from argoai_core.models.job import RepoRef

HISTORY_VERSIONS = frozenset({1})

Outcome = Literal[
    "posted",
    "updated",
    "skipped",
    "duplicate",
    "superseded",
    "failed",
    "retried",
    "dead_lettered",
    "replayed",
]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
# What a record is about: a review of a head, a comment command, a closed pull request, a raw webhook.
Subject = Literal["review", "command", "closed", "webhook", "notification"]


class Usage(BaseModel):
    """What a review cost and found (posted and updated reviews)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    findings: dict[str, int] = Field(default_factory=dict, description="Findings reported, by severity")
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str = ""
    files_reviewed: int = 0
    review_id: int | None = None


class FeedbackCounts(BaseModel):
    """What the team made of ArgoAI's findings on one pull request, read when it was closed."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    findings: int = 0
    addressed: int = 0
    rejected: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0


class HistoryRecord(BaseModel):
    """One fact of the audit history (version 1)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: Literal[1] = 1
    id: str = Field(min_length=1, max_length=600, description="Unique id; the stream's Nats-Msg-Id")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    outcome: Outcome
    subject: Subject = "review"
    reason: str = Field(default="", max_length=2000)
    repo: RepoRef | None = None
    number: int | None = None
    head_sha: str | None = None
    job_key: str = ""
    delivery_id: str = ""
    # Commands: which one, who gave it (GitHub login), and what it did (``reason``).
    command: str | None = None
    actor: str | None = None
    duration_seconds: float | None = None
    usage: Usage | None = None
    # A closed pull request: the feedback on its findings (the source of the API's feedback rates).
    feedback: FeedbackCounts | None = None
    # Dead letters and replays: the dead-letter stream's sequence, the attempts the job had.
    dead_letter_id: int | None = None
    attempts: int | None = None
    # Experiments (filled by the experiments feature): the experiment's name and the variant this PR got.
    experiment: str | None = None
    variant: str | None = None

    @property
    def repo_name(self) -> str:
        """``owner/name`` of the repository, or empty."""
        return self.repo.full_name if self.repo is not None else ""
