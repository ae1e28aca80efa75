"""The end of a review, in the pull request's turn: from the analysis to GitHub and back into the record.

1. the pull request's diff comments are read once: our threads (by their markers), new reactions (feedback),
   replies already posted;
2. findings already posted are left out; those like one the team rejected are suppressed (counted, listed in
   the summary);
3. the review is composed; open findings whose code is gone at this head are found;
4. fencing (the pipeline's: we still own the head's lock and the pull request did not move on);
5. the review is posted only when it has a new inline comment or requests changes;
6. "Addressed in <sha>" once in each addressed thread, and the thread resolved;
7. the record takes the review (findings, walkthrough, coverage, the head), the summary comment is edited (or
   created), the check run completed with the policy's conclusion and the annotations;
8. the record is saved; the head is marked reviewed.

Steps 5 to 8 are each safe to repeat: a retried job finds its review by the head marker (then only steps 7
and 8 run again: :meth:`Publisher.settle_duplicate`), its replies in the ledger, its summary comment by id or
by marker, its check run by id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from argoai_core.logs import get_logger
from argoai_core.models.findings import Severity
from argoai_core.models.job import ReviewJob
from argoai_core.models.policy import PolicySpec
from argoai_core.sanitize import sanitize_markdown
from argoai_reviewer.analysis.anchoring import Anchored, Placement, Unanchored, normalize_block
from argoai_reviewer.analysis.fingerprint import fingerprint_of
from argoai_reviewer.analysis.review import Analysis
from argoai_reviewer.conversation.checks_run import CheckRuns, annotations_for, conclusion_for, result_output
from argoai_reviewer.conversation.feedback.addressed import announce, find_addressed
from argoai_reviewer.conversation.feedback.rejections import Feedback, Suppressor, count
from argoai_reviewer.conversation.markers import marker, with_command_marker
from argoai_reviewer.conversation.ports import GitHubInstallation, ReviewState
from argoai_reviewer.conversation.record import (
    QUOTE_MAX,
    LastReview,
    PullRequestRecord,
    SuppressedFinding,
    TrackedFinding,
)
from argoai_reviewer.conversation.render import ComposedReview, compose_review, coverage_context
from argoai_reviewer.conversation.replies import Replies
from argoai_reviewer.conversation.state import Conversation
from argoai_reviewer.domain import ChangedFile
from argoai_reviewer.outcome import ReviewOutcome

log = get_logger(__name__)

HeadText = Callable[[str], Awaitable[str | None]]
Fence = Callable[[], Awaitable[ReviewOutcome | None]]
NOTE_BODY_MAX = 1_500
MAX_SUPPRESSED_SHOWN = 200


@dataclass(frozen=True)
class ReviewScope:
    """What this review looked at: the pull request's files, and what the push changed.

    ``files`` are the changes shown to the model (None: the pull request's); ``changed`` is None when the
    whole pull request was reviewed (every open finding is checked); ``since`` the head compared with.
    """

    pr_files: Sequence[ChangedFile]
    files: Sequence[ChangedFile] | None = None
    changed: Collection[str] | None = None
    renamed: Mapping[str, str] = field(default_factory=dict)
    since: str | None = None


@dataclass(frozen=True)
class Published:
    """What publishing did."""

    outcome: ReviewOutcome
    review_id: int | None
    comments: int
    # Critical findings this review posted (new ones only: none when nothing was posted).
    critical: tuple[Placement, ...] = ()


def _quote(placement: Placement) -> str:
    # Only an anchored finding's quote is known to be in the file; a note's may never have been.
    if not isinstance(placement, Anchored):
        return ""
    return "\n".join(normalize_block(placement.finding.quote))[:QUOTE_MAX]


def _tracked(placement: Placement, head_sha: str, *, inline: bool, reason: str = "") -> TrackedFinding:
    finding = placement.finding
    line = placement.start if isinstance(placement, Anchored) else finding.start_line
    return TrackedFinding(
        fingerprint=fingerprint_of(placement),
        path=placement.path,
        category=finding.category.value,
        severity=finding.severity.value,
        title=finding.title,
        quote=_quote(placement),
        line=line,
        inline=inline,
        reason=reason,
        body="" if inline else finding.body[:NOTE_BODY_MAX],
        head_sha=head_sha,
    )


def _rejected(record: PullRequestRecord, fingerprint: str) -> bool:
    """Whether the team rejected this finding (or one like it: it was suppressed) on this pull request."""
    known = record.findings.get(fingerprint)
    return fingerprint in record.suppressed or (known is not None and known.status == "rejected")


class Publisher:
    """Carries out the end of a review (see the module docstring)."""

    def __init__(
        self,
        *,
        conversation: Conversation,
        checks: CheckRuns,
        feedback: Feedback,
        replies: Replies,
        state: ReviewState,
    ) -> None:
        self._conversation = conversation
        self._checks = checks
        self._feedback = feedback
        self._replies = replies
        self._state = state

    @property
    def _bot(self) -> str:
        return self._conversation.bot_name

    async def publish(
        self,
        gh: GitHubInstallation,
        job: ReviewJob,
        policy: PolicySpec,
        analysis: Analysis,
        scope: ReviewScope,
        *,
        head_text: HeadText,
        notes: Sequence[str],
        check_id: int | None,
        fence: Fence,
        known: PullRequestRecord | None = None,
        variant: tuple[str, str] | None = None,
    ) -> Published:
        """Post what the review found and bring the summary, the check run and the record up to date.

        ``known``: the record this job already read (from GitHub when Redis had none): not read again.
        ``variant``: the (experiment, variant) reviewing it, recorded in the summary's hidden metadata.
        """
        repo, number, head = job.repo, job.number, job.head_sha
        async with self._conversation.turn(job.pr_key):
            record = (
                await self._conversation.stored(job.pr_key)
                or known
                or await self._conversation.record(gh, repo, number, job.pr_key)
            )
            comments = await gh.review_comments(repo, number)
            await self._feedback.sync(gh, repo, number, record, comments, learn=policy.learn_from_feedback)
            suppressor = (
                await self._feedback.suppressor(repo) if policy.learn_from_feedback else Suppressor(())
            )
            posted = await self._state.posted_fingerprints(job.pr_key)
            fresh: list[Placement] = []
            suppressed: list[Placement] = []
            for placement in analysis.placements:
                if fingerprint_of(placement) in posted:
                    continue
                candidate = placement.finding
                rejected = suppressor.match(
                    fingerprint_of(placement), candidate.category.value, candidate.title, _quote(placement)
                )
                reportable = candidate.severity.rank <= policy.min_severity.rank
                (suppressed if rejected is not None and reportable else fresh).append(placement)
            repeated = len(analysis.placements) - len(fresh) - len(suppressed)
            composed = compose_review(
                fresh, policy=policy, head_sha=head, bot_handle=self._bot, repeated=repeated
            )
            if job.command_id is not None:
                draft = composed.draft
                draft.body = with_command_marker(draft.body, marker(head), job.command_id)
            addressed = await find_addressed(record, scope.changed, head_text, renamed=scope.renamed)
            addressed += self._notes_not_found_again(record, analysis, addressed)
            moved = await fence()
            if moved is not None:
                return Published(moved, None, 0)
            review_id = None
            if composed.postable:
                review_id = await gh.post_review(repo, number, composed.draft)
                # Recorded at once: a retry that fails before the end finds this head reviewed.
                await self._state.mark_reviewed(job.pr_key, head, review_id)
            self._track(record, composed, suppressed, head)
            for gone in addressed:
                gone.status, gone.addressed_in = "addressed", head
            await announce(gh, self._replies, repo, number, head, addressed)
            self._take_review(record, job, analysis, scope, notes)
            record.experiment, record.variant = variant if variant is not None else (None, None)
            await self._conversation.publish(gh, repo, number, record, scope.pr_files)
            conclusion = conclusion_for(policy, record)
            if check_id is not None:
                record.check_run_id = check_id
                await self._checks.complete(
                    gh,
                    repo,
                    check_id,
                    result_output(record, policy, head, conclusion),
                    conclusion,
                    annotations_for(
                        [p for p in analysis.placements if not _rejected(record, fingerprint_of(p))],
                        policy,
                        bot_handle=self._bot,
                    ),
                )
            await self._conversation.save(job.pr_key, record)
        await self._state.mark_reviewed(job.pr_key, head, review_id or 0)
        # Everything reported (inline, or listed in the summary) is not repeated later; findings below the
        # policy's minimum severity were not reported, so they stay eligible.
        shown: list[Placement] = [
            *composed.selection.inline,
            *composed.selection.notes,
            *composed.selection.over_cap,
        ]
        await self._state.add_fingerprints(job.pr_key, {fingerprint_of(p) for p in [*shown, *suppressed]})
        await self._feedback.add_counts(
            repo, {"posted": len(composed.draft.comments) if review_id else 0, "addressed": len(addressed)}
        )
        count(repo, "suppressed", len(suppressed))
        if review_id is not None:
            shown_now: list[Placement] = [*composed.selection.inline, *composed.selection.notes]
            critical = tuple(p for p in shown_now if p.finding.severity is Severity.CRITICAL)
            return Published(
                ReviewOutcome.posted(review_id), review_id, len(composed.draft.comments), critical
            )
        return Published(
            ReviewOutcome.updated("nothing new to post: the summary and the check were updated"), None, 0
        )

    async def settle_duplicate(
        self, gh: GitHubInstallation, job: ReviewJob, policy: PolicySpec, review_id: int
    ) -> None:
        """A review of this head is already posted (an earlier attempt of the job): finish what it may have
        left undone (the head in the record and the summary, the check run), posting nothing again."""
        async with self._conversation.turn(job.pr_key):
            record = await self._conversation.record(gh, job.repo, job.number, job.pr_key)
            # The earlier attempt may have stopped before recording its findings: their threads name them.
            comments = await gh.review_comments(job.repo, job.number)
            await self._feedback.sync(
                gh, job.repo, job.number, record, comments, learn=policy.learn_from_feedback
            )
            if job.head_sha not in record.heads:
                record.reviewed(job.head_sha)
                await self._conversation.publish(
                    gh, job.repo, job.number, record, await gh.files(job.repo, job.number)
                )
                await self._conversation.save(job.pr_key, record)
            check_id = await self._checks.known(job.key)
            if check_id is not None:
                conclusion = conclusion_for(policy, record)
                await self._checks.complete(
                    gh,
                    job.repo,
                    check_id,
                    result_output(record, policy, job.head_sha, conclusion),
                    conclusion,
                )
        await self._state.mark_reviewed(job.pr_key, job.head_sha, review_id)

    @staticmethod
    def _notes_not_found_again(
        record: PullRequestRecord, analysis: Analysis, already: list[TrackedFinding]
    ) -> list[TrackedFinding]:
        """Open findings not attached to a line (no thread, no known quote) whose file this review read again
        without finding them: addressed."""
        reviewed = set(analysis.coverage.reviewed)
        found = {fingerprint_of(p) for p in analysis.placements}
        seen = {f.fingerprint for f in already}
        return [
            f
            for f in record.open_findings()
            if not f.inline
            and f.path in reviewed
            and f.fingerprint not in found
            and f.fingerprint not in seen
        ]

    @staticmethod
    def _track(
        record: PullRequestRecord, composed: ComposedReview, suppressed: list[Placement], head: str
    ) -> None:
        selection = composed.selection
        # Inline comments exist only in a posted review (a review without one is not posted).
        for item in selection.inline:
            record.track(_tracked(item, head, inline=True))
        for note in selection.notes:
            assert isinstance(note, Unanchored)
            record.track(_tracked(note, head, inline=False, reason=note.reason.text))
        for item in selection.over_cap:
            reason = "over the limit of inline comments"
            record.track(_tracked(item, head, inline=False, reason=reason))
        for placement in suppressed:
            tracked = _tracked(placement, head, inline=False)
            if len(record.suppressed) < MAX_SUPPRESSED_SHOWN:
                record.suppressed[tracked.fingerprint] = SuppressedFinding(
                    fingerprint=tracked.fingerprint,
                    path=tracked.path,
                    line=tracked.line,
                    category=tracked.category,
                    title=tracked.title,
                )

    def _take_review(
        self,
        record: PullRequestRecord,
        job: ReviewJob,
        analysis: Analysis,
        scope: ReviewScope,
        notes: Sequence[str],
    ) -> None:
        in_pr = {f.path for f in scope.pr_files}
        record.file_notes = {
            path: text for path, text in {**record.file_notes, **analysis.file_notes}.items() if path in in_pr
        }
        if scope.changed is None and analysis.calls == 1 and analysis.summary:
            # One call saw the whole pull request: its summary is the pull request's overview.
            record.overview = analysis.summary
        context = coverage_context(analysis.coverage, self._bot)
        context["notes"] = [sanitize_markdown(note, bot_handle=self._bot, limit=2_000) for note in notes]
        record.last_review = LastReview(head_sha=job.head_sha, since=scope.since, coverage=context)
        record.reviewed(job.head_sha)
