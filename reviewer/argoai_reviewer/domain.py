"""Plain data the reviewer's modules exchange: pull requests, changed files, comments to post."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from argoai_core.models.job import RepoRef


class FileStatus(StrEnum):
    """How a file changed, as GitHub reports it."""

    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    RENAMED = "renamed"
    COPIED = "copied"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PullRequest:
    """The parts of a pull request the reviewer needs, as GitHub has it now."""

    number: int
    title: str
    body: str
    head_sha: str
    base_sha: str
    base_ref: str
    state: str
    draft: bool
    author: str
    author_is_bot: bool


@dataclass(frozen=True)
class ChangedFile:
    """One file of a pull request or comparison. ``patch`` is None when GitHub omitted it (binary, huge)."""

    path: str
    status: FileStatus
    additions: int
    deletions: int
    patch: str | None
    previous_path: str | None = None


@dataclass(frozen=True)
class Comparison:
    """``base...head``: GitHub's status (ahead, behind, diverged, identical) and the files changed."""

    status: str
    files: list[ChangedFile]


@dataclass(frozen=True)
class InlineComment:
    """One inline review comment on side RIGHT: ``line``, or ``start_line``..``line`` within one hunk."""

    path: str
    line: int
    body: str
    start_line: int | None = None


@dataclass(frozen=True)
class ExistingReview:
    """A review already on the pull request (to find our own earlier one by its hidden marker)."""

    id: int
    body: str
    commit_id: str | None
    author: str


@dataclass
class ReviewDraft:
    """The review about to be posted."""

    commit_id: str
    body: str
    event: str = "COMMENT"
    comments: list[InlineComment] = field(default_factory=list)


@dataclass(frozen=True)
class ReviewRecord:
    """One finished review job, for the per-repository review history (what it cost, what it found)."""

    repo: RepoRef
    number: int
    head_sha: str
    outcome: str
    reason: str = ""
    review_id: int | None = None
    files_reviewed: int = 0
    files_skipped: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    duration_seconds: float = 0.0
    findings: int = 0
    # Findings of the model that verification dropped (not posted).
    findings_dropped: int = 0
    model: str = ""
    delivery_id: str = ""
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class IssueComment:
    """A conversation comment on a pull request (where the living summary and command replies go)."""

    id: int
    body: str
    author: str
    author_is_bot: bool


@dataclass(frozen=True)
class ReviewComment:
    """One comment of a diff thread: a thread's first comment (``in_reply_to`` None) or a reply in it.

    ``thumbs_up``/``thumbs_down`` are GitHub's reaction counts (the ``reactions`` roll-up of the comment).
    ``line``/``start_line``: where the comment sits in the pull request's current diff (None once GitHub
    calls it outdated); ``original_line``/``original_start_line``: where it was written.
    """

    id: int
    body: str
    author: str
    author_is_bot: bool
    path: str
    in_reply_to: int | None = None
    thumbs_up: int = 0
    thumbs_down: int = 0
    line: int | None = None
    start_line: int | None = None
    original_line: int | None = None
    original_start_line: int | None = None


@dataclass(frozen=True)
class Reactor:
    """Who left a reaction."""

    login: str
    is_bot: bool


@dataclass(frozen=True)
class CheckRunOutput:
    """The ``output`` of a check run: a title, a Markdown summary and optional Markdown text."""

    title: str
    summary: str
    text: str = ""


@dataclass(frozen=True)
class Annotation:
    """One check-run annotation on lines of the head commit (``level``: notice, warning or failure)."""

    path: str
    start_line: int
    end_line: int
    level: str
    title: str
    message: str


@dataclass(frozen=True)
class CheckRun:
    """A check run already on a commit (``app_slug`` tells ours from other Apps' runs of the same name)."""

    id: int
    name: str
    status: str
    conclusion: str | None
    app_slug: str | None


@dataclass(frozen=True)
class ReviewThread:
    """A diff thread as GraphQL knows it: its node id (to resolve it) and its first comment's id."""

    id: str
    first_comment_id: int | None
    resolved: bool
