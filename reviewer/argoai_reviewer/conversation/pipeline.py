"""The GitHub review of one job: from a pull request head to exactly one posted review.

Order of a review and why:
1. policy and cheap skips (action, ``ignore`` command, already reviewed) before any GitHub call; then the
   repository's ``.github/argoai.yaml`` from its default branch (cached,
   :mod:`~argoai_reviewer.conversation.repo_config`) merged into the policy, and the draft rule;
2. a lock per (PR, head) with an owner token, so two pods never review the same head at once; renewed while
   the review runs, so a long review keeps it and a dead pod's lock expires within one TTL;
3. the pull request as it is now: closed or moved on → superseded, nothing posted;
4. an earlier review of ours for this head (hidden marker) → recorded, nothing posted again;
5. full review, or only what changed since the last reviewed head (compare API) when history is linear;
   the repository at head comes from the pod's snapshot cache (:mod:`~argoai_reviewer.conversation.sources`),
   which also rebuilds the diffs GitHub left out and gives the analysis related unchanged code;
6. analysis (:mod:`argoai_reviewer.analysis.review`), findings already posted on unchanged code left out;
7. fencing right before posting: we still own the lock and the head has not moved;
8. post, then record state, fingerprints and history.

A :class:`~argoai_core.models.job.CommandJob` (a trusted comment, see
:mod:`~argoai_reviewer.conversation.commands`) is carried out only when the policy enables its command:
``ignore`` sets a flag, ``review`` clears it and runs the steps above for the pull request's current head,
skipping the event rules (action, ignore, draft, already reviewed), over the whole pull request. Its review
carries the comment id in a second marker, so a retried command finds the review it posted instead of posting
another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from opentelemetry import trace

from argoai_core.errors import RetryableError, UnavailableError
from argoai_core.logs import get_logger
from argoai_core.models.job import AnyJob, CommandJob, ReviewJob
from argoai_core.models.policy import PolicySpec
from argoai_core.settings import LLMSettings
from argoai_reviewer.analysis.fingerprint import fingerprint_of
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.analysis.rediff import needs_rebuild, rebuild_missing_patches
from argoai_reviewer.analysis.review import (
    Analysis,
    AnalysisOptions,
    ChangeRequest,
    analyze,
    within_configured_llm,
)
from argoai_reviewer.analysis.tokens import TokenCounter, counter_for
from argoai_reviewer.conversation.accounting import (
    budget_scope,
    count_review,
    llm_within_budget,
    review_record,
)
from argoai_reviewer.conversation.failures import FailureComment
from argoai_reviewer.conversation.markers import find_command_marker, find_marker, marker, with_command_marker
from argoai_reviewer.conversation.ports import (
    GitHubApp,
    GitHubInstallation,
    PolicyProvider,
    ReviewHistory,
    ReviewLock,
    ReviewState,
    TokenBudget,
)
from argoai_reviewer.conversation.render import build_review
from argoai_reviewer.conversation.repo_config import apply_repo_config
from argoai_reviewer.conversation.repo_config_cache import RepoConfigCache
from argoai_reviewer.conversation.sources import ReviewSources, SourceOptions, review_sources
from argoai_reviewer.domain import ChangedFile, PullRequest
from argoai_reviewer.outcome import Heartbeat, ReviewOutcome

log = get_logger(__name__)
tracer = trace.get_tracer(__name__)

# History GitHub reports between the last reviewed head and the new one: only "ahead" is a plain push.
LINEAR = "ahead"
# GitHub's compare API lists at most this many files: a longer list may be cut, so review everything.
COMPARE_FILE_CAP = 300


@dataclass(frozen=True)
class PipelineOptions:
    """Tuning of the pipeline."""

    analysis: AnalysisOptions
    # Renewed every third of it while the review runs: also how long a dead pod's lock blocks its head.
    lock_ttl_seconds: float = 15.0
    # The configured LLM: its provider and model are the defaults a policy may narrow; its prices give cost.
    llm: LLMSettings = field(default_factory=lambda: LLMSettings.model_construct())
    # How long a repository's .github/argoai.yaml is cached (a pushed change applies within this time).
    repo_config_ttl_seconds: float = 60.0
    # The pod's repository snapshots and code index (no store: single-file reads, no related code).
    sources: SourceOptions = field(default_factory=SourceOptions)


class ReviewPipeline:
    """:class:`~argoai_reviewer.runtime.worker.ReviewRunner` that reviews pull requests on GitHub."""

    def __init__(
        self,
        *,
        github: GitHubApp,
        policies: PolicyProvider,
        model: ReviewModel | None,
        lock: ReviewLock,
        state: ReviewState,
        history: ReviewHistory,
        budget: TokenBudget,
        options: PipelineOptions,
        failures: FailureComment | None = None,
    ) -> None:
        self._github = github
        self._failures = failures
        self._policies = policies
        self._model = model
        self._lock = lock
        self._state = state
        self._history = history
        self._budget = budget
        self._options = options
        self._repo_configs = RepoConfigCache(options.repo_config_ttl_seconds)

    async def run(self, job: AnyJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Review ``job`` (or carry out a comment command) and post at most one review for its head."""
        if isinstance(job, CommandJob):
            return await self._command(job, heartbeat)
        policy = self._policies.policy_for(job.repo)
        # A review a trusted command asked for skips the event rules: it is explicit, and one of its own.
        forced = job.command_id is not None
        if not forced and job.action not in policy.events:
            return ReviewOutcome.skipped(f"the policy does not review '{job.action}' events")
        if not forced and await self._state.is_ignored(job.pr_key):
            return ReviewOutcome.skipped("ignored by a command until someone asks for a review")
        if not forced and await self._state.last_reviewed_head(job.pr_key) == job.head_sha:
            return ReviewOutcome.duplicate()
        parsed = await self._repo_configs.get(
            self._github.installation(job.installation_id), job.installation_id, job.repo, job.default_branch
        )
        notes = [parsed.note] if parsed.note else []
        if parsed.config is not None:
            policy, merge_notes = apply_repo_config(policy, parsed.config)
            notes += merge_notes
        if job.draft and not policy.review_drafts and not forced:
            return ReviewOutcome.skipped("draft pull request (the policy does not review drafts)")
        ttl = self._options.lock_ttl_seconds
        token = await self._lock.acquire(job.key, ttl)
        if token is None:
            # Another pod is reviewing this head; come back later, when its outcome is recorded.
            raise RetryableError("another reviewer holds this head's lock", delay=ttl / 2)
        try:
            async with self._renewing(job.key, token):
                with tracer.start_as_current_span("review", attributes={"review.key": job.key}):
                    return await self._review(job, policy, heartbeat, token, notes)
        finally:
            await self._release(job.key, token)

    async def _release(self, key: str, token: str) -> None:
        """Release the head's lock; if Redis does not answer, its TTL frees it, and the outcome stands."""
        try:
            await self._lock.release(key, token)
        except UnavailableError as exc:
            log.warning("could not release this head's lock; it expires by itself", key=key, error=str(exc))

    async def review_failed(self, job: ReviewJob, reason: str) -> None:
        """The runtime's ``FailureNotifier``: tell the pull request (when configured to)."""
        if self._failures is not None:
            await self._failures.review_failed(job, reason)

    @asynccontextmanager
    async def _renewing(self, key: str, token: str) -> AsyncIterator[None]:
        """Extend the lock every third of its TTL until the block ends; fencing checks we still own it."""
        ttl = self._options.lock_ttl_seconds

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl / 3)
                try:
                    if not await self._lock.extend(key, token, ttl):
                        log.warning("lost this head's lock while reviewing", key=key)
                        return
                except UnavailableError as exc:
                    # The next renewal may get through; fencing refuses to post if the lock was lost.
                    log.warning("could not renew this head's lock", key=key, error=str(exc))

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _command(self, job: CommandJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Carry out a trusted comment command, if the policy enables it (nothing is posted otherwise)."""
        if job.command not in self._policies.policy_for(job.repo).commands:
            log.info("command not enabled by the policy", command=job.command, commenter=job.commenter)
            return ReviewOutcome.skipped(f"the policy does not enable the '{job.command}' command")
        if job.command == "ignore":
            await self._state.set_ignored(job.pr_key, True)
            return ReviewOutcome.skipped(f"@{job.commenter} asked to ignore this pull request")
        await self._state.set_ignored(job.pr_key, False)
        pr = await self._github.installation(job.installation_id).pull_request(job.repo, job.number)
        if pr.state != "open":
            return ReviewOutcome.superseded(f"the pull request is {pr.state}")
        forced = ReviewJob(
            delivery_id=job.delivery_id,
            installation_id=job.installation_id,
            repo=job.repo,
            number=job.number,
            action="command",
            head_sha=pr.head_sha,
            base_sha=pr.base_sha,
            base_ref=pr.base_ref,
            title=pr.title,
            body=pr.body,
            author=pr.author,
            draft=pr.draft,
            default_branch=job.default_branch,
            command_id=job.comment_id,
        )
        return await self.run(forced, heartbeat)

    async def _review(
        self, job: ReviewJob, policy: PolicySpec, heartbeat: Heartbeat, token: str, notes: list[str]
    ) -> ReviewOutcome:
        started = time.monotonic()
        gh = self._github.installation(job.installation_id)
        pr = await gh.pull_request(job.repo, job.number)
        moved = self._moved_on(job, pr)
        if moved is not None:
            return moved
        for review in await gh.reviews(job.repo, job.number):
            if job.command_id is not None:
                # One command, one review: the review it asked for may be on an older head by now.
                if find_command_marker(review.body) == job.command_id:
                    return ReviewOutcome.duplicate("the review this command asked for is already posted")
            elif find_marker(review.body) == job.head_sha:
                await self._state.mark_reviewed(job.pr_key, job.head_sha, review.id)
                return ReviewOutcome.duplicate("a review of this head is already on the pull request")
        pr_files = await gh.files(job.repo, job.number)
        # A review asked for by command covers the whole pull request, not only the last push.
        files, files_base = (
            (pr_files, pr.base_sha)
            if job.command_id is not None
            else await self._scope(gh, job, pr, pr_files)
        )
        policy, provider_note = within_configured_llm(policy, self._options.llm.provider)
        model, budget_note = await llm_within_budget(self._budget, self._model, job, policy)
        notes += [note for note in (provider_note, budget_note) if note]
        async with review_sources(gh, job.repo, job.head_sha, self._options.sources) as sources:
            request = await self._request(pr, policy, pr_files, files, files_base, sources)
            analysis = await analyze(
                request, policy, model, self._counter(policy), self._options.analysis, heartbeat=heartbeat
            )
        await self._budget.spend(budget_scope(job), analysis.input_tokens + analysis.output_tokens)
        posted = await self._state.posted_fingerprints(job.pr_key)
        fresh = [p for p in analysis.placements if fingerprint_of(p) not in posted]
        repeated = len(analysis.placements) - len(fresh)
        draft = build_review(
            fresh,
            policy=policy,
            coverage=analysis.coverage,
            summary="\n\n".join(text for text in (*notes, analysis.summary) if text),
            head_sha=job.head_sha,
            bot_handle=self._options.analysis.bot_name,
            repeated=repeated,
        )
        if job.command_id is not None:
            draft.body = with_command_marker(draft.body, marker(job.head_sha), job.command_id)
        # Fencing: only the lock's owner posts, and only for the head the pull request still has.
        if not await self._lock.extend(job.key, token, self._options.lock_ttl_seconds):
            raise RetryableError("lost this head's lock while reviewing", delay=5.0)
        moved = self._moved_on(job, await gh.pull_request(job.repo, job.number))
        if moved is not None:
            return moved
        review_id = await gh.post_review(job.repo, job.number, draft)
        await self._state.mark_reviewed(job.pr_key, job.head_sha, review_id)
        # Everything the review reported (inline, as a note, or listed over the cap) is not repeated later;
        # findings below the policy's minimum severity were not reported, so they stay eligible.
        reported = {fingerprint_of(p) for p in fresh if p.finding.severity.rank <= policy.min_severity.rank}
        await self._state.add_fingerprints(job.pr_key, reported)
        await self._record(job, analysis, review_id, len(draft.comments), time.monotonic() - started)
        return ReviewOutcome.posted(review_id)

    @staticmethod
    def _moved_on(job: ReviewJob, pr: PullRequest) -> ReviewOutcome | None:
        if pr.state != "open":
            return ReviewOutcome.superseded(f"the pull request is {pr.state}")
        if pr.head_sha != job.head_sha:
            return ReviewOutcome.superseded(f"the pull request moved on to {pr.head_sha[:12]}")
        return None

    @staticmethod
    async def _request(
        pr: PullRequest,
        policy: PolicySpec,
        pr_files: list[ChangedFile],
        files: list[ChangedFile],
        files_base: str,
        sources: ReviewSources,
    ) -> ChangeRequest:
        """What the analysis gets: diffs GitHub left out rebuilt (for the model and, narrowed to certain
        additions, for anchoring), reads from the snapshot, and its code index."""
        wanted = sum(needs_rebuild(changed, policy) for changed in (*pr_files, *files))
        rebuilt = await rebuild_missing_patches(
            pr_files,
            policy,
            base_text=await sources.base_reader(pr.base_sha, wanted),
            head_text=sources.head_text,
        )
        shown = rebuilt.files
        if files is not pr_files:
            shown = (
                await rebuild_missing_patches(
                    files,
                    policy,
                    base_text=await sources.base_reader(files_base, wanted),
                    head_text=sources.head_text,
                )
            ).files
        return ChangeRequest(
            pr=pr,
            files=shown,
            anchor_files=rebuilt.anchors,
            head_text=sources.head_text,
            code=sources.code,
            notes=(sources.note,) if sources.note else (),
        )

    async def _scope(
        self, gh: GitHubInstallation, job: ReviewJob, pr: PullRequest, pr_files: list[ChangedFile]
    ) -> tuple[list[ChangedFile], str]:
        """The files to show the model and the commit their patches start from: all of them (from the
        base), or only what changed since the last reviewed head (from that head)."""
        last = await self._state.last_reviewed_head(job.pr_key)
        if last is None or last == job.head_sha:
            return pr_files, pr.base_sha
        comparison = await gh.compare(job.repo, last, job.head_sha)
        if len(comparison.files) >= COMPARE_FILE_CAP:
            log.info("push changed too many files to list: full review", key=job.key)
            return pr_files, pr.base_sha
        if comparison.status != LINEAR:
            log.info(
                "history rewritten since last review: full review", key=job.key, status=comparison.status
            )
            return pr_files, pr.base_sha
        in_pr = {changed.path for changed in pr_files}
        # A file changed by the push but no longer different from the base has nothing left to comment on.
        return [changed for changed in comparison.files if changed.path in in_pr], last

    def _counter(self, policy: PolicySpec) -> TokenCounter:
        llm = self._options.llm
        return counter_for(policy.provider or llm.provider, policy.model or llm.model)

    async def _record(
        self, job: ReviewJob, analysis: Analysis, review_id: int, comments: int, seconds: float
    ) -> None:
        cost = self._options.llm.estimate_cost(analysis.input_tokens, analysis.output_tokens)
        count_review(analysis)
        await self._history.record(review_record(job, analysis, review_id, seconds, cost))
        log.info(
            "review posted", key=job.key, review_id=review_id, comments=comments, seconds=round(seconds, 3)
        )
