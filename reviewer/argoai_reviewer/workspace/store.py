"""The per-process cache of repository snapshots: fetched once per (host, repository, commit), LRU-evicted.

* :meth:`SnapshotStore.checkout` gives a :class:`~.snapshot.Snapshot` for a key, downloading and unpacking
  the archive only when the cache does not hold it. Jobs asking for the same key at the same time share one
  download (single flight); a snapshot in use is never evicted.
* Caps: the archive's size (``max_archive_bytes``, checked while downloading) and what it unpacks to
  (:class:`~.archive.UnpackLimits`). Past a cap :class:`~.archive.OverLimitError` tells the caller to read
  single files instead; the refusal is remembered for the key, so later jobs do not download it again.
* The cache directory holds one directory per key (``<digest>/manifest.json`` and ``<digest>/files/``) and a
  ``.tmp/`` for work in progress; a snapshot appears under its name only once whole (atomic rename), so a
  crash never leaves half a snapshot to be served. The least recently used snapshots are removed while the
  cache holds more than ``cache_bytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from argoai_core.logs import get_logger
from argoai_reviewer.metrics import SNAPSHOT_CACHE_BYTES, SNAPSHOT_SECONDS, SNAPSHOTS
from argoai_reviewer.workspace.archive import Manifest, OverLimitError, UnpackLimits, unpack
from argoai_reviewer.workspace.snapshot import Snapshot, SnapshotKey

log = get_logger(__name__)

TMP = ".tmp"
REFUSALS_KEPT = 512


class ArchiveSource(Protocol):
    """Where a snapshot's archive comes from (GitHub's tarball endpoint, ``git archive`` of a local repo)."""

    async def download_archive(self, sha: str, destination: Path, max_bytes: int) -> None:
        """Write the archive (tar, gzipped or not) of commit ``sha`` to ``destination``.

        Raises :class:`~.archive.OverLimitError` as soon as it would exceed ``max_bytes``.
        """
        ...


@dataclass(frozen=True)
class SnapshotLimits:
    """How large a snapshot may be, how the archive is laid out, and how much the cache keeps."""

    max_archive_bytes: int = 100 * 1024 * 1024
    unpack: UnpackLimits = field(default_factory=UnpackLimits)
    cache_bytes: int = 2 * 1024 * 1024 * 1024
    # Leading directories of every member (GitHub: one "owner-repo-sha/").
    strip: int = 1


@dataclass
class _Entry:
    snapshot: Snapshot
    size: int
    users: int = 0


class SnapshotStore:
    """Snapshots of this process, on disk under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path, limits: SnapshotLimits | None = None) -> None:
        self.directory = directory
        self.limits = limits or SnapshotLimits()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._pending: dict[str, asyncio.Task[_Entry]] = {}
        self._refused: OrderedDict[str, str] = OrderedDict()
        self.fetches = 0

    @property
    def cached_bytes(self) -> int:
        """Bytes of the snapshots held."""
        return sum(entry.size for entry in self._entries.values())

    @contextlib.asynccontextmanager
    async def checkout(self, key: SnapshotKey, source: ArchiveSource) -> AsyncIterator[Snapshot]:
        """The snapshot of ``key``, kept from eviction until the block ends.

        Raises :class:`~.archive.OverLimitError` (over a cap), ``InvalidInputError`` (not an archive) or the
        source's errors (e.g. ``UnavailableError``).
        """
        entry = await self._get(key, source)
        entry.users += 1
        try:
            yield entry.snapshot
        finally:
            entry.users -= 1
            await asyncio.to_thread(self._evict)

    async def _get(self, key: SnapshotKey, source: ArchiveSource) -> _Entry:
        digest = key.digest
        if digest in self._refused:
            SNAPSHOTS.labels(result="refused").inc()
            raise OverLimitError(self._refused[digest])
        entry = self._entries.get(digest)
        if entry is not None:
            self._entries.move_to_end(digest)
            SNAPSHOTS.labels(result="cached").inc()
            return entry
        pending = self._pending.get(digest)
        if pending is not None:
            SNAPSHOTS.labels(result="shared").inc()
            return await asyncio.shield(pending)
        task = asyncio.create_task(self._load(key, source))
        self._pending[digest] = task
        try:
            # shield: a cancelled job does not cancel the download other jobs are waiting for.
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._pending.pop(digest, None)
            else:
                task.add_done_callback(lambda _: self._pending.pop(digest, None))

    async def _load(self, key: SnapshotKey, source: ArchiveSource) -> _Entry:
        digest = key.digest
        final = self.directory / digest
        manifest = await asyncio.to_thread(_try_manifest, final)
        if manifest is None:
            started = time.monotonic()
            try:
                manifest = await self._fetch(key, source, final)
            except OverLimitError as exc:
                self._remember_refusal(digest, exc.reason)
                SNAPSHOTS.labels(result="refused").inc()
                raise
            except BaseException:
                SNAPSHOTS.labels(result="failed").inc()
                raise
            SNAPSHOT_SECONDS.observe(time.monotonic() - started)
            SNAPSHOTS.labels(result="fetched").inc()
            self.fetches += 1
        else:
            SNAPSHOTS.labels(result="cached").inc()
        entry = _Entry(Snapshot(key, final, manifest), manifest.stored_bytes)
        self._entries[digest] = entry
        SNAPSHOT_CACHE_BYTES.set(self.cached_bytes)
        return entry

    async def _fetch(self, key: SnapshotKey, source: ArchiveSource, final: Path) -> Manifest:
        work = self.directory / TMP
        await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
        token = uuid.uuid4().hex[:12]
        archive = work / f"{key.digest}-{token}.archive"
        unpacked = work / f"{key.digest}-{token}"
        try:
            await source.download_archive(key.sha, archive, self.limits.max_archive_bytes)
            manifest = await asyncio.to_thread(self._unpack, archive, unpacked)
            await asyncio.to_thread(_publish, unpacked, final)
        finally:
            await asyncio.to_thread(_remove, archive)
            await asyncio.to_thread(_remove, unpacked)
        log.info(
            "snapshot unpacked", snapshot=str(key), files=len(manifest.files), bytes=manifest.stored_bytes,
            refused=manifest.refused_count,
        )  # fmt: skip
        return manifest

    def _unpack(self, archive: Path, directory: Path) -> Manifest:
        with archive.open("rb") as stream:
            return unpack(stream, directory, self.limits.unpack, strip=self.limits.strip)

    def _remember_refusal(self, digest: str, reason: str) -> None:
        self._refused[digest] = reason
        while len(self._refused) > REFUSALS_KEPT:
            self._refused.popitem(last=False)

    def _evict(self) -> None:
        """Remove least recently used snapshots (not in use) while the cache is over its size."""
        total = self.cached_bytes
        for digest in list(self._entries):
            if total <= self.limits.cache_bytes:
                break
            entry = self._entries[digest]
            if entry.users:
                continue
            del self._entries[digest]
            total -= entry.size
            _remove(entry.snapshot.directory)
        SNAPSHOT_CACHE_BYTES.set(total)

    def clear(self) -> None:
        """Remove every snapshot not in use (at shutdown)."""
        for digest, entry in list(self._entries.items()):
            if not entry.users:
                del self._entries[digest]
                _remove(entry.snapshot.directory)
        _remove(self.directory / TMP)
        SNAPSHOT_CACHE_BYTES.set(self.cached_bytes)


def _try_manifest(directory: Path) -> Manifest | None:
    """The manifest of a snapshot already on disk (left by an earlier run of this pod), else None."""
    if not directory.is_dir():
        return None
    try:
        return Manifest.load(directory)
    except ValueError:
        _remove(directory)
        return None


def _publish(unpacked: Path, final: Path) -> None:
    """Move a whole unpacked snapshot to its name; if another process got there first, keep theirs."""
    try:
        os.rename(unpacked, final)
    except OSError:
        if not final.is_dir():
            raise
    # The loser's copy is removed by the caller's cleanup.


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
