"""Turn placed findings into the review GitHub receives: inline comments, a short body, the event.

Decisions made here:

* Findings below ``policy.min_severity`` (for an analyzer's finding: below its analyzer's minimum in
  ``policy.analyzers.minSeverity`` when that is stricter) are not posted; they are counted in the body.
* Two findings with the same fingerprint in one answer are posted once; the rest are counted.
* Anchored findings are ordered by severity (critical first), then path and line; the first
  ``policy.max_comments`` become inline comments; the rest, and findings that could not be anchored (notes,
  with the reason), are listed in the pull request's summary comment (:mod:`.summary`), not in the review.
  When ``policy.analyzers.countTowardsMaxComments`` is false, analyzer findings have their own cap
  (``policy.analyzers.maxComments``) and take none of the shared one.
* An analyzer's comment ends with its tool and rule, the rule linked to its documentation (ArgoAI builds
  the link from the tool's known documentation site; the tool's own text is sanitised like the model's).
* A suggestion the analysis dropped (e.g. it would not parse, see
  :mod:`~argoai_reviewer.analysis.analyzers.syntax`) is not offered; the comment says why.
* The event is ``COMMENT``, or ``REQUEST_CHANGES`` when ``policy.request_changes`` is set and a critical
  finding is in the review (inline, as a note, or over the cap). ArgoAI never approves.
* A review is worth posting only with a new inline comment or to request changes
  (:attr:`ComposedReview.postable`): thirty pushes with nothing new leave thirty edits of one summary, not
  thirty empty reviews.
* All model text goes through :mod:`argoai_core.sanitize`.
* The body ends with a hidden marker naming the head commit, so a retry finds the review it already posted
  (:func:`~argoai_reviewer.conversation.markers.find_marker`) instead of posting it again; each inline comment
  ends with a marker naming its finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from argoai_core.models.findings import Finding, Severity, ToolFinding
from argoai_core.models.policy import PolicySpec
from argoai_core.sanitize import (
    BODY_MAX,
    COMMENT_MAX,
    REVIEW_BODY_MAX,
    code_fence,
    safe_suggestion,
    sanitize_markdown,
    sanitize_path,
    sanitize_title,
)
from argoai_reviewer.analysis.analyzers import is_analyzer_finding, min_severity_for
from argoai_reviewer.analysis.anchoring import Anchored, Placement, Unanchored
from argoai_reviewer.analysis.coverage import Coverage
from argoai_reviewer.analysis.fingerprint import fingerprint_of
from argoai_reviewer.conversation.markers import finding_marker, marker
from argoai_reviewer.domain import InlineComment, ReviewDraft

BADGES = {
    Severity.CRITICAL: "🔴 Critical",
    Severity.MAJOR: "🟠 Major",
    Severity.MINOR: "🟡 Minor",
    Severity.NIT: "⚪ Nit",
}
SUGGESTION_MAX = 8000
"""Longest suggestion posted; a longer one is dropped (it would not fit a comment)."""
COVERAGE_BUDGET = 8_000


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("argoai_reviewer.conversation", "templates"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # noqa: S701
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


@dataclass
class Selection:
    """Which placed findings become inline comments, notes, or only counts."""

    inline: list[Anchored] = field(default_factory=list)
    notes: list[Unanchored] = field(default_factory=list)
    over_cap: list[Anchored] = field(default_factory=list)
    below_min: int = 0
    duplicates: int = 0


def _order(item: Placement) -> tuple[int, str, int]:
    finding = item.finding
    start = item.start if isinstance(item, Anchored) else finding.start_line
    return (finding.severity.rank, item.path, start)


def select(placements: Sequence[Placement], policy: PolicySpec) -> Selection:
    """Apply the policy (minimum severity, comment cap) and drop in-review duplicates, counting each."""
    selection = Selection()
    seen: set[str] = set()
    separate = not policy.analyzers.count_towards_max_comments
    shared = analyzers = 0
    for item in sorted(placements, key=_order):
        if item.finding.severity.rank > min_severity_for(item.finding, policy).rank:
            selection.below_min += 1
            continue
        key = fingerprint_of(item)
        if key in seen:
            selection.duplicates += 1
            continue
        seen.add(key)
        if isinstance(item, Unanchored):
            selection.notes.append(item)
        elif separate and is_analyzer_finding(item.finding):
            analyzers += 1
            (selection.inline if analyzers <= policy.analyzers.max_comments else selection.over_cap).append(
                item
            )
        else:
            shared += 1
            (selection.inline if shared <= policy.max_comments else selection.over_cap).append(item)
    return selection


def _lines(start: int, end: int) -> str:
    return f"line {start}" if start == end else f"lines {start}–{end}"


def render_comment(item: Anchored, *, bot_handle: str) -> str:
    """The body of the inline comment for ``item``: badge, title, body and (when allowed) a suggestion."""
    finding = item.finding
    suggestion, note = item.suggestion, None
    if suggestion is not None and (
        len(suggestion) > SUGGESTION_MAX or not safe_suggestion(suggestion, bot_handle=bot_handle)
    ):
        suggestion, note = None, "it contains text that cannot be posted safely"
    elif finding.suggestion is not None and suggestion is None:
        note = item.suggestion_dropped
    title = sanitize_title(finding.title, bot_handle=bot_handle)
    body = sanitize_markdown(finding.body, bot_handle=bot_handle, limit=BODY_MAX)
    text = _ENV.get_template("comment.md.j2").render(
        badge=BADGES[finding.severity],
        category=finding.category.value,
        title=title,
        # A tool's message is often all it says: shown once, as the title.
        body=None if isinstance(finding, ToolFinding) and body.strip() == title.strip() else body,
        suggestion=suggestion,
        fence=code_fence(suggestion or ""),
        note=f"Suggestion omitted: {note}." if note else None,
        source=source_line(finding),
    )
    return text.rstrip("\n")[:COMMENT_MAX]


def source_line(finding: Finding) -> str | None:
    """ "Reported by <tool> · rule <rule>" (the rule linked to its documentation) for an analyzer's finding.

    ``tool`` and ``rule`` match strict patterns (letters, digits, ``-_./``) and ``rule_url`` is an https URL
    ArgoAI built for the tool's documentation site, so nothing here needs escaping beyond the code span.
    """
    if not isinstance(finding, ToolFinding):
        return None
    rule = f"[`{finding.rule}`]({finding.rule_url})" if finding.rule_url else f"`{finding.rule}`"
    return f"Reported by {finding.tool} · rule {rule}"


def inline_comment(item: Anchored, *, bot_handle: str) -> InlineComment:
    """The GitHub review comment for ``item`` (side RIGHT; ``start_line`` only for a range), ending with the
    hidden marker that names its finding."""
    finding = item.finding
    tail = "\n\n" + finding_marker(fingerprint_of(item), finding.category.value, finding.severity.value)
    return InlineComment(
        path=item.path,
        line=item.end,
        start_line=item.start if item.start < item.end else None,
        body=render_comment(item, bot_handle=bot_handle)[: COMMENT_MAX - len(tail)] + tail,
    )


def fit(items: list[dict[str, Any]], budget: int) -> tuple[list[dict[str, Any]], int]:
    """The leading items whose size (estimated from their values) fits ``budget``; how many did not."""
    taken, used = [], 0
    for item in items:
        size = sum(len(str(value)) for value in item.values()) + 16
        if used + size > budget:
            break
        taken.append(item)
        used += size
    return taken, len(items) - len(taken)


def coverage_context(coverage: Coverage, bot_handle: str) -> dict[str, Any]:
    """What the summary says about a review's coverage: a line, and the files skipped or cut (sanitized)."""

    def entries(pairs: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
        return [
            {"path": sanitize_path(path), "reason": sanitize_title(reason, bot_handle=bot_handle)}
            for path, reason in pairs
        ]

    skipped, skipped_more = fit(entries(coverage.skipped), COVERAGE_BUDGET // 2)
    clipped, clipped_more = fit(entries(coverage.clipped), COVERAGE_BUDGET // 2)
    files = f"{len(coverage.reviewed)} file{'s' if len(coverage.reviewed) != 1 else ''}"
    if coverage.llm_used:
        line = (
            f"Reviewed {files}; {coverage.lines_sent:,} of {coverage.lines_total:,} changed lines "
            "were sent to the model."
        )
    else:
        line = (
            f"Checked {files} with ArgoAI's built-in checks only ({coverage.lines_total:,} changed lines): "
            "no LLM is configured."
        )
    if coverage.analyzers:
        line += f" Analyzers run on the changed lines: {', '.join(coverage.analyzers)}."
    if coverage.complete:
        line += " Nothing was skipped."
    if coverage.related_snippets:
        count, sources = coverage.related_snippets, coverage.related_files
        line += (
            f" Related unchanged code given to the model: {count} snippet{'s' if count != 1 else ''} "
            f"from {sources} file{'s' if sources != 1 else ''}."
        )
    for note in coverage.notes:
        line += f" {sanitize_title(note, bot_handle=bot_handle)}"
    # Model text (the finding's title, the verifier's reason): sanitized like every comment.
    dropped, dropped_more = fit(
        [
            {
                "path": sanitize_path(path),
                "line": line_number,
                "title": sanitize_title(title, bot_handle=bot_handle),
                "reason": sanitize_title(reason, bot_handle=bot_handle),
            }
            for path, line_number, title, reason in coverage.dropped
        ],
        COVERAGE_BUDGET // 2,
    )
    return {
        "dropped": dropped,
        "dropped_count": len(coverage.dropped),
        "dropped_more": dropped_more,
        "coverage_line": line,
        "skipped": skipped,
        "skipped_more": skipped_more,
        "clipped": clipped,
        "clipped_more": clipped_more,
    }


def _footnotes(selection: Selection, repeated: int, min_severity: Severity) -> list[str]:
    notes = []
    if selection.below_min:
        notes.append(f"{selection.below_min} finding(s) below {min_severity.value} not shown")
    if selection.duplicates:
        notes.append(f"{selection.duplicates} duplicate finding(s) merged")
    if repeated:
        notes.append(f"{repeated} finding(s) already reported on unchanged code not repeated")
    return notes


def render_body(
    *, selection: Selection, policy: PolicySpec, head_sha: str, repeated: int = 0, critical: bool = False
) -> str:
    """The review body: what the review adds, where the rest is (the summary comment), hidden marker."""
    inline = len(selection.inline)
    elsewhere = len(selection.notes) + len(selection.over_cap)
    body = _ENV.get_template("review_body.md.j2").render(
        inline=inline,
        elsewhere=elsewhere,
        request_changes=critical and policy.request_changes,
        footnotes=_footnotes(selection, repeated, policy.min_severity),
        marker=marker(head_sha),
    )
    if len(body) > REVIEW_BODY_MAX:  # pragma: no cover - a few fixed lines
        raise AssertionError(f"review body of {len(body)} characters exceeds the budget")
    return body


def _is_critical(finding: Finding) -> bool:
    return finding.severity is Severity.CRITICAL


@dataclass
class ComposedReview:
    """The review to post for a head, how the findings were sorted, and whether it is worth posting."""

    draft: ReviewDraft
    selection: Selection

    @property
    def postable(self) -> bool:
        """A review is posted only with a new inline comment or to request changes (no empty reviews)."""
        return bool(self.draft.comments) or self.draft.event == "REQUEST_CHANGES"


def compose_review(
    placements: Sequence[Placement],
    *,
    policy: PolicySpec,
    head_sha: str,
    bot_handle: str = "argoai",
    repeated: int = 0,
) -> ComposedReview:
    """The review for ``head_sha``: selected inline comments, a short body, and the event.

    ``repeated`` is how many findings the caller left out because they were already posted (by fingerprint).
    Findings not posted inline (notes, over the cap) are listed in the summary comment, not in the review.
    """
    selection = select(placements, policy)
    shown: list[Placement] = [*selection.inline, *selection.notes, *selection.over_cap]
    critical = any(_is_critical(item.finding) for item in shown)
    event = "REQUEST_CHANGES" if policy.request_changes and critical else "COMMENT"
    body = render_body(
        selection=selection, policy=policy, head_sha=head_sha, repeated=repeated, critical=critical
    )
    comments = [inline_comment(item, bot_handle=bot_handle) for item in selection.inline]
    return ComposedReview(
        ReviewDraft(commit_id=head_sha, body=body, event=event, comments=comments), selection
    )
