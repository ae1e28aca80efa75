"""The diff model: which lines of the new file a review comment may be placed on.

GitHub accepts a comment on side RIGHT only on an added or context line of one of the file's hunks, and a
multi-line comment only when its whole range lies within one hunk; anything else is a 422 that rejects the
whole review. This module parses diffs (GitHub's per-file ``patch`` or a whole ``git diff``) with ``unidiff``
into immutable values that answer exactly that question.

Line text is kept without its ``+``/``-``/space prefix and without its terminator: both ``\\n`` and ``\\r\\n``
are removed, so a CRLF file and an LF file with the same content give the same text. ``\\ No newline at end
of file`` markers are not lines of either file and are dropped.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, cast

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile, PatchSet

from argoai_core.errors import InvalidInputError
from argoai_reviewer.domain import ChangedFile, FileStatus

LineKind = Literal["+", "-", " "]


class PatchParseError(InvalidInputError):
    """A patch that is not a well-formed unified diff (e.g. a hunk shorter than its header says)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot parse the diff of {path!r}: {reason}")
        self.path = path


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk: ``old``/``new`` are its numbers in the old/new file (None where it is absent)."""

    kind: LineKind
    old: int | None
    new: int | None
    text: str


@dataclass(frozen=True)
class Hunk:
    """One ``@@ -old_start,old_len +new_start,new_len @@ section`` block and its lines."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    lines: tuple[DiffLine, ...]

    def right_lines(self) -> frozenset[int]:
        """New-file line numbers commentable on side RIGHT: the added and context lines."""
        return frozenset(line.new for line in self.lines if line.new is not None)

    def new_line_texts(self) -> dict[int, str]:
        """Text of each new-file line in this hunk (added and context lines), by line number."""
        return {line.new: line.text for line in self.lines if line.new is not None}

    @property
    def additions(self) -> int:
        """Number of added lines."""
        return sum(1 for line in self.lines if line.kind == "+")

    @property
    def deletions(self) -> int:
        """Number of removed lines."""
        return sum(1 for line in self.lines if line.kind == "-")


@dataclass(frozen=True)
class FileDiff:
    """The diff of one file.

    ``path`` is the new path (the old one for a removed file); ``old_path`` is set only for renames and
    copies. ``status`` is a :class:`~argoai_reviewer.domain.FileStatus` value. ``binary`` is True for
    ``Binary files … differ``; ``patch_omitted`` is True when GitHub sent no patch although the file has
    changes (binary or too large), so nothing of it can be commented on.
    """

    path: str
    old_path: str | None
    status: str
    hunks: tuple[Hunk, ...]
    binary: bool = False
    patch_omitted: bool = False
    _by_line: dict[int, tuple[Hunk, str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[int, tuple[Hunk, str]] = {}
        for hunk in self.hunks:
            for number, text in hunk.new_line_texts().items():
                index[number] = (hunk, text)
        object.__setattr__(self, "_by_line", index)

    @cached_property
    def commentable(self) -> frozenset[int]:
        """Every new-file line a comment may be placed on (side RIGHT): added and context lines."""
        return frozenset(self._by_line)

    def hunk_of(self, line: int) -> Hunk | None:
        """The hunk in which new-file ``line`` is commentable, or None when it is not in the diff."""
        entry = self._by_line.get(line)
        return entry[0] if entry else None

    def new_text(self, line: int) -> str | None:
        """Text of new-file ``line`` when it is in the diff (added or context), else None."""
        entry = self._by_line.get(line)
        return entry[1] if entry else None

    def in_one_hunk(self, start: int, end: int) -> bool:
        """True when every line of ``start``..``end`` is commentable and all lie in the same hunk."""
        first = self.hunk_of(start)
        return first is not None and all(self.hunk_of(n) is first for n in range(start, end + 1))

    def added_lines(self) -> frozenset[int]:
        """New-file numbers of the added lines."""
        return frozenset(line.new for line in self._lines() if line.kind == "+" and line.new is not None)

    def removed_lines(self) -> frozenset[int]:
        """Old-file numbers of the removed lines."""
        return frozenset(line.old for line in self._lines() if line.kind == "-" and line.old is not None)

    def _lines(self) -> Iterator[DiffLine]:
        for hunk in self.hunks:
            yield from hunk.lines

    @property
    def additions(self) -> int:
        """Number of added lines."""
        return sum(hunk.additions for hunk in self.hunks)

    @property
    def deletions(self) -> int:
        """Number of removed lines."""
        return sum(hunk.deletions for hunk in self.hunks)

    @property
    def changed_lines(self) -> int:
        """Added plus removed lines."""
        return self.additions + self.deletions


def _strip_terminator(value: str) -> str:
    if value.endswith("\n"):
        value = value[:-1]
    if value.endswith("\r"):
        value = value[:-1]
    return value


def _hunks(patched: PatchedFile) -> tuple[Hunk, ...]:
    hunks = []
    for raw in patched:
        lines = tuple(
            DiffLine(
                kind=cast(LineKind, line.line_type),
                old=line.source_line_no,
                new=line.target_line_no,
                text=_strip_terminator(line.value),
            )
            for line in raw
            if line.line_type in ("+", "-", " ")
        )
        hunks.append(
            Hunk(
                old_start=raw.source_start,
                old_len=raw.source_length,
                new_start=raw.target_start,
                new_len=raw.target_length,
                section=raw.section_header.strip(),
                lines=lines,
            )
        )
    return tuple(hunks)


def _patch_set(text: str, what: str) -> PatchSet:
    # newline="\n": split on LF only, so \r, form feeds and U+2028 inside a line never start a new line.
    try:
        return PatchSet(io.StringIO(text, newline="\n"))
    except UnidiffParseError as exc:
        raise PatchParseError(what, str(exc)) from exc


def parse_patch(path: str, patch: str, *, status: str = "modified", old_path: str | None = None) -> FileDiff:
    """Parse GitHub's per-file ``patch`` (hunks only, no ``---``/``+++`` header) of ``path``.

    An empty patch gives a file with no hunks (a rename or mode change without content changes).
    Raises :class:`PatchParseError` for a malformed patch.
    """
    if not patch.strip():
        return FileDiff(path=path, old_path=old_path, status=status, hunks=())
    # unidiff needs the file header; the names in it do not matter, ``path`` is authoritative.
    header = "--- a/file\n+++ b/file\n"
    patch_set = _patch_set(header + patch if patch.endswith("\n") else header + patch + "\n", path)
    if len(patch_set) != 1:
        raise PatchParseError(path, f"expected one file, found {len(patch_set)}")
    return FileDiff(path=path, old_path=old_path, status=status, hunks=_hunks(patch_set[0]))


def from_changed_file(changed: ChangedFile) -> FileDiff:
    """The diff of a file as listed by GitHub; a missing ``patch`` means no commentable lines.

    GitHub omits ``patch`` for binary files and very large diffs; a pure rename has no patch either but
    then nothing is omitted (``additions`` and ``deletions`` are both 0).
    """
    old_path = changed.previous_path if changed.status in (FileStatus.RENAMED, FileStatus.COPIED) else None
    if changed.patch is None:
        pure_rename = changed.status in (FileStatus.RENAMED, FileStatus.COPIED) and not (
            changed.additions or changed.deletions
        )
        return FileDiff(
            path=changed.path,
            old_path=old_path,
            status=str(changed.status),
            hunks=(),
            patch_omitted=not pure_rename,
        )
    return parse_patch(changed.path, changed.patch, status=str(changed.status), old_path=old_path)


_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of a path (``"a/caf\\303\\251.txt"`` → ``a/café.txt``)."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    raw, out, i = name[1:-1], bytearray(), 0
    while i < len(raw):
        char = raw[i]
        if char != "\\" or i + 1 == len(raw):
            out += char.encode()
            i += 1
        elif raw[i + 1 : i + 4].isdigit() and len(raw[i + 1 : i + 4]) == 3:
            out.append(int(raw[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            escaped = raw[i + 1]
            out += bytes([_C_ESCAPES[escaped]]) if escaped in _C_ESCAPES else escaped.encode()
            i += 2
    return out.decode("utf-8", errors="replace")


def _strip_prefix(name: str, prefix: str) -> str:
    name = _unquote(name)
    return name[len(prefix) :] if name.startswith(prefix) else name


def _status(patched: PatchedFile) -> FileStatus:
    if patched.is_added_file:
        return FileStatus.ADDED
    if patched.is_removed_file:
        return FileStatus.REMOVED
    if patched.is_rename:
        return FileStatus.RENAMED
    return FileStatus.MODIFIED


def _file_diff(patched: PatchedFile) -> FileDiff:
    status = _status(patched)
    source = _strip_prefix(patched.source_file, "a/")
    target = _strip_prefix(patched.target_file, "b/")
    path = source if status == FileStatus.REMOVED else target
    return FileDiff(
        path=path,
        old_path=source if status == FileStatus.RENAMED else None,
        status=str(status),
        hunks=_hunks(patched),
        binary=bool(patched.is_binary_file),
    )


def parse_unified_diff(text: str) -> list[FileDiff]:
    """Parse a whole ``git diff`` (e.g. of a local commit range) into one :class:`FileDiff` per file.

    Handles new, deleted, renamed (with or without changes) and binary files, and git's C-style quoting of
    unusual paths.
    Raises :class:`PatchParseError` for a malformed diff.
    """
    return [_file_diff(patched) for patched in _patch_set(text, "<diff>")]


def changed_files(text: str) -> list[ChangedFile]:
    """The files of a whole ``git diff`` as GitHub lists them: per-file patches holding only the hunks.

    This lets a local range take the same path through selection and parsing as a pull request's files;
    like GitHub, binary files get no ``patch``.
    """
    files = []
    for patched in _patch_set(text, "<diff>"):
        status = _status(patched)
        source = _strip_prefix(patched.source_file, "a/")
        target = _strip_prefix(patched.target_file, "b/")
        files.append(
            ChangedFile(
                path=source if status == FileStatus.REMOVED else target,
                status=status,
                additions=patched.added,
                deletions=patched.removed,
                patch=None if patched.is_binary_file else "".join(str(hunk) for hunk in patched),
                previous_path=source if status == FileStatus.RENAMED else None,
            )
        )
    return files


def by_path(diffs: Iterable[FileDiff]) -> Mapping[str, FileDiff]:
    """Index file diffs by their (new) path."""
    return {diff.path: diff for diff in diffs}
