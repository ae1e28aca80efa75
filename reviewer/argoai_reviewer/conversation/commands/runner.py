"""Carrying out a comment command: policy, trust, 👀, the command, then its answer or a one-line confirmation.

1. The policy must enable the command (``PolicySpec.commands``; a ``question``, a mention in a thread, is
   enabled by ``ask``); otherwise nothing happens (no GitHub call). A ``question`` in a thread that does not
   start with one of ArgoAI's inline comments is not for ArgoAI: nothing happens either (one GitHub read).
2. The commenter must be trusted (:class:`~.trust.Trust`); otherwise one short
   reply says who may use commands, once per comment and at most :data:`REFUSALS_PER_HOUR` per pull request
   (anyone can comment, so refusals must not become a way to make the bot write without end).
3. A 👀 reaction acknowledges the command on receipt.
4. The command runs (:data:`HANDLERS`); its answer, or a one-line confirmation, is posted once
   (:class:`~argoai_reviewer.conversation.replies.Replies`): a new conversation comment for a command in the
   conversation, a reply in the thread for one in a diff thread. A command that leads to a review has the
   review as its answer; it gets a line only when the review had nothing new to post.

``ask`` and ``question`` are answered by :mod:`~argoai_reviewer.conversation.answers` (the model, with the
thread's code or the pull request's diff as context), posted once like every answer.

Adding a command: a word in ``commands.GRAMMAR`` (with its rule for the words that follow), a value of
``JobCommand`` and of the policy's ``Command``, and a handler here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.job import CommandJob, ReviewJob
from argoai_core.models.policy import PolicySpec
from argoai_reviewer import metrics
from argoai_reviewer.conversation.answers.answering import Answers
from argoai_reviewer.conversation.checks_run import CheckRuns, conclusion_for, result_output
from argoai_reviewer.conversation.commands.grammar import POLICY_COMMAND, REFUSAL, help_text
from argoai_reviewer.conversation.commands.trust import Trust
from argoai_reviewer.conversation.feedback.rejections import Feedback
from argoai_reviewer.conversation.markers import find_finding_marker
from argoai_reviewer.conversation.ports import (
    ConversationKeys,
    GitHubApp,
    GitHubInstallation,
    PolicyProvider,
    ReviewState,
)
from argoai_reviewer.conversation.record import PullRequestRecord, TrackedFinding
from argoai_reviewer.conversation.replies import Replies
from argoai_reviewer.conversation.state import Conversation
from argoai_reviewer.outcome import Heartbeat, OutcomeKind, ReviewOutcome

log = get_logger(__name__)

REFUSALS_PER_HOUR = 10
"""Refusals posted per pull request per hour; further untrusted commands get no reply."""

Review = Callable[[ReviewJob, Heartbeat], Awaitable[ReviewOutcome]]
Answer = tuple[ReviewOutcome, str | None]


class CommandRunner:
    """Runs :class:`~argoai_core.models.job.CommandJob` s (see the module docstring)."""

    def __init__(
        self,
        *,
        github: GitHubApp,
        policies: PolicyProvider,
        trust: Trust,
        replies: Replies,
        conversation: Conversation,
        feedback: Feedback,
        checks: CheckRuns,
        state: ReviewState,
        keys: ConversationKeys,
        review: Review,
        answers: Answers,
    ) -> None:
        self._github = github
        self._policies = policies
        self._trust = trust
        self._replies = replies
        self._conversation = conversation
        self._feedback = feedback
        self._checks = checks
        self._state = state
        self._keys = keys
        self._review = review
        self._answers = answers
        self._handlers: dict[
            str, Callable[[GitHubInstallation, CommandJob, PolicySpec, Heartbeat], Awaitable[Answer]]
        ] = {
            "help": self._help,
            "review": self._review_command,
            "full-review": self._review_command,
            "pause": self._pause,
            "resume": self._resume,
            "ignore": self._ignore,
            "summary": self._summary,
            "dismiss": self._dismiss,
            "ask": self._ask,
            "question": self._ask,
        }

    @property
    def _bot(self) -> str:
        return self._conversation.bot_name

    async def run(self, job: CommandJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Carry out ``job`` if the policy enables it and its author may give commands."""
        policy = self._policies.policy_for(job.repo)
        if POLICY_COMMAND.get(job.command, job.command) not in policy.commands:
            metrics.COMMANDS.labels(command=job.command, result="disabled").inc()
            log.info("command not enabled by the policy", command=job.command, commenter=job.commenter)
            return ReviewOutcome.skipped(f"the policy does not enable the '{job.command}' command")
        gh = self._github.installation(job.installation_id)
        if job.command == "question" and not await self._answers.about_ours(gh, job):
            metrics.COMMANDS.labels(command=job.command, result="not_ours").inc()
            return ReviewOutcome.skipped("a mention in a thread that is not on an ArgoAI comment")
        # Version 2 jobs were made for trusted commenters only (the intake checked their association).
        if job.association is not None and not await self._trust.may_command(
            gh, job.repo, job.commenter, job.association
        ):
            return await self._refuse(gh, job)
        await self._replies.acknowledge(gh, job.repo, job.comment_kind, job.comment_id)
        outcome, answer = await self._handlers[job.command](gh, job, policy, heartbeat)
        if answer is not None:
            await self._answer(gh, job, answer)
        metrics.COMMANDS.labels(command=job.command, result="done").inc()
        return outcome

    async def _answer(
        self, gh: GitHubInstallation, job: CommandJob, text: str, purpose: str | None = None
    ) -> None:
        await self._replies.once(
            gh,
            job.repo,
            job.number,
            kind=job.comment_kind,
            target=job.comment_id,
            thread=job.in_reply_to or job.comment_id,
            purpose=purpose or job.command,
            text=text,
        )

    async def _refuse(self, gh: GitHubInstallation, job: CommandJob) -> ReviewOutcome:
        metrics.COMMANDS.labels(command=job.command, result="refused").inc()
        log.info("command refused", command=job.command, commenter=job.commenter, association=job.association)
        if await self._keys.count(f"refusals:{job.pr_key}", 3600) <= REFUSALS_PER_HOUR:
            await self._answer(gh, job, REFUSAL, purpose="refused")
        return ReviewOutcome.skipped(f"@{job.commenter} may not give commands")

    # ----- the commands ----------------------------------------------------------------------------------

    async def _help(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, _: Heartbeat
    ) -> Answer:
        return ReviewOutcome.skipped("help answered"), help_text(policy.commands, self._bot)

    async def _ask(self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, _: Heartbeat) -> Answer:
        return await self._answers.answer(gh, job, policy)

    async def _forced(
        self, gh: GitHubInstallation, job: CommandJob, *, full: bool
    ) -> ReviewJob | ReviewOutcome:
        pr = await gh.pull_request(job.repo, job.number)
        if pr.state != "open":
            return ReviewOutcome.superseded(f"the pull request is {pr.state}")
        return ReviewJob(
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
            full=full,
        )

    async def _reviewed(self, job: CommandJob, head_sha: str) -> bool:
        if await self._state.last_reviewed_head(job.pr_key) == head_sha:
            return True
        record = await self._conversation.stored(job.pr_key)
        return record is not None and head_sha in record.heads

    async def _run_review(self, forced: ReviewJob, heartbeat: Heartbeat) -> Answer:
        """Review ``forced``; its outcome, and a line to answer with when the review itself is no answer."""
        outcome = await self._review(forced, heartbeat)
        short = forced.head_sha[:12]
        if outcome.kind in (OutcomeKind.POSTED, OutcomeKind.DUPLICATE):
            # The review is the answer (a duplicate: posted by an earlier attempt of this command).
            return outcome, None
        if outcome.kind is OutcomeKind.UPDATED:
            return (
                outcome,
                f"Reviewed `{short}`: nothing new to comment on (the summary comment is up to date).",
            )
        return outcome, f"Could not review `{short}`: {outcome.reason}."

    async def _review_command(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, heartbeat: Heartbeat
    ) -> Answer:
        await self._state.set_ignored(job.pr_key, False)
        full = job.command == "full-review"
        forced = await self._forced(gh, job, full=full)
        if isinstance(forced, ReviewOutcome):
            return forced, None
        if not full and await self._reviewed(job, forced.head_sha):
            return ReviewOutcome.duplicate("this head is already reviewed"), (
                f"Commit `{forced.head_sha[:12]}` is already reviewed; `@{self._bot} full review` reviews "
                "the whole pull request again."
            )
        return await self._run_review(forced, heartbeat)

    async def _set_paused(self, gh: GitHubInstallation, job: CommandJob, paused: bool) -> PullRequestRecord:
        async with self._conversation.turn(job.pr_key):
            record = await self._conversation.record(gh, job.repo, job.number, job.pr_key)
            if record.paused != paused or record.summary_comment_id is None:
                record.paused = paused
                await self._conversation.publish(
                    gh, job.repo, job.number, record, await gh.files(job.repo, job.number)
                )
                await self._conversation.save(job.pr_key, record)
            return record

    async def _pause(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, _: Heartbeat
    ) -> Answer:
        await self._set_paused(gh, job, True)
        return ReviewOutcome.skipped("reviews paused"), (
            f"Automatic reviews are paused on this pull request; `@{self._bot} resume` resumes them."
        )

    async def _resume(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, heartbeat: Heartbeat
    ) -> Answer:
        await self._set_paused(gh, job, False)
        await self._state.set_ignored(job.pr_key, False)
        forced = await self._forced(gh, job, full=False)
        if isinstance(forced, ReviewOutcome):
            return forced, "Automatic reviews resumed."
        if await self._reviewed(job, forced.head_sha):
            return ReviewOutcome.skipped("reviews resumed"), (
                f"Automatic reviews resumed; commit `{forced.head_sha[:12]}` is already reviewed."
            )
        outcome, answer = await self._run_review(forced, heartbeat)
        return outcome, "Automatic reviews resumed." + (f" {answer}" if answer else "")

    async def _ignore(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, _: Heartbeat
    ) -> Answer:
        await self._state.set_ignored(job.pr_key, True)
        return ReviewOutcome.skipped(f"@{job.commenter} asked to ignore this pull request"), (
            f"This pull request's pushes are ignored until someone asks for a review (`@{self._bot} review`)."
        )

    async def _summary(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, _: Heartbeat
    ) -> Answer:
        async with self._conversation.turn(job.pr_key):
            record = await self._conversation.record(gh, job.repo, job.number, job.pr_key)
            await self._conversation.publish(
                gh, job.repo, job.number, record, await gh.files(job.repo, job.number)
            )
            await self._conversation.save(job.pr_key, record)
        return ReviewOutcome.skipped("summary rebuilt"), "The summary comment is up to date."

    async def _dismiss(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, _: Heartbeat
    ) -> Answer:
        root = job.in_reply_to
        if job.comment_kind != "review" or root is None:
            return ReviewOutcome.skipped("dismiss outside a thread"), (
                f"`@{self._bot} dismiss` works in a reply to one of ArgoAI's inline comments."
            )
        first = await gh.review_comment(job.repo, root)
        marked = find_finding_marker(first.body) if first is not None else None
        if first is None or marked is None or not self._replies.is_ours(first.author, first.author_is_bot):
            return ReviewOutcome.skipped("dismiss outside an ArgoAI thread"), (
                f"`@{self._bot} dismiss` works in a reply to one of ArgoAI's inline comments."
            )
        fingerprint, category, severity = marked
        async with self._conversation.turn(job.pr_key):
            record = await self._conversation.record(gh, job.repo, job.number, job.pr_key)
            finding = record.findings.get(fingerprint)
            if finding is None:
                finding = TrackedFinding(
                    fingerprint=fingerprint, path=first.path, category=category, severity=severity
                )
                record.findings[fingerprint] = finding
            finding.comment_id = root
            if finding.status != "rejected":
                await self._feedback.reject(job.repo, job.number, finding, source="dismiss", by=job.commenter)
                await self._conversation.publish(
                    gh, job.repo, job.number, record, await gh.files(job.repo, job.number)
                )
                await self._recheck(gh, job, policy, record)
                await self._conversation.save(job.pr_key, record)
        await self._resolve(gh, job, root)
        return ReviewOutcome.skipped("finding dismissed"), (
            "Dismissed as a false positive: ArgoAI will not post findings like this one in this repository "
            "again."
        )

    async def _recheck(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, record: PullRequestRecord
    ) -> None:
        """The last check run's conclusion again, now that a finding is no longer open."""
        if record.check_run_id is None or record.last_review is None:
            return
        conclusion = conclusion_for(policy, record)
        output = result_output(record, policy, record.last_review.head_sha, conclusion)
        await self._checks.complete(gh, job.repo, record.check_run_id, output, conclusion)

    async def _resolve(self, gh: GitHubInstallation, job: CommandJob, root: int) -> None:
        try:
            for thread in await gh.review_threads(job.repo, job.number):
                if thread.first_comment_id == root and not thread.resolved:
                    await gh.resolve_thread(job.repo, thread.id)
        except PermanentError as exc:
            log.warning("could not resolve a dismissed thread", error=str(exc))
