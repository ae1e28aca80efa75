"""What a question's prompt shows, gathered and shaped: pure functions over text GitHub and the snapshot gave.

* **The anchored code at the current head**: the thread's comment names a file and lines of the commit it
  was written on; the code may have moved or changed since. It is found again in the file at the pull
  request's current head: by the quote the finding was reported with (normalised as anchoring normalises
  quotes, so a moved line is still found), else by where GitHub now places the comment (``line``), else by
  where it was written (``original_line``, said to be approximate). A window of lines around it is shown as
  ``N | code`` rows, redacted.
* **The thread's earlier messages**, oldest first (the latest :data:`MAX_MESSAGES`), each clipped, redacted,
  with ArgoAI's hidden markers removed.
* **The diff** of the pull request (for ``ask`` in the conversation): each file's patch under a
  ``=== path (status) ===`` header, redacted, files in order until the token budget is spent (the files
  left out are named).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from argoai_core.redact import redact, redact_keeping_lines
from argoai_reviewer.analysis.anchoring import normalize_block
from argoai_reviewer.analysis.context import head_lines
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.domain import ChangedFile, ReviewComment

WINDOW_LINES = 15
"""Lines shown before and after the anchored lines."""
MAX_ANCHORED_LINES = 80
MAX_MESSAGES = 20
MAX_MESSAGE_CHARS = 3000
MAX_QUESTION_CHARS = 4000
_MARKERS = re.compile(r"\s*<!-- argoai:[^>]{0,20000}-->\s*\Z")


@dataclass(frozen=True)
class Message:
    """One earlier message of a thread: who wrote it (``ArgoAI`` for ours) and its redacted text."""

    author: str
    text: str


@dataclass(frozen=True)
class AnchoredCode:
    """The code a thread's comment is on, as it is at ``head_sha``: lines ``start``-``end`` of ``path``,
    shown with the window around them (``rows``); ``note`` says when it could not be found exactly."""

    path: str
    head_sha: str
    start: int
    end: int
    rows: str
    note: str = ""


@dataclass(frozen=True)
class DiffContext:
    """The pull request's diff as the prompt shows it, and the files left out for the budget."""

    text: str
    left_out: list[str] = field(default_factory=list)


def strip_markers(body: str) -> str:
    """``body`` without ArgoAI's hidden markers at its end (they mean nothing to the model)."""
    previous = None
    while previous != body:
        previous, body = body, _MARKERS.sub("", body)
    return body.rstrip()


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    return (
        text if len(text) <= limit else f"{text[:limit]}\n[… {len(text) - limit} more characters not shown]"
    )


def locate_quote(text: str, quote: str) -> tuple[int, int] | None:
    """The first and last line (1-based) of ``quote`` in ``text`` (whole lines, compared normalised)."""
    wanted = normalize_block(quote)
    if not wanted:
        return None
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    size = len(wanted)
    for start in range(len(lines) - size + 1):
        if normalize_block("\n".join(lines[start : start + size])) == wanted:
            # normalize_block drops edge blank lines: the quote's first line is the first non-blank one.
            first = next(n for n in range(start, start + size) if lines[n].strip())
            return first + 1, first + size
    return None


def anchor_lines(text: str, quote: str, comment: ReviewComment) -> tuple[int, int, str] | None:
    """Where the comment's code is in ``text`` (the file at the current head): (start, end, note)."""
    found = locate_quote(text, quote) if quote else None
    if found is not None:
        return found[0], found[1], ""
    total = len(head_lines(text))
    if comment.line is not None and 1 <= comment.line <= total:
        start = (
            comment.start_line if comment.start_line and comment.start_line <= comment.line else comment.line
        )
        return start, comment.line, ""
    if comment.original_line is not None and 1 <= comment.original_line <= total:
        first = comment.original_start_line or comment.original_line
        start = first if first <= comment.original_line else comment.original_line
        return (
            start,
            comment.original_line,
            (
                "The code this comment was written on has changed since; these are the lines at its original "
                "position, which may now hold other code."
            ),
        )
    return None


def render_window(text: str, start: int, end: int, *, around: int = WINDOW_LINES) -> str:
    """Lines ``start``-``end`` of ``text`` with ``around`` lines either side, as ``N | code`` rows (redacted:
    the whole file first, so a key block is known by its first line)."""
    lines = redact_keeping_lines("\n".join(head_lines(text))).split("\n")
    end = min(end, start + MAX_ANCHORED_LINES - 1, len(lines))
    first, last = max(1, start - around), min(len(lines), end + around)
    width = len(str(last))
    return "\n".join(f"{n:>{width}} | {lines[n - 1]}" for n in range(first, last + 1))


def thread_messages(
    comments: Sequence[ReviewComment], root: int, before: int, *, is_ours: Callable[[str, bool], bool]
) -> list[Message]:
    """The messages of the thread ``root`` written before comment ``before``, oldest first (the latest
    :data:`MAX_MESSAGES`), without the thread's first comment (shown as the finding)."""
    earlier = sorted((c for c in comments if c.in_reply_to == root and c.id < before), key=lambda c: c.id)[
        -MAX_MESSAGES:
    ]
    return [
        Message(
            author="ArgoAI" if is_ours(c.author, c.author_is_bot) else f"@{c.author}",
            text=redact(clip(strip_markers(c.body), MAX_MESSAGE_CHARS)),
        )
        for c in earlier
    ]


def diff_context(files: Sequence[ChangedFile], counter: TokenCounter, budget: int) -> DiffContext:
    """The pull request's patches, in order, while they fit ``budget`` tokens (redacted)."""
    shown: list[str] = []
    left_out: list[str] = []
    left = budget
    for changed in files:
        if changed.patch is None:
            left_out.append(changed.path)
            continue
        block = f"=== {changed.path} ({changed.status.value}) ===\n{redact_keeping_lines(changed.patch)}"
        cost = counter.count(block) + 2
        if cost > left:
            left_out.append(changed.path)
            continue
        shown.append(block)
        left -= cost
    return DiffContext(text="\n\n".join(shown), left_out=left_out)
