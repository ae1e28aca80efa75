"""Redis state of the webhook redelivery job: the checkpoint and the guids redelivered recently.

Keys: ``<key_prefix>:redeliver:<github host>:checkpoint`` (a hash, no expiry: it must survive between runs)
and ``<key_prefix>:redeliver:<github host>:guid:<guid>`` (the delivery id a redelivery was made from,
expiring after the cool-down). The host keeps two GitHub hosts (github.com, an Enterprise Server) apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from argoai_reviewer.adapters.redis_state import RedisConnection, _unavailable
from argoai_reviewer.redeliver.job import Checkpoint


def lock_key(host: str) -> str:
    """The run lock's key (under ``RedisReviewLock``'s own prefix) for one GitHub host."""
    return f"redeliver:{host}"


class RedisRedeliveryState:
    """:class:`~argoai_reviewer.redeliver.job.RedeliveryState` on Redis, for one GitHub host."""

    def __init__(self, redis: RedisConnection, host: str) -> None:
        self._redis = redis
        self._host = host

    def _checkpoint_key(self) -> str:
        return self._redis.key("redeliver", self._host, "checkpoint")

    def _guid_key(self, guid: str) -> str:
        return self._redis.key("redeliver", self._host, "guid", guid)

    async def checkpoint(self) -> Checkpoint | None:
        """The stored checkpoint, or None before the first run."""
        with _unavailable("reading the redelivery checkpoint"):
            stored = await self._redis.client.hgetall(self._checkpoint_key())
        if not stored:
            return None
        fields = {_text(k): _text(v) for k, v in stored.items()}
        return Checkpoint(int(fields["id"]), datetime.fromisoformat(fields["delivered_at"]))

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` (both fields at once)."""
        with _unavailable("saving the redelivery checkpoint"):
            await self._redis.client.hset(
                self._checkpoint_key(),
                mapping={
                    "id": str(checkpoint.delivery_id),
                    "delivered_at": checkpoint.delivered_at.isoformat(),
                },
            )

    async def redelivered_from(self, guids: Sequence[str]) -> dict[str, int]:
        """The guids among ``guids`` redelivered within their cool-down, with the delivery id used."""
        if not guids:
            return {}
        with _unavailable("reading redelivered guids"):
            values = await self._redis.client.mget([self._guid_key(guid) for guid in guids])
        return {
            guid: int(_text(value)) for guid, value in zip(guids, values, strict=True) if value is not None
        }

    async def mark_redelivered(self, guid: str, delivery_id: int, cooldown_seconds: float) -> None:
        """Remember for ``cooldown_seconds`` that ``guid`` was redelivered from ``delivery_id``."""
        if cooldown_seconds <= 0:
            return
        with _unavailable("marking a guid redelivered"):
            await self._redis.client.set(
                self._guid_key(guid), str(delivery_id), px=max(1, round(cooldown_seconds * 1000))
            )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
