"""The walkthrough of a pull request, and its effort and risk estimates. Pure.

One row per changed file, in path order: the model's one-line description of the file when a review gave one
(``ReviewOutput.files``, kept across incremental reviews), else what the file list alone says ("new file,
+12"). A pull request of more than :data:`MAX_FILE_ROWS` files is shown grouped by directory instead.

The estimates are arithmetic on the change and on the open findings, not a model's opinion, so they are the
same every time for the same pull request:

* effort (1–5, with the minutes a careful reviewer might need) from the changed lines, one step more for
  more than 20 files;
* risk: ``high`` with an open critical finding or an open major security finding, ``medium`` with another
  open major finding or when the change touches sensitive paths (CI workflows, authentication, crypto,
  migrations, infrastructure), else ``low``.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from argoai_core.models.findings import Severity
from argoai_core.sanitize import sanitize_path, sanitize_title
from argoai_reviewer.conversation.record import TrackedFinding
from argoai_reviewer.domain import ChangedFile, FileStatus

MAX_FILE_ROWS = 40
"""Above this many files the walkthrough groups them by directory."""
DESCRIPTION_MAX = 200

EFFORT_STEPS = ((50, 1), (200, 2), (500, 3), (1500, 4))
EFFORT_MINUTES = {1: "about 5 minutes", 2: "about 15 minutes", 3: "about 30 minutes", 4: "about an hour",
                  5: "more than an hour"}  # fmt: skip
SENSITIVE = (
    ".github/workflows/*", "*auth*", "*login*", "*password*", "*secret*", "*crypt*", "*token*",
    "*migration*", "*/migrations/*", "Dockerfile*", "*.tf", "*/helm/*", "charts/*", "*.sql",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    """One row of the walkthrough table (already safe to render)."""

    name: str
    description: str


def _fallback(changed: ChangedFile) -> str:
    """What the file list alone says about a file."""
    counts = f"+{changed.additions} −{changed.deletions}"
    if changed.status is FileStatus.ADDED:
        return f"New file ({counts})"
    if changed.status is FileStatus.REMOVED:
        return f"Removed ({counts})"
    if changed.status is FileStatus.RENAMED and changed.previous_path:
        return f"Renamed from `{sanitize_path(changed.previous_path)}` ({counts})"
    if changed.patch is None:
        return "Changed (no diff shown: binary or too large)"
    return f"Modified ({counts})"


def _described(note: str, bot_handle: str) -> str:
    return sanitize_title(" ".join(note.split()), bot_handle=bot_handle)[:DESCRIPTION_MAX]


def rows(files: Sequence[ChangedFile], notes: Mapping[str, str], *, bot_handle: str) -> list[Row]:
    """The walkthrough's rows: one per file, or one per directory for a large pull request."""
    ordered = sorted(files, key=lambda f: f.path)
    if len(ordered) <= MAX_FILE_ROWS:
        return [
            Row(
                name=f"`{sanitize_path(f.path)}`",
                description=_described(notes[f.path], bot_handle) if f.path in notes else _fallback(f),
            )
            for f in ordered
        ]
    groups: dict[str, list[ChangedFile]] = defaultdict(list)
    for changed in ordered:
        parts = changed.path.split("/")
        groups[
            "/".join(parts[:2]) + "/" if len(parts) > 2 else (parts[0] + "/" if len(parts) > 1 else "")
        ].append(changed)
    result = []
    for directory, members in sorted(groups.items()):
        added = sum(f.additions for f in members)
        deleted = sum(f.deletions for f in members)
        said = [_described(notes[f.path], bot_handle) for f in members if f.path in notes][:2]
        description = f"{len(members)} files (+{added} −{deleted})"
        if said:
            description += ": " + "; ".join(said)
        result.append(Row(name=f"`{sanitize_path(directory) or '(top level)'}`", description=description))
    return result


def effort(files: Iterable[ChangedFile]) -> tuple[int, str]:
    """Review effort 1–5 and the time it suggests."""
    files = list(files)
    lines = sum(f.additions + f.deletions for f in files)
    level = next((step for limit, step in EFFORT_STEPS if lines <= limit), 5)
    if len(files) > 20:
        level = min(5, level + 1)
    return level, EFFORT_MINUTES[level]


def risk(files: Iterable[ChangedFile], open_findings: Iterable[TrackedFinding]) -> tuple[str, str]:
    """Risk ``low``/``medium``/``high`` and why."""
    findings = list(open_findings)
    severities = {f.severity for f in findings}
    if Severity.CRITICAL.value in severities:
        return "high", "an open critical finding"
    if any(f.severity == Severity.MAJOR.value and f.category == "security" for f in findings):
        return "high", "an open major security finding"
    if Severity.MAJOR.value in severities:
        return "medium", "an open major finding"
    touched = [f.path for f in files if any(fnmatch.fnmatch(f.path.lower(), glob) for glob in SENSITIVE)]
    if touched:
        return "medium", f"changes sensitive files (`{sanitize_path(touched[0])}`" + (
            f" and {len(touched) - 1} more)" if len(touched) > 1 else ")"
        )
    return "low", "no open major finding, no sensitive file"
