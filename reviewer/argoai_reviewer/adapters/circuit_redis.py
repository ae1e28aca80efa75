"""The circuit breakers' shared state in Redis (:class:`~argoai_reviewer.resilience.breaker.BreakerStore`).

One hash per circuit, ``<prefix>:circuit:<name>`` (``failures``, ``opened_at``, ``retry_at``), changed only
by Lua scripts so that pods counting failures at once never lose one or open a breaker twice; the probe
lease is ``<prefix>:circuit:<name>:probe`` (``SET NX PX``).
"""

from __future__ import annotations

from redis.typing import EncodableT

from argoai_reviewer.adapters.redis_state import RedisConnection, _unavailable
from argoai_reviewer.resilience.breaker import CircuitState

# KEYS: hash, probe lease. ARGV: threshold, now, retry_at, window ttl (ms), open ttl (ms).
_FAILED = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local opened = redis.call('HGET', KEYS[1], 'opened_at')
if opened then
  redis.call('HSET', KEYS[1], 'retry_at', ARGV[3])
  redis.call('DEL', KEYS[2])
elseif failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'opened_at', ARGV[2], 'retry_at', ARGV[3])
  opened = ARGV[2]
end
if opened then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return redis.call('HMGET', KEYS[1], 'failures', 'opened_at', 'retry_at')
"""

# KEYS: hash, probe lease. Returns 1 when the circuit was open.
_SUCCEEDED = """
local opened = redis.call('HEXISTS', KEYS[1], 'opened_at')
redis.call('DEL', KEYS[1], KEYS[2])
return opened
"""


def _state(values: list[bytes | str | None]) -> CircuitState:
    failures, opened_at, retry_at = values
    return CircuitState(
        failures=int(failures or 0),
        opened_at=float(opened_at) if opened_at is not None else None,
        retry_at=float(retry_at) if retry_at is not None else None,
    )


class RedisBreakerStore:
    """Circuit breaker state shared by every pod of the installation."""

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis
        self._failed = redis.client.register_script(_FAILED)
        self._succeeded = redis.client.register_script(_SUCCEEDED)

    def _keys(self, circuit: str) -> list[str]:
        key = self._redis.key("circuit", circuit)
        return [key, f"{key}:probe"]

    async def state(self, circuit: str) -> CircuitState:
        """The circuit's current state."""
        with _unavailable("circuit state"):
            values = await self._redis.client.hmget(
                self._keys(circuit)[0], ["failures", "opened_at", "retry_at"]
            )
        return _state(values)

    async def failed(
        self,
        circuit: str,
        *,
        threshold: int,
        now: float,
        retry_at: float,
        window_seconds: float,
        open_seconds: float,
    ) -> CircuitState:
        """Count a failure (opening the circuit at ``threshold``)."""
        args: list[EncodableT] = [
            threshold,
            repr(now),
            repr(retry_at),
            max(1, int(window_seconds * 1000)),
            max(1, int(open_seconds * 1000)),
        ]
        with _unavailable("circuit failure"):
            values = await self._failed(keys=self._keys(circuit), args=args)
        return _state(values)

    async def succeeded(self, circuit: str) -> bool:
        """Close the circuit; whether it was open."""
        with _unavailable("circuit success"):
            return bool(await self._succeeded(keys=self._keys(circuit)))

    async def claim_probe(self, circuit: str, ttl_seconds: float) -> bool:
        """Take the probe lease unless someone holds it."""
        with _unavailable("circuit probe"):
            return bool(
                await self._redis.client.set(
                    self._keys(circuit)[1], "1", nx=True, px=max(1, int(ttl_seconds * 1000))
                )
            )
