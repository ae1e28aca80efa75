"""Pacing of content-creating requests (reviews, comments) per installation, shared by every reviewer pod.

GitHub's secondary limits allow at most 80 content-creating requests a minute and 500 an hour per
installation, and ask for writes to be made serially, a second apart. Every pod writes through this gate:

* a Redis lock per installation (redis-py's token lock: ``SET NX PX`` + compare-and-delete release) makes
  writes one at a time across pods; it is a short lease renewed while the write runs, so a pod that dies
  holding it loses it within ``lock_ttl`` and the other pods' writes are not held up for long;
* a Redis key with a TTL of ``write_spacing_seconds``, set when a write ends, makes the next writer wait out
  the rest of the second (Redis measures the time, so pods' clocks do not matter);
* an hourly counter refuses writes beyond ``writes_per_hour`` with ``RateLimitedError`` until the hour ends.

A writer that cannot get its turn within ``write_wait_seconds`` gets ``RateLimitedError`` too: the job goes
back to the queue with a delay instead of holding a worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from argoai_core.errors import RateLimitedError, UnavailableError
from argoai_core.leases import kept_alive
from argoai_core.logs import get_logger
from argoai_reviewer.adapters.github_retry import GitHubPolicy

log = get_logger(__name__)


class WriteGate:
    """One content-creating request at a time per installation, across every pod sharing ``redis``."""

    def __init__(self, redis: Redis, *, prefix: str, policy: GitHubPolicy, lock_ttl_seconds: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._policy = policy
        self._lock_ttl = lock_ttl_seconds

    @asynccontextmanager
    async def turn(self, installation_id: int) -> AsyncIterator[None]:
        """Wait for this installation's write turn (raising ``RateLimitedError`` when it is too far off)."""
        base = f"{self._prefix}:writes:{installation_id}"
        lock = self._redis.lock(
            f"{base}:lock",
            timeout=self._lock_ttl,
            sleep=0.05,
            blocking_timeout=self._policy.write_wait_seconds,
            thread_local=False,
        )
        try:
            acquired = await lock.acquire()
        except RedisError as exc:
            raise UnavailableError(f"Redis unavailable for the GitHub write lock: {exc}") from exc
        if not acquired:
            raise RateLimitedError(
                f"installation {installation_id}: no write turn in {self._policy.write_wait_seconds:.0f}s",
                delay=self._policy.write_wait_seconds,
            )
        try:
            async with kept_alive(lambda: _reacquired(lock), self._lock_ttl / 3, what="a GitHub write turn"):
                await self._check_budget(base)
                wait_ms = await self._redis.pttl(f"{base}:spacing")
                if wait_ms > 0:
                    await asyncio.sleep(wait_ms / 1000)
                yield
        except RedisError as exc:
            raise UnavailableError(f"Redis unavailable for GitHub write pacing: {exc}") from exc
        finally:
            await self._finish(base, lock)

    async def _check_budget(self, base: str) -> None:
        limit = self._policy.writes_per_hour
        if limit is None:
            return
        key = f"{base}:hour"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=3600, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        if int(count) > limit:
            raise RateLimitedError(
                f"over {limit} GitHub writes this hour for this installation", delay=max(ttl, 1)
            )

    async def _finish(self, base: str, lock: Lock) -> None:
        try:
            await self._redis.set(
                f"{base}:spacing", 1, px=max(1, int(self._policy.write_spacing_seconds * 1000))
            )
        except RedisError as exc:
            log.warning("github_write_spacing_not_recorded", error=str(exc))
        try:
            await lock.release()
        except LockError:
            # The lock expired while we wrote (a very slow GitHub): another pod may already write.
            log.warning("github_write_lock_expired", key=f"{base}:lock")
        except RedisError as exc:
            log.warning("github_write_lock_not_released", error=str(exc))


async def _reacquired(lock: Lock) -> bool:
    """Renew the write turn: False when it is no longer ours; a Redis failure is an outage (the next renewal
    may get through; at worst another pod writes a moment early)."""
    try:
        return bool(await lock.reacquire())
    except LockNotOwnedError:
        return False
    except (LockError, RedisError) as exc:
        raise UnavailableError(f"Redis: renewing the GitHub write turn failed: {exc}") from exc
