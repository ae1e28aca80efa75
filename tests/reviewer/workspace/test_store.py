"""The snapshot store: one download per key (shared by concurrent jobs), cache hits, LRU eviction, caps."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from argoai_reviewer.workspace.archive import OverLimitError, UnpackLimits
from argoai_reviewer.workspace.snapshot import SnapshotKey
from argoai_reviewer.workspace.store import SnapshotLimits, SnapshotStore
from reviewer.workspace.archives import archive


class Source:
    """An ``ArchiveSource`` serving fixed archives per commit, counting downloads (slowly, to overlap)."""

    def __init__(self, archives: dict[str, bytes], delay: float = 0.05) -> None:
        self.archives = archives
        self.delay = delay
        self.downloads: list[str] = []

    async def download_archive(self, sha: str, destination: Path, max_bytes: int) -> None:
        self.downloads.append(sha)
        await asyncio.sleep(self.delay)
        data = self.archives[sha]
        if len(data) > max_bytes:
            raise OverLimitError(f"archive over {max_bytes:,} bytes")
        await asyncio.to_thread(destination.write_bytes, data)


def key(sha: str) -> SnapshotKey:
    return SnapshotKey("github.example", "octo", "repo", sha)


async def test_concurrent_jobs_for_one_head_download_it_once(tmp_path: Path) -> None:
    """Five checkouts of one head at the same time: one download; a later checkout is a cache hit."""
    source = Source({"a": archive({"x.py": "x = 1\n"})})
    store = SnapshotStore(tmp_path)

    async def read() -> str | None:
        async with store.checkout(key("a"), source) as snapshot:
            return snapshot.read_text("x.py")

    assert await asyncio.gather(*(read() for _ in range(5))) == ["x = 1\n"] * 5
    assert await read() == "x = 1\n"
    assert source.downloads == ["a"]
    assert store.fetches == 1


async def test_a_snapshot_left_on_disk_by_an_earlier_process_is_reused(tmp_path: Path) -> None:
    """A new store over the same directory (a restarted container, same emptyDir) downloads nothing."""
    source = Source({"a": archive({"x.py": "x\n"})})
    async with SnapshotStore(tmp_path).checkout(key("a"), source):
        pass
    async with SnapshotStore(tmp_path).checkout(key("a"), source) as snapshot:
        assert snapshot.paths() == ["x.py"]
    assert source.downloads == ["a"]


async def test_least_recently_used_snapshots_are_evicted_but_not_while_in_use(tmp_path: Path) -> None:
    """Over the cache size, the least recently used snapshot not in use is removed from disk."""
    big = "y" * 600
    source = Source({sha: archive({"f.txt": big + sha}) for sha in "abcd"}, delay=0)
    store = SnapshotStore(tmp_path, SnapshotLimits(cache_bytes=1300))
    async with store.checkout(key("a"), source) as first:
        async with store.checkout(key("b"), source):
            pass
        async with store.checkout(key("c"), source):
            pass
        # "a" is in use: kept although it is the oldest; "b" went instead.
        assert first.read_text("f.txt") == big + "a"
        assert not (tmp_path / key("b").digest).exists()
    async with store.checkout(key("d"), source):
        pass
    # Now "a" is free and the least recently used.
    assert not (tmp_path / key("a").digest).exists()
    assert (tmp_path / key("c").digest).exists()
    assert (tmp_path / key("d").digest).exists()
    assert store.cached_bytes <= 1300


async def test_an_archive_over_a_cap_is_refused_once_and_remembered(tmp_path: Path) -> None:
    """Over max_archive_bytes: OverLimitError; the next job for that head does not download it again."""
    source = Source({"a": archive({f"f{i}.txt": "x" * 100 for i in range(50)})})
    store = SnapshotStore(tmp_path, SnapshotLimits(max_archive_bytes=100))
    for _ in range(2):
        with pytest.raises(OverLimitError, match="archive over 100 bytes"):
            async with store.checkout(key("a"), source):
                pass
    assert source.downloads == ["a"]


async def test_too_many_files_refuse_the_snapshot_and_leave_nothing_behind(tmp_path: Path) -> None:
    """Over max_files the snapshot is refused and no partial snapshot or temporary file is left."""
    source = Source({"a": archive({f"f{i}.txt": "x" for i in range(30)})})
    store = SnapshotStore(tmp_path, SnapshotLimits(unpack=UnpackLimits(max_files=10)))
    with pytest.raises(OverLimitError, match="more than 10 files"):
        async with store.checkout(key("a"), source):
            pass
    assert not (tmp_path / key("a").digest).exists()
    assert list((tmp_path / ".tmp").iterdir()) == []
