"""Synthetic pull requests for the reviewer benchmark: realistic modified files with several hunks each.

Every file is a Python module whose head differs from its base in a few replaced blocks; the patch is a real
unified diff of the two (difflib), so hunks, context lines and line numbers are exactly what GitHub would
list. A few changed lines carry the fake LLM's marker (``FIXME-BUG``) so reviews have findings to anchor.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

MARKER = "FIXME-BUG"


@dataclass(frozen=True)
class BenchFile:
    """One changed file: path, patch (GitHub's ``patch`` field), text at base and at head."""

    path: str
    patch: str
    base: str
    head: str

    @property
    def changed_lines(self) -> int:
        """Added plus removed lines, as GitHub counts ``changes``."""
        return sum(
            1 for line in self.patch.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))
        )

    def spec(self) -> list[str]:
        """The fake GitHub's ``(path, patch, content_at_head)`` form (JSON-able)."""
        return [self.path, self.patch, self.head]


def _line(index: int, salt: str) -> str:
    return (
        f"    total_{index} = compute_{index % 7}(items, factor={index % 13}, tag='{salt}')  # step {index}\n"
    )


def _module(path: str, lines: int, salt: str) -> list[str]:
    out = [f'"""Module {path}."""\n', "\n", "\n", "def run(items, compute_0, compute_1):\n"]
    out += [_line(i, salt) for i in range(len(out), lines)]
    return out


def make_file(path: str, *, lines: int, blocks: list[int], marker_every: int = 0) -> BenchFile:
    """A module of ``lines`` lines with one replaced block per entry of ``blocks`` (its size in lines).

    Changed lines = 2 × sum(blocks) (each replaced line is one removal and one addition).
    ``marker_every`` > 0 marks every n-th new line with the fake LLM's finding marker.
    """
    base = _module(path, lines, "base")
    head = list(base)
    stride = max(max(blocks) + 8, (lines - 10) // max(len(blocks), 1))
    count = 0
    for block, size in enumerate(blocks):
        start = 6 + block * stride
        for offset in range(size):
            index = start + offset
            count += 1
            mark = f"  # {MARKER} off by one" if marker_every and count % marker_every == 0 else ""
            head[index] = f"    total_{index} = compute_{index % 5}(items[1:], factor={index}){mark}\n"
    diff = difflib.unified_diff(base, head, n=3)
    patch = "".join(line for line in diff if not line.startswith(("---", "+++")))
    return BenchFile(path=path, patch=patch.rstrip("\n"), base="".join(base), head="".join(head))


def make_pr(
    files: int, changed_lines: int, *, lines_per_file: int = 160, marker_every: int = 0, marked_files: int = 1
) -> list[BenchFile]:
    """``files`` modified files with ``changed_lines`` changed lines in total (even split, 3 hunks each).

    ``changed_lines`` must be even (a replaced line is one removal and one addition) and ≥ 6 per file.
    Every ``marked_files``-th file gets a marker on every ``marker_every``-th changed line.
    """
    replaced, extra = divmod(changed_lines // 2, files)
    out = []
    for i in range(files):
        size = replaced + (1 if i < extra else 0)
        blocks = [size // 3 + (1 if b < size % 3 else 0) for b in range(3)]
        out.append(
            make_file(
                f"src/pkg{i // 50}/module_{i}.py",
                lines=max(lines_per_file, 3 * (max(blocks) + 12) + 20),
                blocks=blocks,
                marker_every=marker_every if i % marked_files == 0 else 0,
            )
        )
    return out


def push_one_file(files: list[BenchFile], index: int = 0) -> tuple[list[BenchFile], BenchFile]:
    """The PR after a push that changes one more line in file ``index``: (new PR files, the push's file diff).

    The push's diff (what ``compare old...new`` lists) is the change between the old and the new head only.
    """
    old = files[index]
    old_lines = old.head.splitlines(keepends=True)
    new_lines = list(old_lines)
    target = len(new_lines) - 5
    new_lines[target] = f"    total_{target} = None  # {MARKER} pushed fix broke this\n"
    new_head = "".join(new_lines)
    pr_patch = "".join(
        line
        for line in difflib.unified_diff(old.base.splitlines(keepends=True), new_lines, n=3)
        if not line.startswith(("---", "+++"))
    )
    push_patch = "".join(
        line
        for line in difflib.unified_diff(old_lines, new_lines, n=3)
        if not line.startswith(("---", "+++"))
    )
    updated = BenchFile(path=old.path, patch=pr_patch.rstrip("\n"), base=old.base, head=new_head)
    pushed = BenchFile(path=old.path, patch=push_patch.rstrip("\n"), base=old.head, head=new_head)
    return [updated if i == index else f for i, f in enumerate(files)], pushed
