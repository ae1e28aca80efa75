"""The GitHub review of one job: from a pull request head to exactly one posted review.

Order of a review and why:
1. policy and cheap skips (action, ``ignore`` command, already reviewed) before any GitHub call; then the
   repository's ``.github/argoai.yaml`` from its default branch (cached,
   :mod:`~argoai_reviewer.conversation.repo_config.model`) merged into the policy, and the draft rule;
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

The end of a review (feedback read, suppression, posting only when there is something new, "addressed"
replies, the living summary comment, the check run) is :mod:`~argoai_reviewer.conversation.publish`'s, in the
pull request's turn; the check run is started (``in_progress``) once the lock is held and the pull request
still has this head, and completed as ``skipped`` when the review is superseded.

A :class:`~argoai_core.models.job.CommandJob` (a comment command) is carried out by
:mod:`~argoai_reviewer.conversation.commands.runner`; a ``review`` command comes back here as a forced review
of the current head (the event rules do not apply: action, ignore, pause, draft, already reviewed), and so
does a re-run of the check (``check_run`` ``rerequested``). A forced review's body carries the comment id in a
second marker, so a retried command finds the review it posted instead of posting another. A
:class:`~argoai_core.models.job.PullRequestClosedJob` goes to :mod:`~argoai_reviewer.conversation.lifecycle`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry import trace

from argoai_core.errors import ArgoAIError, RetryableError, UnavailableError
from argoai_core.leases import kept_alive
from argoai_core.logs import get_logger
from argoai_core.models.job import AnyJob, CommandJob, PullRequestClosedJob, ReviewJob
from argoai_core.models.notification import NotifiedFinding
from argoai_core.models.policy import PolicySpec
from argoai_core.settings import LLMSettings
from argoai_reviewer import metrics
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
    review_usage,
)
from argoai_reviewer.conversation.answers.answering import AnswerOptions, Answers
from argoai_reviewer.conversation.answers.model import AnswerModel
from argoai_reviewer.conversation.checks_run import CheckRuns
from argoai_reviewer.conversation.commands.runner import CommandRunner
from argoai_reviewer.conversation.commands.trust import Trust
from argoai_reviewer.conversation.experiment import (
    Assignment,
    apply_to_analysis,
    apply_to_policy,
    assign,
)
from argoai_reviewer.conversation.failures import FailureComment
from argoai_reviewer.conversation.feedback.rejections import Feedback
from argoai_reviewer.conversation.lifecycle import Lifecycle
from argoai_reviewer.conversation.markers import find_command_marker, find_marker
from argoai_reviewer.conversation.ports import (
    ConversationKeys,
    GitHubApp,
    GitHubInstallation,
    LLMCache,
    PolicyProvider,
    PullRequestRecords,
    RepositoryFeedback,
    ReviewHistory,
    ReviewLock,
    ReviewState,
    TokenBudget,
)
from argoai_reviewer.conversation.publish import Publisher, ReviewScope
from argoai_reviewer.conversation.record import PullRequestRecord
from argoai_reviewer.conversation.replies import Replies
from argoai_reviewer.conversation.repo_config.cache import RepoConfigCache
from argoai_reviewer.conversation.repo_config.model import apply_repo_config
from argoai_reviewer.conversation.sources import ReviewSources, SourceOptions, review_sources
from argoai_reviewer.conversation.state import Conversation, TurnOptions
from argoai_reviewer.conversation.summary.comment import SummaryComments
from argoai_reviewer.domain import ChangedFile, FileStatus, PullRequest
from argoai_reviewer.notify.routing import Notifier
from argoai_reviewer.outcome import Heartbeat, OutcomeKind, ReviewOutcome

log = get_logger(__name__)
tracer = trace.get_tracer(__name__)
T = TypeVar("T")

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
    # How long the conversation's state (records, reply ledgers, check-run ids) lives after its last write.
    state_ttl_seconds: float = 30 * 86_400.0
    # How long a closed pull request's state is kept (a reopened one carries on within it).
    closed_ttl_seconds: float = 7 * 86_400.0
    turn: TurnOptions = field(default_factory=TurnOptions)
    # The pod's repository snapshots and code index (no store: single-file reads, no related code).
    sources: SourceOptions = field(default_factory=SourceOptions)
    # Where experiment variants' prompt directories (promptDir) are (ARGOAI_REVIEWER_PROMPTS_DIR).
    prompts_dir: Path | None = None
    # The LLM response cache (None: every question is asked); the policy's llmCacheTtlHours sets its TTL.
    llm_cache: LLMCache | None = None


@dataclass
class _Progress:
    """How far a review got (what a stop request must clean up)."""

    publishing: bool = False


@dataclass(frozen=True)
class ConversationStores:
    """Where the conversation's state lives (Redis in production)."""

    records: PullRequestRecords
    keys: ConversationKeys
    feedback: RepositoryFeedback


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
        stores: ConversationStores,
        failures: FailureComment | None = None,
        answer_model: AnswerModel | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self._github = github
        self._failures = failures
        self._notifier = notifier or Notifier(None, ())
        self._policies = policies
        self._model = model
        self._lock = lock
        self._state = state
        self._history = history
        self._budget = budget
        self._options = options
        self._repo_configs = RepoConfigCache(options.repo_config_ttl_seconds)
        bot = options.analysis.bot_name
        remember = options.state_ttl_seconds
        self._conversation = Conversation(
            stores.records, lock, SummaryComments(bot_name=bot), bot_name=bot, turn=options.turn
        )
        trust = Trust(stores.keys)
        replies = Replies(stores.keys, bot_name=bot, remember_seconds=remember)
        feedback = Feedback(stores.feedback, trust, bot_name=bot)
        self._checks = CheckRuns(stores.keys, bot_name=bot, remember_seconds=remember)
        self._publisher = Publisher(
            conversation=self._conversation,
            checks=self._checks,
            feedback=feedback,
            replies=replies,
            state=state,
        )
        self._commands = CommandRunner(
            github=github,
            policies=policies,
            trust=trust,
            replies=replies,
            conversation=self._conversation,
            feedback=feedback,
            checks=self._checks,
            state=state,
            keys=stores.keys,
            review=self.run,
            answers=Answers(
                model=answer_model,
                budget=budget,
                keys=stores.keys,
                replies=replies,
                conversation=self._conversation,
                options=AnswerOptions(llm=options.llm, sources=options.sources),
            ),
        )
        self._lifecycle = Lifecycle(
            github=github,
            policies=policies,
            conversation=self._conversation,
            feedback=feedback,
            closed_ttl_seconds=options.closed_ttl_seconds,
        )

    async def run(self, job: AnyJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Review ``job`` (or carry out a comment command) and post at most one review for its head."""
        policy = self._policies.policy_for(job.repo)
        # Every job of a pull request in an experiment counts towards its variant (feedback included).
        assignment = assign(policy, job.repo, job.number)
        if assignment is not None:
            metrics.set_variant(assignment.variant.name, assignment.experiment)
        if isinstance(job, CommandJob):
            return await self._commands.run(job, heartbeat)
        if isinstance(job, PullRequestClosedJob):
            return await self._lifecycle.closed(job)
        if job.replay_id is not None:
            job = await self._at_current_head(job)
        # A review a trusted command (or a re-run of the check) asked for skips the event rules.
        forced = job.forced
        if not forced and job.action not in policy.events:
            return ReviewOutcome.skipped(f"the policy does not review '{job.action}' events")
        if not forced and await self._state.is_ignored(job.pr_key):
            return ReviewOutcome.skipped("ignored by a command until someone asks for a review")
        if not forced and await self._state.last_reviewed_head(job.pr_key) == job.head_sha:
            return ReviewOutcome.duplicate()
        if not forced and await self._paused(job.pr_key):
            return ReviewOutcome.skipped("reviews are paused on this pull request (until `resume`)")
        parsed = await self._repo_configs.get(
            self._github.installation(job.installation_id), job.installation_id, job.repo, job.default_branch
        )
        notes = [parsed.note] if parsed.note else []
        if parsed.config is not None:
            policy, merge_notes = apply_repo_config(policy, parsed.config)
            notes += merge_notes
        if job.draft and not policy.review_drafts and not forced:
            return ReviewOutcome.skipped("draft pull request (the policy does not review drafts)")
        policy = apply_to_policy(policy, assignment)
        ttl = self._options.lock_ttl_seconds
        token = await self._lock.acquire(job.key, ttl)
        if token is None:
            # Another pod is reviewing this head; come back later, when its outcome is recorded.
            raise RetryableError("another reviewer holds this head's lock", delay=ttl / 2)
        try:
            # Fencing refuses to post if the lock was lost while the review ran.
            async with kept_alive(
                lambda: self._lock.extend(job.key, token, ttl), ttl / 3, what="this head's lock"
            ):
                with tracer.start_as_current_span("review", attributes={"review.key": job.key}):
                    return await self._review(job, policy, heartbeat, token, notes, assignment)
        finally:
            await self._release(job.key, token)

    async def _at_current_head(self, job: ReviewJob) -> ReviewJob:
        """A replayed dead letter is reviewed at the pull request's current head (it may have moved on
        while the job waited in the dead-letter stream); a closed one is left as it is (then superseded)."""
        pr = await self._github.installation(job.installation_id).pull_request(job.repo, job.number)
        if pr.state != "open" or pr.head_sha == job.head_sha:
            return job
        log.info("replayed job reviewed at the current head", key=job.key, head=pr.head_sha[:12])
        return job.model_copy(update={"head_sha": pr.head_sha, "base_sha": pr.base_sha, "before_sha": None})

    async def _release(self, key: str, token: str) -> None:
        """Release the head's lock; if Redis does not answer, its TTL frees it, and the outcome stands."""
        try:
            await self._lock.release(key, token)
        except UnavailableError as exc:
            log.warning("could not release this head's lock; it expires by itself", key=key, error=str(exc))

    async def _paused(self, pr_key: str) -> bool:
        record = await self._conversation.stored(pr_key)
        return record is not None and record.paused

    async def job_dead_lettered(self, job: AnyJob, reason: str, letter: str) -> None:
        """The runtime's ``DeadLetterObserver``: the policy's ``dead_lettered`` notification."""
        await self._notifier.dead_lettered(job, self._policies.policy_for(job.repo), reason, letter)

    async def review_failed(self, job: ReviewJob, reason: str) -> None:
        """The runtime's ``FailureNotifier``: tell the pull request (when configured to), and complete the
        check run (never left in progress); the one failing does not keep the other from being done; then
        the policy's ``review_failed`` notification."""
        await self._notifier.review_failed(job, self._policies.policy_for(job.repo), reason)
        try:
            if self._failures is not None:
                await self._failures.review_failed(job, reason)
        finally:
            try:
                await self._checks.finish(
                    self._github.installation(job.installation_id),
                    job.repo,
                    job.key,
                    "neutral",
                    "ArgoAI could not review this commit",
                    f"The review of `{job.head_sha[:12]}` failed after repeated attempts. Re-run this check "
                    "to try again.",
                )
            except ArgoAIError as exc:
                log.warning("could not complete the failed review's check run", key=job.key, error=str(exc))

    async def _review(
        self,
        job: ReviewJob,
        policy: PolicySpec,
        heartbeat: Heartbeat,
        token: str,
        notes: list[str],
        assignment: Assignment | None = None,
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
            elif find_marker(review.body) == job.head_sha and not job.forced:
                await self._publisher.settle_duplicate(gh, job, policy, review.id)
                return ReviewOutcome.duplicate("a review of this head is already on the pull request")
        record = None
        if not job.forced:
            record = await self._conversation.record(gh, job.repo, job.number, job.pr_key)
            if job.head_sha in record.heads:
                # Reviewed with nothing to post (the summary records the head): nothing to do again.
                await self._state.mark_reviewed(job.pr_key, job.head_sha, 0)
                return ReviewOutcome.duplicate("the summary comment records this head as reviewed")
        progress = _Progress()
        try:
            check_id = await self._checks.start(gh, job.repo, job.head_sha, job.key)
            outcome = await self._analyze_and_publish(
                gh, job, pr, policy, heartbeat, token, notes, check_id, started, record, progress, assignment
            )
        except asyncio.CancelledError:
            # Stopped before publishing (the runtime stops the review of a head a newer push replaced, or the
            # process stops): the check run is not left in progress. Once publishing began, it completes it.
            if not progress.publishing:
                await asyncio.shield(
                    self._checks.finish(
                        gh,
                        job.repo,
                        job.key,
                        "skipped",
                        "Superseded",
                        "Not reviewed: the review was stopped.",
                    )
                )
            raise
        if outcome.kind is OutcomeKind.SUPERSEDED:
            await self._checks.finish(
                gh, job.repo, job.key, "skipped", "Superseded", f"Not reviewed: {outcome.reason}."
            )
        return outcome

    async def _analyze_and_publish(
        self,
        gh: GitHubInstallation,
        job: ReviewJob,
        pr: PullRequest,
        policy: PolicySpec,
        heartbeat: Heartbeat,
        token: str,
        notes: list[str],
        check_id: int | None,
        started: float,
        record: PullRequestRecord | None,
        progress: _Progress,
        assignment: Assignment | None = None,
    ) -> ReviewOutcome:
        pr_files = await gh.files(job.repo, job.number)
        options = apply_to_analysis(self._options.analysis, assignment, self._options.prompts_dir)
        variant = assignment.label if assignment is not None else None
        # A review asked for in full (``full review``, a re-run of the check) covers the whole pull request.
        scope = ReviewScope(pr_files=pr_files) if job.full else await self._scope(gh, job, pr_files)
        files = pr_files if scope.files is None else list(scope.files)
        files_base = scope.since or pr.base_sha
        policy, provider_note = within_configured_llm(policy, self._options.llm.provider)
        model, budget_note = await llm_within_budget(self._budget, self._model, job, policy)
        cache = self._options.llm_cache
        if model is not None and cache is not None:
            # Per installation: an answer about one customer's code is never served to another.
            installation = f"{job.repo.host}/{job.installation_id}"
            model = cache.around(model, scope=installation, ttl_seconds=policy.llm_cache_ttl_hours * 3600.0)
        notes += [note for note in (provider_note, budget_note) if note]
        if budget_note:
            await self._notifier.budget_exhausted(job, policy)

        async def fence() -> ReviewOutcome | None:
            # Only the lock's owner posts, and only for the head the pull request still has.
            if not await self._lock.extend(job.key, token, self._options.lock_ttl_seconds):
                raise RetryableError("lost this head's lock while reviewing", delay=5.0)
            return self._moved_on(job, await gh.pull_request(job.repo, job.number))

        async with review_sources(gh, job.repo, job.head_sha, self._options.sources) as sources:
            request = await self._request(pr, policy, pr_files, files, files_base, sources)
            analysis = await analyze(
                request, policy, model, self._counter(policy), options, heartbeat=heartbeat
            )
            await self._budget.spend(budget_scope(job), analysis.input_tokens + analysis.output_tokens)
            # Still in the snapshot: the "addressed" check reads the head's files from it.
            progress.publishing = True
            published = await _uninterrupted(
                self._publisher.publish(
                    gh,
                    job,
                    policy,
                    analysis,
                    scope,
                    head_text=sources.head_text,
                    notes=notes,
                    check_id=check_id,
                    fence=fence,
                    known=record,
                    variant=variant,
                )
            )
        outcome = published.outcome
        if outcome.kind in (OutcomeKind.POSTED, OutcomeKind.UPDATED):
            cost = await self._record(
                job, analysis, published.review_id, published.comments, time.monotonic() - started
            )
            outcome = replace(outcome, usage=review_usage(analysis, published.review_id, cost))
        if published.critical:
            findings = [
                NotifiedFinding(
                    severity=p.finding.severity.value,
                    title=p.finding.title[:500],
                    path=p.path[:500],
                    line=getattr(p, "start", None) or p.finding.start_line,
                )
                for p in published.critical
            ]
            await self._notifier.critical_findings(job, policy, findings, variant=variant)
        return outcome

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
        self, gh: GitHubInstallation, job: ReviewJob, pr_files: list[ChangedFile]
    ) -> ReviewScope:
        """The whole pull request, or only what changed since the last reviewed head (and what that is)."""
        last = await self._state.last_reviewed_head(job.pr_key)
        if last is None or last == job.head_sha:
            return ReviewScope(pr_files=pr_files)
        comparison = await gh.compare(job.repo, last, job.head_sha)
        if len(comparison.files) >= COMPARE_FILE_CAP:
            log.info("push changed too many files to list: full review", key=job.key)
            return ReviewScope(pr_files=pr_files)
        if comparison.status != LINEAR:
            log.info(
                "history rewritten since last review: full review", key=job.key, status=comparison.status
            )
            return ReviewScope(pr_files=pr_files)
        # Files the push changed; one no longer different from the base has nothing left to comment on (it
        # is left out of the review), but the findings on it may have been addressed.
        renamed = {
            changed.previous_path: changed.path
            for changed in comparison.files
            if changed.status is FileStatus.RENAMED and changed.previous_path
        }
        in_pr = {changed.path for changed in pr_files}
        return ReviewScope(
            pr_files=pr_files,
            files=[changed for changed in comparison.files if changed.path in in_pr],
            changed=frozenset(changed.path for changed in comparison.files) | frozenset(renamed),
            renamed=renamed,
            since=last,
        )

    def _counter(self, policy: PolicySpec) -> TokenCounter:
        llm = self._options.llm
        return counter_for(policy.provider or llm.provider, policy.model or llm.model)

    async def _record(
        self, job: ReviewJob, analysis: Analysis, review_id: int | None, comments: int, seconds: float
    ) -> float:
        cost = self._options.llm.estimate_cost(analysis.input_tokens, analysis.output_tokens)
        count_review(analysis)
        await self._history.record(review_record(job, analysis, review_id, seconds, cost))
        log.info(
            "review posted" if review_id is not None else "reviewed: nothing new to post",
            key=job.key,
            review_id=review_id,
            comments=comments,
            seconds=round(seconds, 3),
        )
        return cost


async def _uninterrupted(publishing: Coroutine[Any, Any, T]) -> T:
    """Run ``publishing`` to its end even if this task is asked to stop meanwhile.

    Publishing is fenced (it posts only for the current head) and has several steps (review, replies,
    summary, check run, record): stopped halfway, the pull request's state would be left inconsistent. A
    stop request that arrives during it is withdrawn once publishing is done; a second one is obeyed.
    """
    task = asyncio.ensure_future(publishing)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is None or current.cancelling() > 1:
            raise
        result = await asyncio.shield(task)
        current.uncancel()
        return result
