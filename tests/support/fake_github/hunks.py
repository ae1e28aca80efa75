"""Which lines of a file's patch a review comment may point at, as GitHub decides it.

Deliberately independent of the product's diff code (a few lines of parsing, no unidiff), so the fake checks
the product's anchoring instead of agreeing with it by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    """One ``@@`` hunk: the commentable line numbers on each side."""

    right: set[int] = field(default_factory=set)  # added and context lines, new-file numbering
    left: set[int] = field(default_factory=set)  # deleted and context lines, old-file numbering


@dataclass
class PatchLines:
    """A parsed patch: its hunks, and the old-style ``position`` (line index in the patch) of each line."""

    hunks: list[Hunk]
    positions: int  # number of lines after the first hunk header (valid positions are 1..positions)

    def hunk_of(self, line: int, side: str) -> int | None:
        """Index of the hunk in which ``line`` is commentable on ``side`` (RIGHT or LEFT), else None."""
        for index, hunk in enumerate(self.hunks):
            if line in (hunk.right if side == "RIGHT" else hunk.left):
                return index
        return None


def parse_patch(patch: str) -> PatchLines:
    """Parse the ``patch`` of one file as GitHub returns it in ``/pulls/{n}/files``."""
    hunks: list[Hunk] = []
    old = new = 0
    positions = 0
    for raw in patch.split("\n"):
        match = _HEADER.match(raw)
        if match:
            if hunks:
                positions += 1  # later hunk headers count as positions; the first one does not
            old, new = int(match.group(1)), int(match.group(3))
            hunks.append(Hunk())
            continue
        if not hunks:
            continue
        if raw == "" or raw.startswith("\\"):
            # "\ No newline at end of file", or the empty string after a trailing newline
            if raw.startswith("\\"):
                positions += 1
            continue
        positions += 1
        kind, hunk = raw[0], hunks[-1]
        if kind == "+":
            hunk.right.add(new)
            new += 1
        elif kind == "-":
            hunk.left.add(old)
            old += 1
        else:
            hunk.right.add(new)
            hunk.left.add(old)
            new += 1
            old += 1
    return PatchLines(hunks=hunks, positions=positions)


def count_changes(patch: str | None) -> tuple[int, int]:
    """(additions, deletions) of a patch, as GitHub reports them for a file."""
    if patch is None:
        return 0, 0
    additions = deletions = 0
    for raw in patch.split("\n"):
        if raw.startswith("+"):
            additions += 1
        elif raw.startswith("-"):
            deletions += 1
    return additions, deletions
