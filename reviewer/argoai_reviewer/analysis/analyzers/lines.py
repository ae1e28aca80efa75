"""Walking the added lines of a diff, shared by the built-in checks and the runner (changed lines)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from argoai_reviewer.analysis.diff import DiffLine, FileDiff


def added_runs(diff: FileDiff) -> Iterator[list[DiffLine]]:
    """Runs of consecutive added lines, each within one hunk (so any range inside a run is commentable)."""
    for hunk in diff.hunks:
        run: list[DiffLine] = []
        for line in hunk.lines:
            if line.kind == "+" and line.new is not None:
                run.append(line)
            elif line.kind == " " and run:
                yield run
                run = []
            # A removed line between added ones keeps the run: the new-file numbers stay consecutive.
        if run:
            yield run


def added_lines(diff: FileDiff) -> Iterator[DiffLine]:
    """Every added line of the file, in order."""
    for run in added_runs(diff):
        yield from run


def slug(text: str) -> str:
    """``text`` as a rule id: lower case, runs of other characters turned into one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "rule"


def extension(path: str) -> str:
    """The lower-case extension of ``path`` without the dot ("" when none)."""
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def changed_lines(diff: FileDiff) -> frozenset[int]:
    """New-file numbers of the lines ``diff`` adds: the lines analyzers report on."""
    return frozenset(line.new for line in added_lines(diff) if line.new is not None)
