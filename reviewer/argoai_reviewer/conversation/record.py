"""What ArgoAI remembers about one pull request's conversation: one versioned document, stored in Redis.

The living summary comment's id, whether reviews are paused, the walkthrough (one line per file), the heads
reviewed, what the last review covered, and every finding reported (inline in a thread, or as a note in the
summary) with its fate: open, addressed by a later push, or rejected by the team. It expires with the review
state, sooner once the pull request is closed.

Redis is a cache of the truth on GitHub: the summary comment's hidden metadata carries the reviewed heads and
the pause, and every inline comment names its finding (:mod:`~argoai_reviewer.conversation.markers`), so
losing this document loses the walkthrough's wording and the quotes used to tell that a finding was
addressed, never the exactly-once guarantees.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from argoai_core.logs import get_logger
from argoai_reviewer.conversation.ports import PullRequestRecords

log = get_logger(__name__)

MAX_HEADS = 100
"""Reviewed heads remembered (the summary lists the latest ones)."""
MAX_FINDINGS = 500
"""Findings remembered per pull request; the oldest closed ones are forgotten first."""
QUOTE_MAX = 2000

FindingStatus = Literal["open", "addressed", "rejected"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TrackedFinding(_Model):
    """One finding ArgoAI reported on the pull request, and what became of it."""

    fingerprint: str
    path: str
    category: str
    severity: str = "minor"
    title: str = ""
    # The quoted code, normalised (anchoring's rules); empty when unknown (then "addressed" is never decided).
    quote: str = ""
    line: int | None = None
    inline: bool = True
    # For a finding not attached to a line (shown in the summary): why, and its explanation.
    reason: str = ""
    body: str = ""
    comment_id: int | None = None
    head_sha: str = ""
    status: FindingStatus = "open"
    addressed_in: str | None = None
    # Reactions already counted (GitHub's roll-up), so each is counted once.
    thumbs_up: int = 0
    thumbs_down: int = 0
    # 👎 count when the reactors were last checked for a trusted rejection.
    down_checked: int = 0


class SuppressedFinding(_Model):
    """A finding not posted because the team rejected one like it."""

    fingerprint: str
    path: str
    line: int | None = None
    category: str
    title: str


class LastReview(_Model):
    """What the latest review covered."""

    head_sha: str
    # The head the review compared with (an incremental review), or None (the whole pull request).
    since: str | None = None
    # What the summary says about the coverage (already sanitized: see ``render.coverage_context``).
    coverage: dict[str, Any] = Field(default_factory=dict)


class PullRequestRecord(_Model):
    """The conversation state of one pull request (version 1)."""

    version: Literal[1] = 1
    paused: bool = False
    summary_comment_id: int | None = None
    # The check run of the last reviewed head (its conclusion is updated when a finding is dismissed).
    check_run_id: int | None = None
    overview: str = ""
    file_notes: dict[str, str] = Field(default_factory=dict)
    heads: list[str] = Field(default_factory=list)
    last_review: LastReview | None = None
    findings: dict[str, TrackedFinding] = Field(default_factory=dict)
    suppressed: dict[str, SuppressedFinding] = Field(default_factory=dict)
    # The experiment and variant the last review ran under (the policy's experiment), or None.
    experiment: str | None = None
    variant: str | None = None
    # Not stored: this record was just rebuilt from GitHub's comments, so no summary comment exists yet.
    searched: bool = Field(default=False, exclude=True)

    def reviewed(self, head_sha: str) -> None:
        """Add ``head_sha`` to the reviewed heads (once; the oldest beyond the limit are forgotten)."""
        if head_sha not in self.heads:
            self.heads = [*self.heads, head_sha][-MAX_HEADS:]

    def track(self, finding: TrackedFinding) -> None:
        """Remember a reported finding (an open one already known keeps its counts and thread)."""
        known = self.findings.get(finding.fingerprint)
        if known is not None and known.status == "open":
            return
        self.findings[finding.fingerprint] = finding
        if len(self.findings) > MAX_FINDINGS:
            closed = [fp for fp, f in self.findings.items() if f.status != "open"]
            for fp in (closed or list(self.findings))[: len(self.findings) - MAX_FINDINGS]:
                del self.findings[fp]

    def open_findings(self) -> list[TrackedFinding]:
        """Findings neither addressed nor rejected."""
        return [f for f in self.findings.values() if f.status == "open"]


async def load_record(records: PullRequestRecords, pr_key: str) -> PullRequestRecord | None:
    """The stored record of ``pr_key``; None when there is none or it cannot be read (rebuilt from GitHub)."""
    document = await records.load(pr_key)
    if document is None:
        return None
    try:
        return PullRequestRecord.model_validate_json(document)
    except ValidationError as exc:
        log.warning("unreadable pull request record: rebuilt from GitHub", pr=pr_key, error=str(exc))
        return None


async def save_record(records: PullRequestRecords, pr_key: str, record: PullRequestRecord) -> None:
    """Store ``record``."""
    await records.save(pr_key, record.model_dump_json())
