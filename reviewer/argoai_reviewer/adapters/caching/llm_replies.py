"""The LLM response cache's store on Redis: one string per answer, expiring with the policy's TTL.

Keys are ``<prefix>:llm-cache:<scope>:<hash>`` where the scope is the installation (host and id), so one
installation's answers are never read for another and can be dropped together.
"""

from __future__ import annotations

import redis.exceptions

from argoai_core.errors import UnavailableError
from argoai_reviewer.adapters.redis_state import RETRY_DELAY_SECONDS, RedisConnection

_FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.ReadOnlyError)


class RedisReplyStore:
    """:class:`~argoai_reviewer.llm.cache.ReplyStore` on Redis (``GET`` / ``SET PX``)."""

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis

    def _key(self, scope: str, key: str) -> str:
        return self._redis.key("llm-cache", scope, key)

    async def get(self, scope: str, key: str) -> str | None:
        """The stored answer, or None."""
        try:
            value = await self._redis.client.get(self._key(scope, key))
        except _FAILURES as exc:
            raise UnavailableError(
                f"Redis: reading the LLM cache failed: {exc}", delay=RETRY_DELAY_SECONDS
            ) from exc
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def put(self, scope: str, key: str, value: str, ttl_seconds: float) -> None:
        """Store ``value`` for ``ttl_seconds``."""
        try:
            await self._redis.client.set(self._key(scope, key), value, px=max(1, int(ttl_seconds * 1000)))
        except _FAILURES as exc:
            raise UnavailableError(
                f"Redis: writing the LLM cache failed: {exc}", delay=RETRY_DELAY_SECONDS
            ) from exc
