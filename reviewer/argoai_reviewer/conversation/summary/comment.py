"""The living summary comment: one conversation comment per pull request, edited in place, never reposted.

It carries the walkthrough (:mod:`~argoai_reviewer.conversation.summary.walkthrough`),
the effort and risk estimates,
the findings (open, addressed, dismissed, suppressed by the team's feedback, and those not attached to a
line), what the last review covered, the reviewed commits and whether reviews are paused. Its hidden metadata
(the reviewed heads and the pause) lets a reviewer that lost its Redis state carry on
(:func:`record_from_comment`), and a retried job finds the comment instead of posting a second one.

Everything from the pull request or the model is sanitized here (paths, titles, descriptions, bodies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.findings import Severity
from argoai_core.models.job import RepoRef
from argoai_core.sanitize import SUMMARY_MAX, sanitize_markdown, sanitize_path, sanitize_title
from argoai_reviewer.conversation.markers import find_summary_meta, summary_marker
from argoai_reviewer.conversation.ports import ConversationGitHub
from argoai_reviewer.conversation.record import PullRequestRecord, TrackedFinding
from argoai_reviewer.conversation.render import BADGES
from argoai_reviewer.conversation.summary.walkthrough import Row, effort, risk, rows
from argoai_reviewer.domain import ChangedFile, IssueComment

log = get_logger(__name__)

BODY_LIMIT = 60_000
"""Longest summary body (GitHub allows 65,536 characters); each section has its own budget within it."""
TABLE_BUDGET = 20_000
NOTES_BUDGET = 15_000
SUPPRESSED_BUDGET = 5_000
COVERAGE_BUDGET = 8_000
NOTE_BODY_MAX = 1_000
HEADS_SHOWN = 10
META_HEADS = 50

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("argoai_reviewer.conversation", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701 - Markdown, every value sanitized before it gets here
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


def _cell(text: str) -> str:
    # A pipe would end the table cell, even inside inline code.
    return text.replace("|", "\\|")


def _fit(items: list[str], budget: int) -> tuple[list[str], int]:
    """The leading items that fit ``budget`` characters, and how many did not."""
    taken, used = [], 0
    for item in items:
        if used + len(item) + 1 > budget:
            break
        taken.append(item)
        used += len(item) + 1
    return taken, len(items) - len(taken)


def _badge(severity: str) -> str:
    try:
        return BADGES[Severity(severity)]
    except ValueError:
        return severity


def _note(finding: TrackedFinding, bot_handle: str) -> str:
    where = f"`{_cell(sanitize_path(finding.path))}`" + (f" line {finding.line}" if finding.line else "")
    title = sanitize_title(finding.title, bot_handle=bot_handle)
    line = f"- **{_badge(finding.severity)}** · {finding.category} — **{title}** · {where}"
    if finding.reason:
        line += f" · {sanitize_title(finding.reason, bot_handle=bot_handle)}"
    if finding.body:
        body = sanitize_markdown(finding.body, bot_handle=bot_handle, limit=NOTE_BODY_MAX)
        line += "\n\n  " + body.replace("\n", "\n  ")
    return line


@dataclass(frozen=True)
class SummaryInputs:
    """What the summary shows besides the record: the pull request's files now, and the bot's handle."""

    files: Sequence[ChangedFile]
    bot_handle: str


def render_summary(record: PullRequestRecord, inputs: SummaryInputs) -> str:
    """The summary comment's body for ``record`` (ends with its hidden metadata marker)."""
    handle = inputs.bot_handle
    table: list[Row] = rows(inputs.files, record.file_notes, bot_handle=handle)
    lines, table_more = _fit([f"| {_cell(r.name)} | {_cell(r.description)} |" for r in table], TABLE_BUDGET)
    open_findings = record.open_findings()
    notes, notes_more = _fit(
        [
            _note(f, handle)
            for f in sorted(open_findings, key=lambda f: (f.path, f.line or 0))
            if not f.inline
        ],
        NOTES_BUDGET,
    )
    suppressed, suppressed_more = _fit(
        [
            f"- `{_cell(sanitize_path(s.path))}`{f' line {s.line}' if s.line else ''} — "
            f"{sanitize_title(s.title, bot_handle=handle)} ({s.category})"
            for s in record.suppressed.values()
        ],
        SUPPRESSED_BUDGET,
    )
    statuses = [f.status for f in record.findings.values()]
    level, minutes = effort(inputs.files)
    risk_level, risk_why = risk(inputs.files, open_findings)
    last = record.last_review
    coverage: dict[str, Any] = dict(last.coverage) if last else {}
    body = _ENV.get_template("summary.md.j2").render(
        paused=record.paused,
        bot=handle,
        overview=sanitize_markdown(record.overview, bot_handle=handle, limit=SUMMARY_MAX // 5),
        files_count=len(inputs.files),
        additions=sum(f.additions for f in inputs.files),
        deletions=sum(f.deletions for f in inputs.files),
        effort=level,
        effort_minutes=minutes,
        risk=risk_level,
        risk_why=risk_why,
        table=lines,
        table_more=table_more,
        open_count=statuses.count("open"),
        addressed_count=statuses.count("addressed"),
        rejected_count=statuses.count("rejected"),
        suppressed_count=len(record.suppressed),
        notes=notes,
        notes_more=notes_more,
        suppressed=suppressed,
        suppressed_more=suppressed_more,
        last=last,
        coverage=coverage,
        heads=[h[:12] for h in reversed(record.heads[-HEADS_SHOWN:])],
        heads_more=max(0, len(record.heads) - HEADS_SHOWN),
        marker=summary_marker(_meta(record)),
    )
    if len(body) > BODY_LIMIT:  # pragma: no cover - the section budgets keep it far below
        raise AssertionError(f"summary body of {len(body)} characters exceeds the budget")
    return body


def _meta(record: PullRequestRecord) -> dict[str, Any]:
    """The hidden metadata: reviewed heads, the pause, and the experiment variant of the last review."""
    meta: dict[str, Any] = {"v": 1, "heads": record.heads[-META_HEADS:], "paused": record.paused}
    if record.variant is not None:
        meta["experiment"], meta["variant"] = record.experiment, record.variant
    return meta


def record_from_comment(comment: IssueComment) -> PullRequestRecord:
    """What a summary comment's hidden metadata says (after Redis lost the record)."""
    meta = find_summary_meta(comment.body) or {}
    heads = [h for h in meta.get("heads", []) if isinstance(h, str)]
    experiment, variant = meta.get("experiment"), meta.get("variant")
    return PullRequestRecord(
        summary_comment_id=comment.id,
        heads=heads,
        paused=bool(meta.get("paused")),
        experiment=experiment if isinstance(experiment, str) else None,
        variant=variant if isinstance(variant, str) else None,
    )


class SummaryComments:
    """Finds, creates and edits the summary comment of this App's bot account."""

    def __init__(self, *, bot_name: str) -> None:
        self._bot = f"{bot_name.lower()}[bot]"

    async def find(self, gh: ConversationGitHub, repo: RepoRef, number: int) -> IssueComment | None:
        """Our summary comment on the pull request (the first, if a race ever made two), or None."""
        for comment in await gh.issue_comments(repo, number):
            if (
                comment.author_is_bot
                and comment.author.lower() == self._bot
                and find_summary_meta(comment.body) is not None
            ):
                return comment
        return None

    async def publish(
        self, gh: ConversationGitHub, repo: RepoRef, number: int, record: PullRequestRecord, body: str
    ) -> None:
        """Edit the summary comment to ``body``, or create it; ``record.summary_comment_id`` is set."""
        if record.summary_comment_id is None and not record.searched:
            found = await self.find(gh, repo, number)
            record.summary_comment_id = found.id if found else None
        if record.summary_comment_id is not None:
            try:
                await gh.edit_comment(repo, record.summary_comment_id, body)
                return
            except PermanentError as exc:
                # Deleted by someone (or no longer ours to edit): the summary is posted anew.
                log.warning("summary comment could not be edited: posting it again", error=str(exc))
        record.summary_comment_id = await gh.create_comment(repo, number, body)
