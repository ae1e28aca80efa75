"""The dependency watch of ``argoai dev`` against a real Redis that goes away and comes back: one warning
naming it, repeated with a growing interval while it is down, one line when it is back."""

from __future__ import annotations

import asyncio
import itertools

import structlog

from argoai_cli.adapters.redis_ping import RedisPing
from argoai_cli.dependency_watch import DependencyWatch
from argoai_cli.local_services import LocalProcess


async def test_redis_down_is_warned_with_backoff_and_its_return_said_once(own_redis: LocalProcess) -> None:
    """Down ~1.6 s, checked every 0.1 s: warned at 0, 0.1, 0.3, 0.7, 1.5 s (not 16 times); back: one line."""
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    ping = RedisPing(url, timeout=0.5)
    watch = DependencyWatch("redis", url, ping, interval=0.1, timeout=0.5, close=ping.aclose)
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(watch.run(stop))
        await asyncio.sleep(0.3)
        assert logs == []  # up: nothing said
        own_redis.stop(kill=True)
        await asyncio.sleep(1.6)
        down = [entry for entry in logs if entry["event"] == "dependency_unavailable"]
        await asyncio.to_thread(own_redis.start)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, 5)
    assert 3 <= len(down) <= 6, down
    assert {(entry["log_level"], entry["dependency"], entry["url"]) for entry in down} == {
        ("warning", "redis", url)
    }
    gaps = [b["down_seconds"] - a["down_seconds"] for a, b in itertools.pairwise(down)]
    assert gaps == sorted(gaps)
    assert gaps[-1] > gaps[0]
    back = [entry for entry in logs if entry["event"] == "dependency_available"]
    assert [(entry["log_level"], entry["url"]) for entry in back] == [("info", url)]
    assert back[0]["down_seconds"] >= 1.5
