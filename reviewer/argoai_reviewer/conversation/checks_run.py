"""The ``ArgoAI`` check run of each reviewed head: visible progress, a result branch protection can require.

* ``in_progress`` when the review starts (a retried job finds the run it created: its id is kept in Redis,
  and GitHub is asked for an unfinished ``ArgoAI`` run of ours on that commit when Redis has none);
* completed at the end with the policy's conclusion: ``failure`` when an open finding of the pull request is
  at or above ``checkFailOn``, else ``checkPassConclusion`` (``success`` or ``neutral``);
* the 50 most severe findings of the review as annotations (GitHub takes at most 50 per request), the summary
  saying how many more are in the review: one request, because every write of an installation is paced a
  second apart (ten requests for 500 annotations kept each review ten seconds longer); a retried job does not
  send a chunk twice;
* a review superseded by a newer commit completes its run as ``skipped``; one that failed for good as
  ``neutral``, with one line saying why (the re-run button, ``check_run`` ``rerequested``, reviews it again).

A check run is a convenience, never a reason to fail a review: an installation that has not granted the Checks
permission (403) gets its reviews without one, and the warning is logged.
"""

from __future__ import annotations

from collections.abc import Sequence

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.findings import Severity
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec
from argoai_core.sanitize import sanitize_markdown, sanitize_title
from argoai_reviewer import metrics
from argoai_reviewer.analysis.anchoring import Anchored, Placement
from argoai_reviewer.conversation.ports import ConversationGitHub, ConversationKeys
from argoai_reviewer.conversation.record import PullRequestRecord
from argoai_reviewer.domain import Annotation, CheckRunOutput

log = get_logger(__name__)

CHECK_NAME = "ArgoAI"
ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATIONS = ANNOTATIONS_PER_REQUEST
MESSAGE_MAX = 4_000
LEVELS = {
    Severity.CRITICAL: "failure",
    Severity.MAJOR: "warning",
    Severity.MINOR: "notice",
    Severity.NIT: "notice",
}


def conclusion_for(policy: PolicySpec, record: PullRequestRecord) -> str:
    """``failure`` when an open finding is at or above ``policy.check_fail_on``, else the pass conclusion."""
    if policy.check_fail_on is not None:
        limit = policy.check_fail_on.rank
        for finding in record.open_findings():
            try:
                if Severity(finding.severity).rank <= limit:
                    return "failure"
            except ValueError:
                continue
    return policy.check_pass_conclusion


def annotations_for(
    placements: Sequence[Placement], policy: PolicySpec, *, bot_handle: str
) -> tuple[list[Annotation], int]:
    """The review's anchored findings at or above the policy's minimum severity, most severe first, at most
    :data:`MAX_ANNOTATIONS`; and how many more there were."""
    anchored = [
        p
        for p in placements
        if isinstance(p, Anchored) and p.finding.severity.rank <= policy.min_severity.rank
    ]
    anchored.sort(key=lambda p: (p.finding.severity.rank, p.path, p.start))
    annotations = [
        Annotation(
            path=p.path,
            start_line=p.start,
            end_line=p.end,
            level=LEVELS[p.finding.severity],
            title=sanitize_title(p.finding.title, bot_handle=bot_handle),
            # Annotations are plain text; the model's body is sanitized all the same (no mentions, no links).
            message=sanitize_markdown(p.finding.body, bot_handle=bot_handle, limit=MESSAGE_MAX),
        )
        for p in anchored[:MAX_ANNOTATIONS]
    ]
    return annotations, len(anchored) - len(annotations)


def result_output(
    record: PullRequestRecord, policy: PolicySpec, head_sha: str, conclusion: str, *, not_annotated: int = 0
) -> CheckRunOutput:
    """The completed run's title and summary (``not_annotated``: findings left out of the annotations)."""
    open_findings = record.open_findings()
    failing = (
        [f for f in open_findings if _at_or_above(f.severity, policy.check_fail_on)]
        if policy.check_fail_on is not None
        else []
    )
    if conclusion == "failure" and policy.check_fail_on is not None:
        title = f"{len(failing)} open finding(s) at or above {policy.check_fail_on.value}"
    else:
        title = f"{len(open_findings)} open finding(s)" if open_findings else "No open findings"
    statuses = [f.status for f in record.findings.values()]
    summary = (
        f"Reviewed commit `{head_sha[:12]}`. Findings on this pull request: {statuses.count('open')} open, "
        f"{statuses.count('addressed')} addressed, {statuses.count('rejected')} dismissed. "
        + (
            f"The check fails while a finding at or above {policy.check_fail_on.value} is open."
            if policy.check_fail_on is not None
            else "The policy never fails this check."
        )
        + (
            f" The {MAX_ANNOTATIONS} most severe findings of this review are annotated; "
            f"{not_annotated} more are in the review."
            if not_annotated
            else ""
        )
    )
    return CheckRunOutput(title=title, summary=summary)


def _at_or_above(severity: str, limit: Severity | None) -> bool:
    if limit is None:
        return False
    try:
        return Severity(severity).rank <= limit.rank
    except ValueError:
        return False


class CheckRuns:
    """Creates and completes the ``ArgoAI`` check run of reviewed heads."""

    def __init__(self, keys: ConversationKeys, *, bot_name: str, remember_seconds: float) -> None:
        self._keys = keys
        self._bot = bot_name.lower()
        self._remember = remember_seconds

    async def start(self, gh: ConversationGitHub, repo: RepoRef, head_sha: str, run_key: str) -> int | None:
        """The in-progress run for ``run_key`` (created once); None when GitHub refuses check runs."""
        key = f"check:{run_key}"
        known = await self._keys.get(key)
        if known is not None:
            return int(known)
        try:
            for run in await gh.check_runs(repo, head_sha, CHECK_NAME):
                # A retried job whose Redis entry was lost: the unfinished run of ours on this commit.
                ours = run.app_slug is None or run.app_slug.lower() == self._bot
                if run.status != "completed" and ours:
                    await self._keys.put(key, str(run.id), self._remember)
                    return run.id
            check_id = await gh.create_check_run(
                repo,
                head_sha,
                CHECK_NAME,
                CheckRunOutput(title="Reviewing…", summary=f"ArgoAI is reviewing commit `{head_sha[:12]}`."),
            )
        except PermanentError as exc:
            log.warning("no check run: GitHub refused it (is the Checks permission granted?)", error=str(exc))
            return None
        await self._keys.put(key, str(check_id), self._remember)
        return check_id

    async def known(self, run_key: str) -> int | None:
        """The run created for ``run_key``, if any."""
        known = await self._keys.get(f"check:{run_key}")
        return int(known) if known is not None else None

    async def complete(
        self,
        gh: ConversationGitHub,
        repo: RepoRef,
        check_id: int,
        output: CheckRunOutput,
        conclusion: str,
        annotations: Sequence[Annotation] = (),
    ) -> None:
        """Send ``annotations`` 50 at a time; the last request completes the run with ``conclusion``."""
        chunks = [
            list(annotations[i : i + ANNOTATIONS_PER_REQUEST])
            for i in range(0, len(annotations), ANNOTATIONS_PER_REQUEST)
        ] or [[]]
        sent_key = f"check:{check_id}:chunks"
        sent = int(await self._keys.get(sent_key) or 0)
        try:
            for index, chunk in enumerate(chunks):
                last = index == len(chunks) - 1
                if index < sent and not last:
                    continue  # sent by an earlier attempt of this job
                await gh.update_check_run(
                    repo,
                    check_id,
                    output,
                    annotations=chunk if index >= sent else [],
                    conclusion=conclusion if last else None,
                )
                await self._keys.put(sent_key, str(index + 1), self._remember)
        except PermanentError as exc:
            log.warning("could not complete the check run", check=check_id, error=str(exc))
            return
        metrics.CHECK_RUNS.labels(conclusion=conclusion).inc()

    async def finish(
        self, gh: ConversationGitHub, repo: RepoRef, run_key: str, conclusion: str, title: str, summary: str
    ) -> None:
        """Complete the run of ``run_key`` (when one was created) without annotations."""
        check_id = await self.known(run_key)
        if check_id is not None:
            await self.complete(gh, repo, check_id, CheckRunOutput(title=title, summary=summary), conclusion)
