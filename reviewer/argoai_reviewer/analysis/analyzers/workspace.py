"""Where analyzers read the files at head: a directory on disk, behind a small interface.

:class:`HeadTree` is what the analyzers need: "a directory in which these repository paths hold their content
at head". :class:`TempCopy` builds one from a file-content source (the review's ``head_text`` callback, or
texts already read): only the files asked for are written, as plain files, into a private temporary
directory that is removed afterwards. A snapshot of the whole repository (a checkout kept by the reviewer)
can implement :class:`HeadTree` by handing out its own directory instead: nothing else changes.

Paths come from the pull request and are untrusted: a path is written only when it is relative, has no
``..``, empty or hidden-device segments and stays inside the directory; anything else is skipped. Files are
written with mode 0600 in directories of mode 0700; nothing is ever executed from them.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path, PurePosixPath
from typing import Protocol

FileText = Callable[[str], Awaitable[str | None]]
"""A file's text at head (None: absent, binary or unreadable)."""

# Reading files at head is I/O bound (GitHub calls); a few at a time.
_READ_CONCURRENCY = 8


class HeadTree(Protocol):
    """The head commit's files on disk, for tools that read files."""

    def open(self, paths: Sequence[str]) -> AbstractAsyncContextManager[Path]:
        """A directory where each readable path of ``paths`` (repository-relative) holds its head content,
        valid until the block ends."""
        ...


def safe_relative(path: str) -> PurePosixPath | None:
    """``path`` as a safe relative path (no absolute path, ``..``, empty segment or NUL), else None."""
    if not path or "\x00" in path or "\\" in path or path.startswith("/"):
        return None
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return PurePosixPath(*parts)


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    """Create directory ``root`` holding ``files`` (relative path → text); unsafe paths are skipped."""
    root.mkdir(mode=0o700)
    for path, text in files.items():
        relative = safe_relative(path)
        if relative is None:
            continue
        target = root.joinpath(*relative.parts)
        if not target.resolve().is_relative_to(root.resolve()):
            continue
        try:
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_EXCL: never follow or replace something already there (two paths naming one file).
            with open(target, "x", encoding="utf-8", newline="") as handle:
                handle.write(text)
            target.chmod(0o600)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue


class TempCopy:
    """A :class:`HeadTree` made of a temporary copy of the files asked for, read from ``source``.

    ``known`` holds texts already read (the review reads every changed file once); ``source`` is asked only
    for the others.
    """

    def __init__(self, source: FileText, known: Mapping[str, str | None] | None = None) -> None:
        self._source = source
        self._known = dict(known or {})

    async def _texts(self, paths: Sequence[str]) -> dict[str, str]:
        gate = asyncio.Semaphore(_READ_CONCURRENCY)

        async def one(path: str) -> str | None:
            if path in self._known:
                return self._known[path]
            async with gate:
                text = await self._source(path)
            self._known[path] = text
            return text

        texts = await asyncio.gather(*(one(path) for path in paths))
        return {path: text for path, text in zip(paths, texts, strict=True) if text is not None}

    def open(self, paths: Sequence[str]) -> AbstractAsyncContextManager[Path]:
        """A private temporary directory holding ``paths`` (those that exist at head), removed afterwards."""
        return self._open(list(dict.fromkeys(paths)))

    @asynccontextmanager
    async def _open(self, paths: list[str]) -> AsyncIterator[Path]:
        texts = await self._texts(paths)
        root = Path(tempfile.mkdtemp(prefix="argoai-analyzers-"))
        try:
            await asyncio.to_thread(write_tree, root / "tree", texts)
            yield root / "tree"
        finally:
            await asyncio.to_thread(shutil.rmtree, root, True)
