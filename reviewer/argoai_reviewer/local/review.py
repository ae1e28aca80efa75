"""Review a local git range through the same analysis as a pull request, without GitHub.

The repository at head is read from a snapshot made with ``git archive`` of the head commit (never the
working tree), unpacked under a temporary directory with the same caps and safety rules as a pull request's,
and indexed for related code; past a cap the review reads single files with ``git show``, and says so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.analysis.review import Analysis, AnalysisOptions, ChangeRequest, Progress, analyze
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.domain import PullRequest
from argoai_reviewer.index.code_index import CodeIndex
from argoai_reviewer.local.git import LocalArchive, LocalChange, file_at, read_change
from argoai_reviewer.workspace.archive import OverLimitError
from argoai_reviewer.workspace.snapshot import Snapshot, SnapshotKey
from argoai_reviewer.workspace.store import SnapshotLimits, SnapshotStore


@dataclass(frozen=True)
class LocalReview:
    """A reviewed local range."""

    change: LocalChange
    analysis: Analysis


async def _no_heartbeat() -> None:
    return None


async def review_local(
    repo: Path,
    base: str,
    head: str,
    *,
    policy: PolicySpec,
    model: ReviewModel | None,
    counter: TokenCounter,
    options: AnalysisOptions,
    progress: Progress,
    snapshot: SnapshotLimits | None = None,
) -> LocalReview:
    """Review ``base...head`` of the repository at ``repo``; the commit message stands in for the PR text."""
    progress(f"reading {base}...{head} in {repo}")
    change = await read_change(repo, base, head)
    pr = PullRequest(
        number=0,
        title=change.title,
        body=change.body,
        head_sha=change.head_sha,
        base_sha="",
        base_ref=base,
        state="open",
        draft=False,
        author="",
        author_is_bot=False,
    )

    limits = replace(snapshot or SnapshotLimits(), strip=1)
    with tempfile.TemporaryDirectory(prefix="argoai-review-") as directory:
        store = SnapshotStore(Path(directory), limits)
        key = SnapshotKey("local", "local", repo.name or "repo", change.head_sha)
        try:
            async with store.checkout(key, LocalArchive(repo)) as tree:
                progress(f"indexing {len(tree)} files at {change.head_sha[:12]}")
                request = _request(repo, pr, change, tree, ())
                analysis = await analyze(
                    request, policy, model, counter, options, heartbeat=_no_heartbeat, progress=progress
                )
        except OverLimitError as exc:
            note = (
                f"The repository snapshot was not used ({exc.reason}): no related unchanged code was added."
            )
            request = _request(repo, pr, change, None, (note,))
            analysis = await analyze(
                request, policy, model, counter, options, heartbeat=_no_heartbeat, progress=progress
            )
    return LocalReview(change=change, analysis=analysis)


def _request(
    repo: Path, pr: PullRequest, change: LocalChange, head: Snapshot | None, notes: tuple[str, ...]
) -> ChangeRequest:
    async def head_text(path: str) -> str | None:
        if head is not None and head.resolve(path) is not None:
            return head.read_text(path)
        return await file_at(repo, change.head_sha, path)

    return ChangeRequest(
        pr=pr,
        files=change.files,
        anchor_files=change.files,
        head_text=head_text,
        code=CodeIndex(head) if head is not None else None,
        notes=notes,
    )
