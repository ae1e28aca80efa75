"""What the model sees: the selected files' diffs, with context, split into LLM calls within a token budget.

Each file is rendered so that the model can cite it reliably: every line of the new file carries its new-file
line number, and a marker says whether it was added (``+``), removed (``-``, no number: it is not in the new
file and cannot be commented on) or unchanged (`` ``)::

    @@ lines 10-14 @@ def handler(event):
    10   def handler(event):
    11 +     body = event.body
       -     body = event["body"]
    12       return body

When the file's text at head is available (and agrees with the diff) each hunk is widened with
``context_lines`` lines of the new file on both sides, and small files (``whole_file_lines``) are shown whole.

Budget: a file is kept whole in one call when it fits ``file_tokens``; otherwise it is split between its
hunk groups, and a group larger than the budget is split between lines (every changed line is still sent).
Calls are filled next-fit in file order, so related files tend to share a call and the plan is deterministic.
Lines longer than ``max_line_chars`` are shortened (minified code); those changed lines and any beyond
``max_calls`` are not counted as sent and the file is reported as clipped, with the reason. Every credential
that :mod:`argoai_core.redact` recognises is redacted before rendering. Batches share nothing, so the
pipeline can send them concurrently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import NamedTuple

from argoai_core.redact import redact_keeping_lines
from argoai_reviewer.analysis.coverage import Coverage
from argoai_reviewer.analysis.diff import FileDiff, Hunk
from argoai_reviewer.analysis.tokens import TokenCounter

# Splitting is planned on the sum of the pieces' counts; joining pieces can merge a token or two at the
# seams, so every piece is charged this much extra to keep the joined text within the budget.
_SEAM_TOKENS = 2
_MIN_FILE_TOKENS = 1000
# Splitting a large hunk plans groups of lines from the tokens per character measured on its first lines,
# plus this margin, so that few groups need to be halved after being counted.
_SAMPLE_ROWS = 400
_RATE_MARGIN = 1.1
# More characters per token than code ever has: a text longer than budget × this is over without counting.
_MAX_CHARS_PER_TOKEN = 8


@dataclass(frozen=True)
class ContextLimits:
    """How much each LLM call may carry and how much surrounding code to show."""

    file_tokens: int = 12_000
    context_lines: int = 20
    whole_file_lines: int = 300
    max_line_chars: int = 1000
    max_calls: int | None = None

    def __post_init__(self) -> None:
        # A budget below this could not hold one shortened line plus a file header.
        if self.file_tokens < _MIN_FILE_TOKENS:
            raise ValueError(f"file_tokens must be at least {_MIN_FILE_TOKENS}")
        if self.context_lines < 0 or self.whole_file_lines < 0 or self.max_line_chars < 80:
            raise ValueError("context_lines and whole_file_lines must be ≥ 0, max_line_chars ≥ 80")
        if self.max_calls is not None and self.max_calls < 1:
            raise ValueError("max_calls must be at least 1")


class Row(NamedTuple):
    """One rendered line: new-file number (None for a removed line), marker, text, and whether it was cut."""

    new: int | None
    kind: str
    text: str
    cut: bool = False


@dataclass(frozen=True)
class FileBlock:
    """A file, or one part of a file too large for one call, as shown to the model.

    ``changed_lines``: added and removed lines shown in full; ``tokens``: an upper bound of its cost;
    ``added``: new-file numbers of the added lines it shows (what related code is looked up for).
    """

    path: str
    old_path: str | None
    status: str
    part: int
    parts: int
    text: str
    changed_lines: int
    tokens: int
    added: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Batch:
    """The files of one LLM call; ``tokens`` counts the joined text of its blocks."""

    index: int
    files: tuple[FileBlock, ...]
    counter: TokenCounter = field(repr=False, compare=False)

    @cached_property
    def tokens(self) -> int:
        """Tokens of the joined text, counted on first use: planning relies on the blocks' upper bounds, and
        counting every call's text again cost about a tenth of a review's CPU for a number nothing read."""
        return self.counter.count(self.text)

    @property
    def paths(self) -> list[str]:
        """The paths in this call, once each, in order."""
        return list(dict.fromkeys(block.path for block in self.files))

    @property
    def text(self) -> str:
        """All blocks, as the prompt shows them."""
        return join_blocks(self.files)


@dataclass(frozen=True)
class ContextPlan:
    """The LLM calls of one review and what they cover."""

    batches: list[Batch]
    coverage: Coverage


@dataclass
class _Piece:
    """Rows of one file rendered together under one ``@@`` header."""

    rows: list[Row]
    section: str


@dataclass
class _FileStats:
    changed_sent: int = 0
    truncated: int = 0
    reasons: list[str] = field(default_factory=list)


def head_lines(text: str) -> list[str]:
    """The lines of a file's text, split the way diffs split them (LF only, CR of CRLF dropped)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _agrees(diff: FileDiff, lines: Sequence[str]) -> bool:
    """True when every new-side line of the diff is the same in ``lines`` (the head text is that commit)."""
    for hunk in diff.hunks:
        for number, text in hunk.new_line_texts().items():
            if number > len(lines) or lines[number - 1] != text:
                return False
    return True


def _bounds(hunk: Hunk) -> tuple[int, int]:
    """New-file lines before the hunk are < lo, lines after it are ≥ hi (a pure deletion has lo == hi)."""
    lo = hunk.new_start if hunk.new_len else hunk.new_start + 1
    return lo, lo + hunk.new_len


def _hunk_rows(hunk: Hunk, clean: Sequence[str] | None) -> list[Row]:
    """The hunk's rows, redacted; new-side text comes from the redacted head file when there is one."""
    if not hunk.lines:
        return []
    if clean is None:
        texts = redact_keeping_lines("\n".join(line.text for line in hunk.lines)).split("\n")
        return [Row(line.new, line.kind, text) for line, text in zip(hunk.lines, texts, strict=True)]
    # Lines of the new file come from the redacted head text; only the removed ones need redacting here.
    removed = [line.text for line in hunk.lines if line.new is None]
    cleaned = iter(redact_keeping_lines("\n".join(removed)).split("\n") if removed else [])
    return [
        Row(line.new, line.kind, clean[line.new - 1] if line.new is not None else next(cleaned))
        for line in hunk.lines
    ]


def _context(clean: Sequence[str], start: int, stop: int) -> list[Row]:
    """Unchanged rows for new-file lines ``start`` ≤ n < ``stop`` (clamped to the file)."""
    return [Row(n, " ", clean[n - 1]) for n in range(max(1, start), min(stop, len(clean) + 1))]


def _pieces(diff: FileDiff, head: str | None, limits: ContextLimits) -> list[_Piece]:
    """The file's hunks as groups of redacted rows, widened with context from the head text when it agrees."""
    lines = head_lines(head) if head is not None else None
    if lines is None or not _agrees(diff, lines):
        return [_Piece(_hunk_rows(hunk, None), hunk.section) for hunk in diff.hunks]
    # Redact the whole file at once: a key block is recognised by its BEGIN line even when only its end shows.
    # Split, not head_lines: a file ending in a blank line would lose it and no longer match the diff.
    clean = redact_keeping_lines("\n".join(lines)).split("\n")
    reach = len(clean) if len(clean) <= limits.whole_file_lines else limits.context_lines
    pieces: list[_Piece] = []
    current: _Piece | None = None
    previous_hi = 1
    for hunk in diff.hunks:
        lo, hi = _bounds(hunk)
        if current is not None and lo - previous_hi > 2 * reach:
            current.rows += _context(clean, previous_hi, previous_hi + reach)
            pieces.append(current)
            current = None
        if current is None:
            current = _Piece(_context(clean, lo - reach, lo), hunk.section)
        else:
            current.rows += _context(clean, previous_hi, lo)
        current.rows += _hunk_rows(hunk, clean)
        previous_hi = hi
    if current is not None:
        current.rows += _context(clean, previous_hi, previous_hi + reach)
        pieces.append(current)
    return pieces


def _cut(row: Row, keep: int, total: int) -> Row:
    """``row`` shortened to ``keep`` characters of its ``total``, saying how much is missing."""
    note = f" … [line shortened: {total - keep} of {total} characters not shown]"
    return Row(row.new, row.kind, row.text[:keep] + note, cut=True)


def _shorten(piece: _Piece, limit: int) -> _Piece:
    """Cut lines longer than ``limit`` characters (minified code): they cost much and say little."""
    rows = [_cut(row, limit, len(row.text)) if len(row.text) > limit else row for row in piece.rows]
    return _Piece(rows, piece.section)


def _render_row(row: Row, width: int) -> str:
    number = str(row.new) if row.new is not None else ""
    return f"{number:>{width}} {row.kind} {row.text}"


def _render_piece(piece: _Piece, width: int) -> str:
    numbers = [row.new for row in piece.rows if row.new is not None]
    where = f"lines {numbers[0]}-{numbers[-1]}" if numbers else "removed lines only"
    header = f"@@ {where} @@ {piece.section}".rstrip()
    return "\n".join([header, *(_render_row(row, width) for row in piece.rows)])


def _fit(piece: _Piece, width: int, budget: int, counter: TokenCounter) -> list[_Piece]:
    """``piece`` if its rendering fits ``budget``, else halves of it (recursively); one line is shortened."""
    if counter.count(_render_piece(piece, width)) + _SEAM_TOKENS <= budget:
        return [piece]
    if len(piece.rows) > 1:
        middle = len(piece.rows) // 2
        return [
            *_fit(_Piece(piece.rows[:middle], piece.section), width, budget, counter),
            *_fit(_Piece(piece.rows[middle:], piece.section), width, budget, counter),
        ]
    # One line alone over the budget (many tokens per character): shorten it until it fits.
    original = piece.rows[0]
    keep = len(original.text)
    while keep > 1:
        keep //= 2
        shortened = _Piece([_cut(original, keep, len(original.text))], piece.section)
        if counter.count(_render_piece(shortened, width)) + _SEAM_TOKENS <= budget:
            return [shortened]
    return [_Piece([_cut(original, 0, len(original.text))], piece.section)]


def _cost(text: str, budget: int, counter: TokenCounter) -> int:
    """Tokens of ``text`` plus a seam, or just "over ``budget``" for a text far too long to count."""
    if len(text) > budget * _MAX_CHARS_PER_TOKEN:
        return budget + 1
    return counter.count(text) + _SEAM_TOKENS


def _split_rows(piece: _Piece, width: int, budget: int, counter: TokenCounter) -> list[_Piece]:
    """Split one oversized group of rows into consecutive groups that each fit ``budget``.

    Counting every line separately is slow (a call per line); instead the tokens per character of this code
    are measured on a sample, groups are planned from that rate with a margin, and each group is counted
    once and halved in the rare case it is still over.
    """
    rendered = [_render_row(row, width) for row in piece.rows]
    sample = "\n".join(rendered[:_SAMPLE_ROWS])
    rate = counter.count(sample) / max(1, len(sample)) * _RATE_MARGIN
    header = counter.count(f"@@ lines {10**width}-{10**width} @@ {piece.section}") + _SEAM_TOKENS
    groups: list[list[Row]] = [[]]
    used = header
    for row, text in zip(piece.rows, rendered, strict=True):
        cost = math.ceil(len(text) * rate) + 1
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = header
        groups[-1].append(row)
        used += cost
    return [fitted for rows in groups for fitted in _fit(_Piece(rows, piece.section), width, budget, counter)]


def _changed(rows: Sequence[Row]) -> int:
    """Changed rows sent in full (a shortened line is not)."""
    return sum(1 for row in rows if row.kind != " " and not row.cut)


def _file_header(diff: FileDiff, part: int, parts: int) -> str:
    renamed = f", renamed from {diff.old_path}" if diff.old_path and diff.old_path != diff.path else ""
    of = f" — part {part} of {parts}" if parts > 1 else ""
    return f"=== {diff.path} ({diff.status}{renamed}){of} ==="


def join_blocks(blocks: Sequence[FileBlock]) -> str:
    """Blocks as one prompt section, separated by blank lines."""
    return "\n\n".join(block.text for block in blocks)


def file_blocks(
    diff: FileDiff, head: str | None, *, counter: TokenCounter, limits: ContextLimits, stats: _FileStats
) -> list[FileBlock]:
    """One file rendered as one block, or as several parts when it does not fit ``limits.file_tokens``."""
    pieces = [_shorten(piece, limits.max_line_chars) for piece in _pieces(diff, head, limits)]
    largest = max((row.new or 0 for piece in pieces for row in piece.rows), default=0)
    width = len(str(largest))
    header_tokens = counter.count(_file_header(diff, 999, 999)) + _SEAM_TOKENS
    available = limits.file_tokens - header_tokens
    texts = [_render_piece(piece, width) for piece in pieces]
    costs = [_cost(text, available, counter) for text in texts]
    if sum(costs) > available:
        # Too big for one call: split oversized groups by lines, then fill parts next-fit.
        split: list[_Piece] = []
        for piece, cost in zip(pieces, costs, strict=True):
            split += [piece] if cost <= available else _split_rows(piece, width, available, counter)
        pieces = split
        texts = [_render_piece(piece, width) for piece in pieces]
        costs = [counter.count(text) + _SEAM_TOKENS for text in texts]
    parts: list[list[int]] = []
    used = available + 1
    for index, cost in enumerate(costs):
        if used + cost > available:
            parts.append([])
            used = 0
        parts[-1].append(index)
        used += cost
    blocks = []
    for number, indexes in enumerate(parts, start=1):
        text = "\n".join([_file_header(diff, number, len(parts)), *(texts[i] for i in indexes)])
        rows = [row for i in indexes for row in pieces[i].rows]
        stats.truncated += sum(1 for row in rows if row.kind != " " and row.cut)
        blocks.append(
            FileBlock(
                path=diff.path,
                old_path=diff.old_path,
                status=diff.status,
                part=number,
                parts=len(parts),
                text=text,
                changed_lines=_changed(rows),
                # Planned, an upper bound: the call's text is counted exactly once it is assembled.
                tokens=header_tokens + sum(costs[i] for i in indexes),
                added=frozenset(row.new for row in rows if row.kind == "+" and row.new is not None),
            )
        )
    return blocks


def _pack(blocks: Sequence[FileBlock], budget: int, counter: TokenCounter) -> list[Batch]:
    """Fill calls next-fit in order, on the blocks' planned (upper-bound) counts."""
    groups: list[list[FileBlock]] = []
    used = budget + 1
    for block in blocks:
        cost = block.tokens + _SEAM_TOKENS
        if used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(block)
        used += cost
    return [Batch(index=index, files=tuple(group), counter=counter) for index, group in enumerate(groups)]


def _no_diff_reason(diff: FileDiff) -> str | None:
    if diff.binary:
        return "binary"
    if diff.patch_omitted:
        return "no diff from GitHub (binary or too large)"
    return None


def build_batches(
    diffs: Sequence[FileDiff],
    head_texts: Mapping[str, str | None],
    *,
    counter: TokenCounter,
    limits: ContextLimits | None = None,
) -> ContextPlan:
    """Split the diffs of the selected files into LLM calls, and account for every changed line.

    ``head_texts`` maps a path to the file's text at head (None or absent: show the hunks alone).
    """
    limits = limits or ContextLimits()
    stats: dict[str, _FileStats] = {}
    blocks: list[FileBlock] = []
    for diff in diffs:
        file_stats = stats.setdefault(diff.path, _FileStats())
        reason = _no_diff_reason(diff)
        if reason is not None:
            file_stats.reasons.append(reason)
            continue
        if not diff.hunks:
            continue
        blocks += file_blocks(
            diff, head_texts.get(diff.path), counter=counter, limits=limits, stats=file_stats
        )
        if file_stats.truncated:
            file_stats.reasons.append(
                f"{file_stats.truncated} changed lines too long to send whole, shortened"
            )
    batches = _pack(blocks, limits.file_tokens, counter)
    if limits.max_calls is not None and len(batches) > limits.max_calls:
        dropped: dict[str, int] = {}
        for batch in batches[limits.max_calls :]:
            for block in batch.files:
                dropped[block.path] = dropped.get(block.path, 0) + block.changed_lines
        for path, count in dropped.items():
            stats[path].reasons.append(
                f"{count} changed lines not sent: over the limit of {limits.max_calls} LLM calls per review"
            )
        batches = batches[: limits.max_calls]
    for batch in batches:
        for block in batch.files:
            stats[block.path].changed_sent += block.changed_lines
    sent_paths = {block.path for batch in batches for block in batch.files}
    coverage = Coverage(
        reviewed=tuple(path for path in stats if path in sent_paths),
        clipped=tuple((path, "; ".join(item.reasons)) for path, item in stats.items() if item.reasons),
        lines_sent=sum(item.changed_sent for item in stats.values()),
        lines_total=sum(diff.changed_lines for diff in diffs),
    )
    return ContextPlan(batches=batches, coverage=coverage)
