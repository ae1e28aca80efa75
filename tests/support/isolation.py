"""What isolates one test run on the machine's shared Redis and NATS, and what finds what it left behind.

Every Redis key prefix a test makes starts with :data:`KEY_PREFIX` (``test:<session token>:``), so the leak
guard of ``tests/conftest.py`` finds this run's leftovers without blaming another run going on at the same
time on the same Redis. Tests never use the machine's NATS: any stream that appears there during a run is a
leak (KV buckets and object stores are streams too).
"""

from __future__ import annotations

import asyncio
import uuid

import nats
import nats.errors
import redis

from argoai_cli.local_services import port_open

SESSION = uuid.uuid4().hex[:8]
KEY_PREFIX = f"test:{SESSION}"
MACHINE_REDIS = ("127.0.0.1", 6379)
MACHINE_NATS = ("127.0.0.1", 4222)


def key_prefix(kind: str = "t") -> str:
    """A Redis key prefix of its own for one test (or one ArgoAI system) of this run."""
    return f"{KEY_PREFIX}:{kind}{uuid.uuid4().hex[:12]}"


def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def delete_keys(url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` in the Redis at ``url``; how many there were.

    A Redis that is gone (a test's own server, already stopped) holds nothing to clean: 0.
    """
    client = _client(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)
    except redis.exceptions.ConnectionError:
        return 0
    finally:
        client.close()


def keys_left_in_machine_redis() -> list[str]:
    """Keys of this run still in the machine's Redis (empty when no Redis answers there)."""
    if not port_open(*MACHINE_REDIS):
        return []
    client = _client(f"redis://{MACHINE_REDIS[0]}:{MACHINE_REDIS[1]}/0")
    try:
        return sorted(key.decode() for key in client.scan_iter(match=f"{KEY_PREFIX}:*", count=1000))
    finally:
        client.close()


def machine_nats_streams() -> set[str] | None:
    """The streams (KV buckets and object stores included) on the machine's NATS: empty when nothing listens
    there, None when what listens cannot be asked (not NATS, no JetStream): the guard then skips NATS."""
    if not port_open(*MACHINE_NATS):
        return set()

    async def names() -> set[str]:
        nc = await nats.connect(
            f"nats://{MACHINE_NATS[0]}:{MACHINE_NATS[1]}",
            connect_timeout=2,
            allow_reconnect=False,
            max_reconnect_attempts=1,
        )
        try:
            return {info.config.name for info in await nc.jetstream().streams_info() if info.config.name}
        finally:
            await nc.close()

    try:
        return asyncio.run(asyncio.wait_for(names(), 10))
    except (nats.errors.Error, OSError, TimeoutError):
        return None
