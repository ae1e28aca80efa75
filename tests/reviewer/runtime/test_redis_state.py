"""Redis adapters against a real Redis: lock ownership and expiry, review state, history, outages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from argoai_cli.local_services import free_port, redis_process
from argoai_core.errors import UnavailableError
from argoai_core.models.job import RepoRef
from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
)
from argoai_reviewer.domain import ReviewRecord

DAY = 86_400.0
REPO = RepoRef(host="api.github.com", owner="octo", name="repo")


@pytest.fixture
async def redis(redis_settings: RedisSettings) -> AsyncIterator[RedisConnection]:
    """A connection to the real Redis with this test's key prefix."""
    connection = RedisConnection.from_settings(redis_settings)
    yield connection
    await connection.aclose()


async def test_a_burst_beyond_the_pool_waits_for_connections_instead_of_failing(
    redis_settings: RedisSettings,
) -> None:
    """More concurrent commands than pooled connections, each holding its connection 0.5 s: the later ones
    wait their turn (2.5 s in all, longer than the 2 s socket timeout) and every one succeeds."""
    connection = RedisConnection.from_settings(redis_settings, timeout=2.0, max_connections=10)
    try:
        empty = connection.key("burst", "nothing")
        started = time.monotonic()
        results = await asyncio.gather(*(connection.client.blpop([empty], timeout=0.5) for _ in range(50)))
        elapsed = time.monotonic() - started
    finally:
        await connection.aclose()
    assert results == [None] * 50
    assert elapsed >= 2.4  # five waves of ten: the pool bounded them


async def test_lock_has_one_owner_at_a_time(redis: RedisConnection) -> None:
    """While held, the lock cannot be taken; after its owner releases it, it can."""
    lock = RedisReviewLock(redis)
    token = await lock.acquire("api.github.com/octo/repo#1@abc", 30)
    assert token is not None
    assert await lock.acquire("api.github.com/octo/repo#1@abc", 30) is None
    assert await lock.acquire("api.github.com/octo/repo#2@abc", 30) is not None  # another key is free
    assert await lock.release("api.github.com/octo/repo#1@abc", token) is True
    assert await lock.acquire("api.github.com/octo/repo#1@abc", 30) is not None


async def test_only_the_owner_token_releases_or_extends(redis: RedisConnection) -> None:
    """Another owner's token neither releases nor extends the lock; the owner's does."""
    lock = RedisReviewLock(redis)
    token = await lock.acquire("k", 1)
    assert token is not None
    assert await lock.release("k", "someone-else") is False
    assert await lock.extend("k", "someone-else", 60) is False
    assert await lock.acquire("k", 1) is None  # still held
    assert await redis.client.pttl(redis.key("lock", "k")) <= 1000
    assert await lock.extend("k", token, 60) is True
    assert 1000 < await redis.client.pttl(redis.key("lock", "k")) <= 60_000


async def test_expired_lock_goes_to_the_next_owner_and_the_old_one_cannot_touch_it(
    redis: RedisConnection,
) -> None:
    """A lock whose owner vanished expires; the old owner's late release leaves the new owner's lock alone."""
    lock = RedisReviewLock(redis)
    old = await lock.acquire("k", 0.2)
    assert old is not None
    await asyncio.sleep(0.3)
    new = await lock.acquire("k", 30)
    assert new is not None
    assert await lock.release("k", old) is False
    assert await lock.extend("k", old, 30) is False
    assert await lock.acquire("k", 30) is None
    assert await lock.release("k", new) is True


async def test_review_state_round_trips_and_expires(redis: RedisConnection) -> None:
    """The last reviewed head and posted fingerprints are read back per PR, with the configured TTL."""
    state = RedisReviewState(redis, ttl_seconds=30 * DAY)
    pr = "api.github.com/octo/repo#1"
    assert await state.last_reviewed_head(pr) is None
    assert await state.posted_fingerprints(pr) == set()
    await state.mark_reviewed(pr, "a" * 40, 101)
    await state.mark_reviewed(pr, "b" * 40, 102)
    await state.add_fingerprints(pr, {"f1", "f2"})
    await state.add_fingerprints(pr, {"f2", "f3"})
    await state.add_fingerprints(pr, set())
    assert await state.last_reviewed_head(pr) == "b" * 40
    assert await state.posted_fingerprints(pr) == {"f1", "f2", "f3"}
    for key in (redis.key("pr", pr, "reviewed"), redis.key("pr", pr, "fingerprints")):
        assert 29 * DAY * 1000 < await redis.client.pttl(key) <= 30 * DAY * 1000


async def test_state_is_separate_per_pull_request_and_per_github_host(redis: RedisConnection) -> None:
    """Two PRs, or the same PR number on two GitHub hosts, never share state."""
    state = RedisReviewState(redis, ttl_seconds=DAY)
    await state.mark_reviewed("api.github.com/octo/repo#1", "a" * 40, 1)
    await state.add_fingerprints("api.github.com/octo/repo#1", {"f"})
    assert await state.last_reviewed_head("ghe.example.com/octo/repo#1") is None
    assert await state.last_reviewed_head("api.github.com/octo/repo#2") is None
    assert await state.posted_fingerprints("ghe.example.com/octo/repo#1") == set()


async def test_state_keys_live_under_the_key_prefix(
    redis: RedisConnection, redis_settings: RedisSettings
) -> None:
    """Every key the adapters write starts with the configured key prefix."""
    await RedisReviewState(redis, ttl_seconds=DAY).mark_reviewed("h/o/r#1", "a" * 40, 1)
    await RedisReviewLock(redis).acquire("h/o/r#1@a", 10)
    await RedisReviewHistory(redis, max_per_repo=10).record(ReviewRecord(REPO, 1, "a" * 40, "posted"))
    keys = [key.decode() async for key in redis.client.scan_iter(match=f"{redis_settings.key_prefix}:*")]
    assert len(keys) == 3
    assert all(key.startswith(f"{redis_settings.key_prefix}:") for key in keys)


async def test_history_records_read_back_newest_first(redis: RedisConnection) -> None:
    """Review records of a repository come back whole, newest first; other repositories are separate."""
    history = RedisReviewHistory(redis, max_per_repo=100)
    first = ReviewRecord(REPO, 1, "a" * 40, "posted", review_id=11, files_reviewed=3, files_skipped=1,
                         input_tokens=1200, output_tokens=300, cost_usd=0.0125, duration_seconds=4.5,
                         findings=2, model="gpt-test", delivery_id="d1")  # fmt: skip
    second = ReviewRecord(REPO, 2, "b" * 40, "skipped", reason="draft")
    await history.record(first)
    await history.record(second)
    await history.record(
        ReviewRecord(RepoRef(host="ghe.example.com", owner="octo", name="repo"), 3, "c" * 40, "x")
    )
    assert await history.recent(REPO) == [second, first]
    assert await history.recent(REPO, count=1) == [second]


async def test_history_is_trimmed(redis: RedisConnection) -> None:
    """A repository's history does not grow without bound (trimmed near max_per_repo)."""
    history = RedisReviewHistory(redis, max_per_repo=10)
    for number in range(1, 301):
        await history.record(ReviewRecord(REPO, number, "a" * 40, "posted"))
    length = await redis.client.xlen(redis.key("reviews", REPO.host, REPO.owner, REPO.name))
    assert 10 <= length < 300


async def test_unreachable_redis_raises_unavailable_quickly() -> None:
    """With no Redis listening, calls fail fast with UnavailableError (retryable), not hang."""
    connection = RedisConnection.from_settings(
        RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", key_prefix="t"), timeout=0.5
    )
    began = time.monotonic()
    with pytest.raises(UnavailableError):
        await RedisReviewState(connection, ttl_seconds=DAY).last_reviewed_head("h/o/r#1")
    with pytest.raises(UnavailableError):
        await RedisReviewLock(connection).acquire("k", 1)
    assert time.monotonic() - began < 5
    await connection.aclose()


async def test_adapters_recover_by_themselves_when_redis_returns(tmp_path: Path) -> None:
    """Redis stops: UnavailableError; Redis comes back on the same port: the same objects work again."""
    server = redis_process(tmp_path)
    server.start()
    connection = RedisConnection.from_settings(
        RedisSettings(url=f"redis://127.0.0.1:{server.port}/0", key_prefix="t"), timeout=0.5
    )
    state = RedisReviewState(connection, ttl_seconds=DAY)
    lock = RedisReviewLock(connection)
    try:
        await state.mark_reviewed("h/o/r#1", "a" * 40, 1)
        assert await lock.acquire("k", 30) is not None
        server.stop()
        with pytest.raises(UnavailableError):
            await state.last_reviewed_head("h/o/r#1")
        with pytest.raises(UnavailableError):
            await lock.acquire("k2", 30)
        server.start()
        # A fresh Redis (nothing persisted): the pool reconnects, the scripts are loaded again.
        assert await state.last_reviewed_head("h/o/r#1") is None
        token = await lock.acquire("k", 30)
        assert token is not None
        assert await lock.release("k", token) is True
    finally:
        await connection.aclose()
        server.stop()
