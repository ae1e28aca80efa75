"""The GitHub ETag cache's store on Redis: ``<prefix>:github-etag:<host>:<installation>:<hash>``.

Shared by every pod, so a re-review on another pod still revalidates. Entries expire after
:data:`ETAG_TTL_SECONDS` untouched (each revalidation that changed the answer rewrites its entry).
"""

from __future__ import annotations

import redis.exceptions
from redis.asyncio import Redis

from argoai_core.errors import UnavailableError

# A day: long enough for a pull request's reviews and re-reviews, short enough to bound the memory used.
ETAG_TTL_SECONDS = 86_400
_FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


class RedisEtagStore:
    """:class:`~argoai_reviewer.adapters.caching.conditional.EntryStore` on Redis."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, scope: str, key: str) -> str:
        return f"{self._prefix}:{scope}:{key}"

    async def get(self, scope: str, key: str) -> bytes | None:
        """The packed entry, or None."""
        try:
            value = await self._redis.get(self._key(scope, key))
        except _FAILURES as exc:
            raise UnavailableError(f"Redis: reading a GitHub ETag failed: {exc}") from exc
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    async def put(self, scope: str, key: str, value: bytes) -> None:
        """Keep the packed entry for :data:`ETAG_TTL_SECONDS`."""
        try:
            await self._redis.set(self._key(scope, key), value, ex=ETAG_TTL_SECONDS)
        except _FAILURES as exc:
            raise UnavailableError(f"Redis: writing a GitHub ETag failed: {exc}") from exc
