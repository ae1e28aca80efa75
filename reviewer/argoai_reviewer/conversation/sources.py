"""Where a review reads the repository: the head snapshot when there is one, single files otherwise.

:func:`review_sources` checks out the snapshot of the reviewed head from the pod's
:class:`~argoai_reviewer.workspace.store.SnapshotStore` (one download per head per pod, shared by
concurrent jobs) and indexes it for related code. When the snapshot cannot be had (over a size cap, a
corrupt archive, GitHub refusing it, snapshots turned off) the review goes on with single-file reads and
no related code, and :attr:`ReviewSources.note` says so in the summary.

Base versions (to rebuild the diffs GitHub left out) are read one file at a time when few are needed, and
from a snapshot of the base commit when more are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from argoai_core.errors import ArgoAIError
from argoai_core.logs import get_logger
from argoai_core.models.job import RepoRef
from argoai_reviewer.index.cache import IndexCache
from argoai_reviewer.index.code_index import CodeIndex
from argoai_reviewer.workspace.archive import OverLimitError
from argoai_reviewer.workspace.snapshot import Snapshot, SnapshotKey
from argoai_reviewer.workspace.store import SnapshotStore

log = get_logger(__name__)

TextReader = Callable[[str], Awaitable[str | None]]
# More base versions than this are read from a snapshot of the base commit (one download) than one by one.
MAX_SINGLE_BASE_READS = 16


class RepositoryReader(Protocol):
    """What the sources read from GitHub: single files, and whole archives."""

    async def file_text(self, repo: RepoRef, path: str, ref: str) -> str | None:
        """A file's text at ``ref``; None when it is missing, binary or too large."""
        ...

    async def download_archive(self, repo: RepoRef, sha: str, destination: Path, max_bytes: int) -> None:
        """Write the repository's archive at ``sha`` to ``destination`` (OverLimitError past the cap)."""
        ...


@dataclass(frozen=True)
class SourceOptions:
    """The pod's snapshot store (None: snapshots off) and the index cache shared by its reviews."""

    store: SnapshotStore | None = None
    index_cache: IndexCache = field(default_factory=IndexCache)


@dataclass(frozen=True)
class _Archive:
    """One repository of one installation as an ``ArchiveSource``."""

    reader: RepositoryReader
    repo: RepoRef

    async def download_archive(self, sha: str, destination: Path, max_bytes: int) -> None:
        await self.reader.download_archive(self.repo, sha, destination, max_bytes)


@dataclass
class ReviewSources:
    """The repository as one review reads it."""

    reader: RepositoryReader
    repo: RepoRef
    head_sha: str
    options: SourceOptions
    stack: AsyncExitStack
    snapshot: Snapshot | None = None
    code: CodeIndex | None = None
    note: str = ""
    _read: dict[str, str | None] = field(default_factory=dict)

    async def head_text(self, path: str) -> str | None:
        """A file at head: from the snapshot, or read alone (a file the archive left out, no snapshot) once
        per review however often it is asked for (rebuilding a diff, then showing it)."""
        if self.snapshot is not None and self.snapshot.resolve(path) is not None:
            return self.snapshot.read_text(path)
        if path not in self._read:
            self._read[path] = await self.reader.file_text(self.repo, path, self.head_sha)
        return self._read[path]

    async def base_reader(self, base_sha: str, wanted: int) -> TextReader:
        """A reader of files at ``base_sha``: a snapshot of it when ``wanted`` files exceed a few."""
        base: Snapshot | None = None
        if wanted > MAX_SINGLE_BASE_READS and self.options.store is not None:
            base = await _checkout(self.options.store, self.stack, self.reader, self.repo, base_sha)

        async def read(path: str) -> str | None:
            if base is not None and base.resolve(path) is not None:
                return base.read_text(path)
            return await self.reader.file_text(self.repo, path, base_sha)

        return read


async def _checkout(
    store: SnapshotStore, stack: AsyncExitStack, reader: RepositoryReader, repo: RepoRef, sha: str
) -> Snapshot | None:
    key = SnapshotKey(repo.host, repo.owner, repo.name, sha)
    try:
        return await stack.enter_async_context(store.checkout(key, _Archive(reader, repo)))
    except ArgoAIError as exc:
        log.warning("repository snapshot not available", snapshot=str(key), error=str(exc))
        return None


@asynccontextmanager
async def review_sources(
    reader: RepositoryReader, repo: RepoRef, head_sha: str, options: SourceOptions
) -> AsyncIterator[ReviewSources]:
    """The sources of one review of ``repo`` at ``head_sha``; snapshots stay checked out until the end."""
    async with AsyncExitStack() as stack:
        sources = ReviewSources(reader, repo, head_sha, options, stack)
        if options.store is not None:
            key = SnapshotKey(repo.host, repo.owner, repo.name, head_sha)
            try:
                sources.snapshot = await stack.enter_async_context(
                    options.store.checkout(key, _Archive(reader, repo))
                )
            except OverLimitError as exc:
                sources.note = (
                    f"The repository snapshot was not used ({exc.reason}): files were read one by one "
                    "and no related unchanged code was added."
                )
            except ArgoAIError as exc:
                log.warning("repository snapshot not available", snapshot=str(key), error=str(exc))
                sources.note = (
                    "The repository snapshot could not be read: files were read one by one and no related "
                    "unchanged code was added."
                )
            if sources.snapshot is not None:
                sources.code = CodeIndex(sources.snapshot, options.index_cache)
        yield sources
