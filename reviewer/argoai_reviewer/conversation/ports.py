"""The narrow interfaces the conversation stage needs: GitHub, review state, locks, policies, budget, history.

Adapters (and test fakes) implement them.

The pipeline owns these Protocols: it depends on nothing but them, so it can be driven by the fake GitHub and
fake LLM in tests exactly as by the real services.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.domain import (
    ChangedFile,
    Comparison,
    ExistingReview,
    PullRequest,
    ReviewDraft,
    ReviewRecord,
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


class GitHubInstallation(PullRequestReader, ReviewWriter, Protocol):
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


class ReviewHistory(Protocol):
    """A durable-ish log of finished reviews per repository (outcome, files, tokens, cost, findings)."""

    async def record(self, record: ReviewRecord) -> None:
        """Append one finished review."""
        ...
