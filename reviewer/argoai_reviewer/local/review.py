"""Review a local git range through the same analysis as a pull request, without GitHub."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.analysis.review import Analysis, AnalysisOptions, ChangeRequest, Progress, analyze
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.domain import PullRequest
from argoai_reviewer.local.git import LocalChange, file_at, read_change


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

    async def head_text(path: str) -> str | None:
        return await file_at(repo, change.head_sha, path)

    request = ChangeRequest(pr=pr, files=change.files, anchor_files=change.files, head_text=head_text)
    analysis = await analyze(
        request, policy, model, counter, options, heartbeat=_no_heartbeat, progress=progress
    )
    return LocalReview(change=change, analysis=analysis)
