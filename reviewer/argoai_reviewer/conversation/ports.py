"""The narrow interfaces the conversation stage needs: GitHub, review state, locks, policies, budget, history.

Adapters (and test fakes) implement them.

The pipeline owns these Protocols: it depends on nothing but them, so it can be driven by the fake GitHub and
fake LLM in tests exactly as by the real services.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from argoai_core.models.job import CommentKind, RepoRef
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.domain import (
    Annotation,
    ChangedFile,
    CheckRun,
    CheckRunOutput,
    Comparison,
    ExistingReview,
    IssueComment,
    PullRequest,
    Reactor,
    ReviewComment,
    ReviewDraft,
    ReviewRecord,
    ReviewThread,
)


class PullRequestReader(Protocol):
    """Reads a pull request from GitHub for one installation."""

    async def pull_request(self, repo: RepoRef, number: int) -> PullRequest:
        """The pull request as it is now."""
        ...

    async def files(self, repo: RepoRef, number: int) -> list[ChangedFile]:
        """Every changed file, all pages (GitHub lists at most 3,000)."""
        ...

    async def compare(self, repo: RepoRef, base: str, head: str) -> Comparison:
        """What changed between two commits."""
        ...

    async def file_text(self, repo: RepoRef, path: str, ref: str) -> str | None:
        """A file's text at ``ref``; None when it is missing, binary or too large."""
        ...

    async def reviews(self, repo: RepoRef, number: int) -> list[ExistingReview]:
        """Reviews already posted on the pull request."""
        ...

    async def download_archive(self, repo: RepoRef, sha: str, destination: Path, max_bytes: int) -> None:
        """Write the repository's archive (tar.gz) at ``sha`` to ``destination``; OverLimitError past
        ``max_bytes``."""
        ...


class ReviewWriter(Protocol):
    """Writes to a pull request (one write at a time per installation)."""

    async def post_review(self, repo: RepoRef, number: int, review: ReviewDraft) -> int:
        """Post one review with its inline comments; return its id."""
        ...

    async def post_comment(self, repo: RepoRef, number: int, body: str) -> None:
        """Post a plain conversation comment (used to say that a review failed)."""
        ...


class ConversationReader(Protocol):
    """Reads a pull request's conversation: comments, threads, reactions, check runs, who may command."""

    async def issue_comments(self, repo: RepoRef, number: int) -> list[IssueComment]:
        """The pull request's conversation comments, all pages."""
        ...

    async def review_comments(self, repo: RepoRef, number: int) -> list[ReviewComment]:
        """Every diff comment of the pull request (threads' first comments and replies), all pages."""
        ...

    async def review_comment(self, repo: RepoRef, comment_id: int) -> ReviewComment | None:
        """One diff comment; None when it no longer exists."""
        ...

    async def thumbs_down(self, repo: RepoRef, comment_id: int) -> list[Reactor]:
        """Who reacted 👎 to a diff comment."""
        ...

    async def permission(self, repo: RepoRef, user: str) -> str:
        """``user``'s role on the repository: admin, maintain, write, triage, read or none."""
        ...

    async def check_runs(self, repo: RepoRef, head_sha: str, name: str) -> list[CheckRun]:
        """The check runs named ``name`` on commit ``head_sha`` (every App's)."""
        ...

    async def review_threads(self, repo: RepoRef, number: int) -> list[ReviewThread]:
        """The pull request's diff threads (GraphQL), to resolve one."""
        ...


class ConversationWriter(Protocol):
    """Writes to a pull request's conversation (one write at a time per installation)."""

    async def create_comment(self, repo: RepoRef, number: int, body: str) -> int:
        """Post a conversation comment; return its id."""
        ...

    async def edit_comment(self, repo: RepoRef, comment_id: int, body: str) -> None:
        """Replace the body of one of our conversation comments."""
        ...

    async def react(self, repo: RepoRef, kind: CommentKind, comment_id: int, content: str) -> None:
        """Add a reaction (``eyes``…) to a conversation comment (``issue``) or a diff comment (``review``)."""
        ...

    async def reply_in_thread(self, repo: RepoRef, number: int, first_comment_id: int, body: str) -> int:
        """Reply in the diff thread that ``first_comment_id`` starts; return the reply's id."""
        ...

    async def create_check_run(self, repo: RepoRef, head_sha: str, name: str, output: CheckRunOutput) -> int:
        """Create an ``in_progress`` check run on ``head_sha``; return its id."""
        ...

    async def update_check_run(
        self,
        repo: RepoRef,
        check_run_id: int,
        output: CheckRunOutput,
        *,
        annotations: Sequence[Annotation] = (),
        conclusion: str | None = None,
    ) -> None:
        """Add ``annotations`` (at most 50) and, with a ``conclusion``, complete the check run."""
        ...

    async def resolve_thread(self, repo: RepoRef, thread_id: str) -> bool:
        """Resolve a diff thread (GraphQL ``resolveReviewThread``); False when GitHub refused."""
        ...


class ConversationGitHub(ConversationReader, ConversationWriter, Protocol):
    """A pull request's conversation on GitHub, read and written."""


class GitHubInstallation(PullRequestReader, ReviewWriter, ConversationReader, ConversationWriter, Protocol):
    """Everything the reviewer does on GitHub as one App installation."""


class GitHubApp(Protocol):
    """The GitHub App: hands out a client per installation."""

    def installation(self, installation_id: int) -> GitHubInstallation:
        """A client acting as ``installation_id``."""
        ...


class ReviewLock(Protocol):
    """A lease on one review key, with an owner token (released by compare-and-delete)."""

    async def acquire(self, key: str, ttl_seconds: float) -> str | None:
        """Take the lock; return its owner token, or None when someone else holds it."""
        ...

    async def extend(self, key: str, token: str, ttl_seconds: float) -> bool:
        """Extend the lock while we still own it."""
        ...

    async def release(self, key: str, token: str) -> bool:
        """Release the lock only if ``token`` still owns it."""
        ...


class ReviewState(Protocol):
    """What has been reviewed and posted, per pull request (shared by every reviewer pod)."""

    async def last_reviewed_head(self, pr_key: str) -> str | None:
        """The head SHA of the last posted review of this pull request."""
        ...

    async def mark_reviewed(self, pr_key: str, head_sha: str, review_id: int) -> None:
        """Record that ``head_sha`` has been reviewed (review ``review_id``)."""
        ...

    async def posted_fingerprints(self, pr_key: str) -> set[str]:
        """Fingerprints of findings already posted on this pull request."""
        ...

    async def add_fingerprints(self, pr_key: str, fingerprints: set[str]) -> None:
        """Remember findings just posted."""
        ...

    async def is_ignored(self, pr_key: str) -> bool:
        """Whether a trusted ``ignore`` command stopped the reviews of this pull request."""
        ...

    async def set_ignored(self, pr_key: str, ignored: bool) -> None:
        """Stop (``ignore`` command) or resume (``review`` command) reviewing this pull request's pushes."""
        ...


class PolicyProvider(Protocol):
    """The effective review policy of a repository (from the policy file or the operator's bucket)."""

    def policy_for(self, repo: RepoRef) -> PolicySpec:
        """The policy that applies to ``repo`` now."""
        ...


class TokenBudget(Protocol):
    """LLM tokens spent per repository per day, shared by every reviewer pod (the policy's daily budget)."""

    async def spent_today(self, scope: str) -> int:
        """Tokens spent today (UTC) in ``scope``."""
        ...

    async def spend(self, scope: str, tokens: int) -> None:
        """Add ``tokens`` to today's total of ``scope``."""
        ...


class LLMCache(Protocol):
    """The LLM response cache (``argoai_reviewer.llm.cache``): identical questions are answered once."""

    def around(self, model: ReviewModel, *, scope: str, ttl_seconds: float) -> ReviewModel:
        """``model`` answering repeated questions of ``scope`` (an installation) from the cache."""
        ...


class ReviewHistory(Protocol):
    """A durable-ish log of finished reviews per repository (outcome, files, tokens, cost, findings)."""

    async def record(self, record: ReviewRecord) -> None:
        """Append one finished review."""
        ...


class PullRequestRecords(Protocol):
    """The conversation state of each pull request (a versioned document, see ``conversation.record``)."""

    async def load(self, pr_key: str) -> str | None:
        """The stored document of ``pr_key`` (JSON), or None."""
        ...

    async def save(self, pr_key: str, document: str) -> None:
        """Store the document of ``pr_key`` (it expires with the review state)."""
        ...

    async def expire(self, pr_key: str, seconds: float) -> None:
        """Let everything stored about ``pr_key`` expire within ``seconds`` (the pull request was closed)."""
        ...


class ConversationKeys(Protocol):
    """Small shared values with a lifetime: reply ledgers, check-run ids, cached permissions, counters."""

    async def get(self, key: str) -> str | None:
        """The value of ``key``, or None."""
        ...

    async def put(self, key: str, value: str, ttl_seconds: float) -> None:
        """Set ``key`` for ``ttl_seconds``."""
        ...

    async def count(self, key: str, window_seconds: float) -> int:
        """Add one to a counter that starts when first counted and lasts ``window_seconds``; its new value."""
        ...


class RepositoryFeedback(Protocol):
    """What a repository's team rejected, and its feedback counts (kept without expiry)."""

    async def rejections(self, repo: RepoRef) -> list[str]:
        """Every rejection of ``repo`` (JSON documents, see ``conversation.feedback``)."""
        ...

    async def reject(self, repo: RepoRef, rejection_id: str, document: str) -> None:
        """Store one rejection (a later one with the same id replaces it)."""
        ...

    async def add_counts(self, repo: RepoRef, counts: dict[str, int]) -> None:
        """Add to the repository's counters (posted, thumbs_up, thumbs_down, dismissed, addressed)."""
        ...
