"""A repository's files at one commit, read-only: the reads the review (and later an agent's tools) make.

Every path goes through :func:`~.paths.clean_path` and is looked up in the manifest; only files the manifest
lists are opened, so nothing outside the unpacked tree (``..``, absolute paths, ``.git``) can be read, and a
symlink is followed only to another entry of the same tree (a few hops at most). Reads never raise for a
missing path: they answer None or an empty list.

Searching takes a literal string or a regular expression. Regular expressions run line by line with
Python's ``re`` on lines of at most :data:`SEARCH_LINE_CHARS` characters and a bounded pattern length,
which keeps an adversarial pattern's backtracking bounded per line; a caller exposing search to a model
should still bound the time it allows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

from argoai_reviewer.workspace.archive import FILES, Manifest
from argoai_reviewer.workspace.paths import clean_path

MAX_SYMLINK_HOPS = 8
SEARCH_LINE_CHARS = 2000
MAX_PATTERN_CHARS = 500


@dataclass(frozen=True)
class SnapshotKey:
    """Which snapshot: the GitHub host (or ``local``), the repository and the commit."""

    host: str
    owner: str
    name: str
    sha: str

    @property
    def digest(self) -> str:
        """A file-name-safe key, stable across processes."""
        text = f"{self.host}/{self.owner}/{self.name}@{self.sha}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}@{self.sha[:12]}"


@dataclass(frozen=True)
class DirEntry:
    """One entry of a directory listing: ``kind`` is ``file``, ``dir``, ``symlink`` or ``omitted``."""

    name: str
    path: str
    kind: str
    size: int = 0
    note: str = ""


@dataclass(frozen=True)
class TextHit:
    """A line that matched a search: path, 1-based line number, the line's text (cut to a bounded length)."""

    path: str
    line: int
    text: str


def split_lines(text: str) -> list[str]:
    """The lines of ``text`` as diffs and tree-sitter count them: split on LF only, a CR before it dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


class Snapshot:
    """The files of one unpacked archive (see the module docstring)."""

    def __init__(self, key: SnapshotKey, directory: Path, manifest: Manifest) -> None:
        self.key = key
        self.directory = directory
        self.manifest = manifest
        self._root = directory / FILES

    def paths(self) -> list[str]:
        """Every text file of the snapshot, sorted."""
        return sorted(self.manifest.files)

    def __len__(self) -> int:
        return len(self.manifest.files)

    def resolve(self, path: str) -> str | None:
        """The text file ``path`` names (following in-tree symlinks), or None."""
        current = clean_path(path)
        for _ in range(MAX_SYMLINK_HOPS):
            if current is None:
                return None
            if current in self.manifest.files:
                return current
            current = self.manifest.symlinks.get(current)
        return None

    def digest(self, path: str) -> str | None:
        """A digest of the file's content (the same content has the same digest in every snapshot)."""
        resolved = self.resolve(path)
        return self.manifest.files[resolved].digest if resolved is not None else None

    def read_bytes(self, path: str) -> bytes | None:
        """The file's bytes, or None when the snapshot does not hold it as a text file."""
        resolved = self.resolve(path)
        if resolved is None:
            return None
        try:
            return (self._root / resolved).read_bytes()
        except OSError:
            return None

    def read_text(self, path: str) -> str | None:
        """The file's text (UTF-8; undecodable bytes replaced), or None."""
        data = self.read_bytes(path)
        return data.decode("utf-8", errors="replace") if data is not None else None

    def read_lines(self, path: str, start: int, end: int) -> list[str] | None:
        """Lines ``start``..``end`` (1-based, inclusive, clamped to the file) without terminators, or None."""
        text = self.read_text(path)
        if text is None:
            return None
        return split_lines(text)[max(0, start - 1) : max(0, end)]

    @cached_property
    def _children(self) -> dict[str, dict[str, DirEntry]]:
        tree: dict[str, dict[str, DirEntry]] = {"": {}}

        def add(path: str, kind: str, size: int = 0, note: str = "") -> None:
            parts = PurePosixPath(path).parts
            for depth in range(len(parts)):
                parent = "/".join(parts[:depth])
                here = "/".join(parts[: depth + 1])
                leaf = depth == len(parts) - 1
                entry = (
                    DirEntry(parts[depth], here, kind, size, note)
                    if leaf
                    else DirEntry(parts[depth], here, "dir")
                )
                tree.setdefault(parent, {}).setdefault(parts[depth], entry)
                if not leaf:
                    tree.setdefault(here, {})

        for path, entry in self.manifest.files.items():
            add(path, "file", entry.size)
        for path, target in self.manifest.symlinks.items():
            add(path, "symlink", note=f"-> {target}")
        for path, reason in self.manifest.omitted.items():
            add(path, "omitted", note=reason)
        return tree

    def list_dir(self, path: str = "") -> list[DirEntry] | None:
        """The entries of directory ``path`` ("" is the root), by name; None when it is no directory."""
        key = "" if path in ("", ".", "/") else clean_path(path.rstrip("/"))
        if key is None or key not in self._children:
            return None
        return sorted(self._children[key].values(), key=lambda entry: entry.name)

    def search(
        self,
        pattern: str,
        *,
        regex: bool = False,
        ignore_case: bool = False,
        paths: list[str] | None = None,
        max_hits: int = 200,
    ) -> list[TextHit]:
        """Lines matching ``pattern`` (a literal, or a regular expression with ``regex``), in path order.

        ``paths`` limits the search to those files. Raises ValueError for an invalid or too long pattern.
        """
        if not pattern or len(pattern) > MAX_PATTERN_CHARS:
            raise ValueError(f"a search pattern has 1 to {MAX_PATTERN_CHARS} characters")
        flags = re.IGNORECASE if ignore_case else 0
        try:
            compiled = re.compile(pattern if regex else re.escape(pattern), flags)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        hits: list[TextHit] = []
        for path in paths if paths is not None else self.paths():
            for number, line in self._lines_matching(path, compiled, pattern, regex or ignore_case):
                hits.append(TextHit(path, number, line[:SEARCH_LINE_CHARS]))
                if len(hits) >= max_hits:
                    return hits
        return hits

    def _lines_matching(
        self, path: str, compiled: re.Pattern[str], literal: str, needs_regex: bool
    ) -> Iterator[tuple[int, str]]:
        text = self.read_text(path)
        # A literal absent from the whole file needs no line-by-line pass (most files, most searches).
        if text is None or (not needs_regex and literal not in text):
            return
        for number, line in enumerate(split_lines(text), start=1):
            if compiled.search(line[:SEARCH_LINE_CHARS]):
                yield number, line
