"""Diffs GitHub did not send: rebuilt from the file's two versions, so no file is skipped for a missing patch.

GitHub lists a file without ``patch`` when its diff is too large (and for binary files). A review that can
read the file before and after the change (a repository snapshot, or single-file reads) rebuilds the patch
with :mod:`difflib` (a unified diff with three context lines, GitHub's layout) and reviews the file like any
other; its changed lines are counted, sent and reported as usual.

Comments must land on lines GitHub's own diff of the file shows, and a rebuilt diff may pair lines
differently from git's. A line whose text occurs nowhere in the old version is an addition in *any* diff
of the two versions, so comments on a rebuilt file are allowed on those lines only: :class:`Rebuilt`
carries, beside the full patch the model reads, an anchoring patch holding just those lines.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.selection import BINARY, default_skip_reason, skip_reason
from argoai_reviewer.domain import ChangedFile, FileStatus

TextReader = Callable[[str], Awaitable[str | None]]
CONTEXT_LINES = 3
# difflib's matching time grows quickly with size: larger files are not rebuilt (reported as too large).
MAX_REBUILD_LINES = 50_000
READ_CONCURRENCY = 8


@dataclass(frozen=True)
class Rebuilt:
    """Files with their missing patches rebuilt where possible.

    ``files`` is the input with patches filled in (same order); ``anchors`` the same files with each rebuilt
    patch narrowed to the lines safe to comment on; ``paths`` the paths whose patch was rebuilt.
    """

    files: list[ChangedFile]
    anchors: list[ChangedFile]
    paths: tuple[str, ...] = field(default=())


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def rebuilt_patch(old: str, new: str) -> tuple[str, str, int, int]:
    """(patch, anchoring patch, additions, deletions) of ``old`` → ``new`` in GitHub's per-file layout."""
    a, b = _lines(old), _lines(new)
    # The first two lines are the ---/+++ file header, which GitHub's per-file patch does not have.
    patch = "\n".join(list(difflib.unified_diff(a, b, n=CONTEXT_LINES, lineterm=""))[2:])
    old_lines = set(a)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    hunks: list[str] = []
    additions = deletions = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            deletions += i2 - i1
        if tag not in ("insert", "replace"):
            continue
        additions += j2 - j1
        run: list[int] = []
        for j in [*range(j1, j2), -1]:
            if j >= 0 and b[j] not in old_lines:
                run.append(j)
                continue
            if run:
                body = "".join(f"\n+{b[k]}" for k in run)
                hunks.append(f"@@ -{i1},0 +{run[0] + 1},{len(run)} @@{body}")
                run = []
    return patch, "\n".join(hunks), additions, deletions


def needs_rebuild(changed: ChangedFile, policy: PolicySpec) -> bool:
    """True for a file GitHub sent without a patch that would otherwise be reviewed (not binary, not a pure
    rename, not excluded or skipped by the policy)."""
    if changed.patch is not None or changed.status in (FileStatus.REMOVED, FileStatus.UNCHANGED):
        return False
    if changed.status in (FileStatus.RENAMED, FileStatus.COPIED) and not (
        changed.additions or changed.deletions
    ):
        return False
    if default_skip_reason(changed.path) == BINARY:
        return False
    return skip_reason(changed, policy, missing_patch_ok=True) is None


async def rebuild_missing_patches(
    files: Sequence[ChangedFile], policy: PolicySpec, *, base_text: TextReader, head_text: TextReader
) -> Rebuilt:
    """``files`` with the patches GitHub left out rebuilt from ``base_text`` and ``head_text`` readers.

    A file whose versions cannot be read (binary, missing, over :data:`MAX_REBUILD_LINES` lines) keeps its
    missing patch, and selection reports it as before.
    """
    wanted = [changed for changed in files if needs_rebuild(changed, policy)]
    if not wanted:
        same = list(files)  # one list: the analysis then parses the diffs once for the model and anchoring
        return Rebuilt(files=same, anchors=same)
    gate = asyncio.Semaphore(READ_CONCURRENCY)

    async def one(changed: ChangedFile) -> tuple[ChangedFile, ChangedFile] | None:
        async with gate:
            new = await head_text(changed.path)
            if changed.status == FileStatus.ADDED:
                old: str | None = ""
            else:
                old = await base_text(changed.previous_path or changed.path)
        if old is None or new is None or max(old.count("\n"), new.count("\n")) > MAX_REBUILD_LINES:
            return None
        patch, anchoring, additions, deletions = await asyncio.to_thread(rebuilt_patch, old, new)
        full = replace(changed, patch=patch, additions=additions, deletions=deletions)
        return full, replace(full, patch=anchoring)

    results = dict(
        zip((c.path for c in wanted), await asyncio.gather(*(one(c) for c in wanted)), strict=True)
    )
    out_files, out_anchors, paths = [], [], []
    for changed in files:
        found = results.get(changed.path) if changed.patch is None else None
        if found is None:
            out_files.append(changed)
            out_anchors.append(changed)
        else:
            out_files.append(found[0])
            out_anchors.append(found[1])
            paths.append(changed.path)
    return Rebuilt(files=out_files, anchors=out_anchors, paths=tuple(paths))
