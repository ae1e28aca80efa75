"""Deterministic anchoring: where (if anywhere) a finding may be posted as an inline comment.

The model's line numbers are a claim; the code it quotes is the evidence. A finding is placed where its
``quote`` is, among the lines GitHub accepts a comment on (added or context lines, side RIGHT, one hunk),
and nowhere else. A finding whose quote cannot be found is never dropped: it becomes an
:class:`Unanchored` note for the review summary.

Quote matching rule (exact, no fuzzy guessing):

* Both the quote and the file lines are normalised the same way: ``\\r\\n`` → ``\\n``, trailing whitespace
  removed from every line, blank lines at the start and end of the quote removed, and the indentation
  common to all non-blank lines removed (so a quote copied with more or less indentation still matches).
* A quote of *k* lines matches *k* consecutive commentable lines of one hunk whose normalised text is equal,
  line for line (a *full* match).
* The model sees code redacted (credentials replaced by ``[REDACTED]``): a quote matches the lines as they
  are or as the model saw them; a suggestion is never kept on redacted lines (it would commit the
  placeholder).
* A one-line quote also matches a single line that contains it verbatim (after stripping the quote's
  surrounding whitespace), if the quote has at least :data:`MIN_FRAGMENT` non-blank characters
  (a *fragment* match). Shorter fragments (``x``, ``i += 1``) are too ambiguous to locate code by.

Placement rule: if the quote matches exactly at the claimed ``start_line..end_line`` the finding is
:attr:`How.EXACT`. Otherwise it is :attr:`How.REANCHORED` to the match nearest the claimed start line
(full matches are preferred over fragment matches; ties go to the earlier line). A finding is never placed
on a range wider than its quote.

Suggestion rule: a ````suggestion```` block replaces exactly the commented lines, so it is kept only when
the model's range and the anchored range are the same code: a full match (not a fragment) of the same
number of lines as the claimed range. If the quote's indentation differs from the file's, the
suggestion is re-indented by swapping the quote's common indentation for the file's, and dropped if
any of its lines does not start with the quote's indentation. A suggestion identical to the code it
replaces is dropped too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from argoai_core.models.findings import Finding
from argoai_core.redact import redact_keeping_lines
from argoai_reviewer.analysis.diff import FileDiff
from argoai_reviewer.domain import FileStatus

MIN_FRAGMENT = 8
"""Fewest non-blank characters a one-line quote needs to match as part of a line."""


class How(StrEnum):
    """How an anchored finding's range was decided."""

    EXACT = "exact"
    REANCHORED = "reanchored"


class Reason(StrEnum):
    """Why a finding could not be placed inline; :attr:`text` is the wording for the summary."""

    NOT_IN_DIFF = "not_in_diff"
    REMOVED = "removed"
    NO_PATCH = "no_patch"
    NO_LINES = "no_lines"
    EMPTY_QUOTE = "empty_quote"
    QUOTE_NOT_FOUND = "quote_not_found"

    @property
    def text(self) -> str:
        """A short human explanation."""
        return _REASON_TEXT[self]


_REASON_TEXT = {
    Reason.NOT_IN_DIFF: "file not in this diff",
    Reason.REMOVED: "file removed",
    Reason.NO_PATCH: "no diff available for this file (binary or too large)",
    Reason.NO_LINES: "no changed lines in this file",
    Reason.EMPTY_QUOTE: "no code quoted",
    Reason.QUOTE_NOT_FOUND: "quoted code not found in the diff",
}


@dataclass(frozen=True)
class Anchored:
    """A finding placed on new-file lines ``start``..``end`` of ``path`` (all commentable, one hunk).

    ``suggestion`` is the replacement to render as a suggestion block (already re-indented), or None;
    ``suggestion_dropped`` says why the finding's suggestion was not kept, when it had one.
    """

    finding: Finding
    path: str
    start: int
    end: int
    how: How
    suggestion: str | None = None
    suggestion_dropped: str | None = None


@dataclass(frozen=True)
class Unanchored:
    """A finding that cannot be posted inline; it goes into the review summary as a file-level note."""

    finding: Finding
    path: str
    reason: Reason


Placement = Anchored | Unanchored


@dataclass(frozen=True)
class _Quote:
    lines: tuple[str, ...]  # normalised
    indent: str  # common indentation removed from the raw (right-stripped) lines
    fragment: str | None  # the stripped one-line quote when long enough to match as a fragment


@dataclass(frozen=True)
class _Match:
    start: int
    end: int
    full: bool
    indent: str  # the file lines' common indentation (full matches)
    redacted: bool = False  # matched the redacted text the model saw, not the code itself


def _split(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _common_indent(lines: Sequence[str]) -> str:
    indents = [line[: len(line) - len(line.lstrip())] for line in lines if line]
    if not indents:
        return ""
    first, last = min(indents), max(indents)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def _dedent(lines: Sequence[str]) -> tuple[tuple[str, ...], str]:
    indent = _common_indent(lines)
    return tuple(line[len(indent) :] for line in lines), indent


def normalize_block(text: str) -> tuple[str, ...]:
    """The normalised lines of a quote: LF endings, no trailing whitespace, no edge blank lines, dedented."""
    return _dedent(_split(text))[0]


def _quote(text: str) -> _Quote:
    lines, indent = _dedent(_split(text))
    fragment = None
    if len(lines) == 1 and len("".join(lines[0].split())) >= MIN_FRAGMENT:
        fragment = lines[0].strip()
    return _Quote(lines=lines, indent=indent, fragment=fragment)


def _matches(diff: FileDiff, quote: _Quote) -> list[_Match]:
    size = len(quote.lines)
    found: list[_Match] = []
    for hunk in diff.hunks:
        numbered = sorted(hunk.new_line_texts().items())
        texts = [text.rstrip() for _, text in numbered]
        # The model saw the code redacted: a quote of a line holding a credential quotes "[REDACTED]".
        shown = [line.rstrip() for line in redact_keeping_lines("\n".join(texts)).split("\n")]
        for i in range(len(numbered) - size + 1):
            start, end = numbered[i][0], numbered[i + size - 1][0]
            for lines, redacted in ((texts, False), (shown, True)):
                if redacted and lines[i : i + size] == texts[i : i + size]:
                    continue  # nothing redacted here: the raw lines decided already
                window, indent = _dedent(lines[i : i + size])
                if window == quote.lines:
                    found.append(_Match(start, end, full=True, indent=indent, redacted=redacted))
                    break
                if quote.fragment is not None and quote.fragment in lines[i]:
                    found.append(_Match(start, start, full=False, indent="", redacted=redacted))
                    break
    return found


def _choose(found: Sequence[_Match], finding: Finding) -> tuple[_Match, How] | None:
    for match in found:
        if (match.start, match.end) == (finding.start_line, finding.end_line):
            return match, How.EXACT
    best = [m for m in found if m.full] or list(found)
    if not best:
        return None
    nearest = min(best, key=lambda m: (abs(m.start - finding.start_line), m.start))
    return nearest, How.REANCHORED


def _suggestion(
    diff: FileDiff, finding: Finding, quote: _Quote, match: _Match
) -> tuple[str | None, str | None]:
    """The suggestion to render and, when the finding's suggestion is not kept, why."""
    if finding.suggestion is None:
        return None, None
    if match.redacted:
        # Committing it would write the redaction placeholder over the real line.
        return None, "the quoted code holds a redacted credential"
    if not match.full:
        return None, "the quote is only part of the line"
    if match.end - match.start != finding.end_line - finding.start_line:
        return None, "the suggestion was written for a range of a different length"
    lines = finding.suggestion.replace("\r\n", "\n").removesuffix("\n").split("\n")
    if quote.indent != match.indent:
        if not all(line.startswith(quote.indent) for line in lines if line.strip()):
            return None, "the suggestion's indentation does not match the code"
        lines = [match.indent + line[len(quote.indent) :] if line.strip() else line for line in lines]
    current = [(diff.new_text(n) or "").rstrip() for n in range(match.start, match.end + 1)]
    if [line.rstrip() for line in lines] == current:
        return None, "the suggestion does not change the code"
    return "\n".join(lines), None


def _resolve(path: str, diffs: Mapping[str, FileDiff]) -> FileDiff | None:
    """The diff ``path`` names: exactly, or after removing ``./``, a leading ``/`` or a git ``a/``/``b/``."""
    bare = path.strip()
    while bare.startswith("./"):
        bare = bare[2:]
    bare = bare.lstrip("/")
    names = [path, bare]
    if bare.startswith(("a/", "b/")):
        names.append(bare[2:])
    for name in names:
        if name in diffs:
            return diffs[name]
    for diff in diffs.values():
        if diff.old_path is not None and diff.old_path in names:
            return diff
    return None


def _commentable_diff(finding: Finding, diffs: Mapping[str, FileDiff]) -> FileDiff | Unanchored:
    diff = _resolve(finding.path, diffs)
    if diff is None:
        return Unanchored(finding, finding.path, Reason.NOT_IN_DIFF)
    if diff.status == FileStatus.REMOVED:
        return Unanchored(finding, diff.path, Reason.REMOVED)
    if not diff.commentable:
        reason = Reason.NO_PATCH if diff.binary or diff.patch_omitted else Reason.NO_LINES
        return Unanchored(finding, diff.path, reason)
    return diff


def anchor_at_lines(finding: Finding, diffs: Mapping[str, FileDiff]) -> Placement:
    """Place a finding whose line numbers are known to be right (a built-in check's) on exactly those lines.

    Such findings are not re-located by quote (a secret finding quotes only a secret-free piece of its line);
    lines that cannot take a comment still send it to the summary, never to a wrong line.
    """
    diff = _commentable_diff(finding, diffs)
    if isinstance(diff, Unanchored):
        return diff
    start, end = finding.start_line, finding.end_line
    if not diff.in_one_hunk(start, end) or not all(n in diff.commentable for n in range(start, end + 1)):
        return Unanchored(finding, diff.path, Reason.NOT_IN_DIFF)
    return Anchored(finding, diff.path, start, end, How.EXACT)


def anchor(finding: Finding, diffs: Mapping[str, FileDiff]) -> Placement:
    """Place ``finding`` on the diff (``diffs`` maps new path → file diff) or say why it cannot be."""
    diff = _commentable_diff(finding, diffs)
    if isinstance(diff, Unanchored):
        return diff
    quote = _quote(finding.quote)
    if not quote.lines:
        return Unanchored(finding, diff.path, Reason.EMPTY_QUOTE)
    chosen = _choose(_matches(diff, quote), finding)
    if chosen is None:
        return Unanchored(finding, diff.path, Reason.QUOTE_NOT_FOUND)
    match, how = chosen
    if not diff.in_one_hunk(match.start, match.end):  # pragma: no cover - guaranteed by _matches
        raise AssertionError(f"anchored range {match.start}-{match.end} of {diff.path} is not in one hunk")
    suggestion, dropped = _suggestion(diff, finding, quote, match)
    return Anchored(finding, diff.path, match.start, match.end, how, suggestion, dropped)


def anchor_all(findings: Iterable[Finding], diffs: Mapping[str, FileDiff]) -> list[Placement]:
    """:func:`anchor` every finding, in order."""
    return [anchor(finding, diffs) for finding in findings]
