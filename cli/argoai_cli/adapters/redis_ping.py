"""A Redis PING that fails fast: one attempt per call, bounded by the timeout (no client-side retries)."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


class RedisPing:
    """PING the Redis at ``url``; each call raises when it does not answer (``aclose`` when done)."""

    def __init__(self, url: str, timeout: float) -> None:
        self._client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # The watch decides when to try again; redis-py's own retries would stretch one check.
            retry=Retry(NoBackoff(), 0),
        )

    async def __call__(self) -> None:
        """One PING."""
        await self._client.ping()

    async def aclose(self) -> None:
        """Close the connection."""
        await self._client.aclose()
