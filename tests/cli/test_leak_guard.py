"""The leak guard of tests/conftest.py, on real pytest runs: a run that leaves one of its Redis keys in the
machine's Redis, or a stream on the machine's NATS, fails naming them; a run that cleans up passes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest
import redis

from argoai_cli.local_services import port_open
from support.isolation import MACHINE_NATS, MACHINE_REDIS

TESTS = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    not (port_open(*MACHINE_REDIS) and port_open(*MACHINE_NATS)),
    reason="the guard watches the machine's Redis (127.0.0.1:6379) and NATS (127.0.0.1:4222): none here",
)

INNER_TEST = """
import asyncio, os
import nats, redis
from support.isolation import KEY_PREFIX

def test_writes() -> None:
    marker, leak = os.environ["GUARD_MARKER"], os.environ["GUARD_LEAK"] == "1"
    client = redis.Redis(port=6379)
    client.set(f"{KEY_PREFIX}:guard-{marker}", "1")
    stream = f"GUARD{marker.upper()}"

    async def add() -> None:
        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"guard{marker}.>"])
        if not leak:
            await js.delete_stream(stream)
        await nc.close()

    asyncio.run(add())
    if not leak:
        client.delete(f"{KEY_PREFIX}:guard-{marker}")
"""


def run_inner(tmp_path: Path, marker: str, *, leak: bool) -> subprocess.CompletedProcess[str]:
    """A pytest run of one test writing a key and a stream (and removing them unless ``leak``), with the
    suite's conftest (and so its guard) loaded as a plugin."""
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "GUARD_MARKER": marker,
        "GUARD_LEAK": "1" if leak else "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), str(tmp_path / "test_inner.py")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def remove(marker: str) -> None:
    """Whatever the inner run may have left, whoever wins."""
    client = redis.Redis(*MACHINE_REDIS)
    for key in client.scan_iter(match=f"test:*:guard-{marker}"):
        client.delete(key)
    client.close()

    async def drop() -> None:
        nc = await nats.connect(f"nats://{MACHINE_NATS[0]}:{MACHINE_NATS[1]}")
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(f"GUARD{marker.upper()}")
        await nc.close()

    asyncio.run(drop())


def test_a_run_that_leaves_a_key_and_a_stream_fails_naming_both(tmp_path: Path) -> None:
    """Its test passes, yet the run exits 1 and the guard's section names the key and the stream."""
    marker = uuid.uuid4().hex[:8]
    try:
        result = run_inner(tmp_path, marker, leak=True)
    finally:
        remove(marker)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "leak guard: this run left data on the machine's Redis/NATS" in result.stdout
    assert f":guard-{marker}" in result.stdout
    assert f"NATS stream GUARD{marker.upper()}" in result.stdout


def test_a_run_that_cleans_up_passes(tmp_path: Path) -> None:
    """The same writes, removed by the test: exit 0 and no guard section."""
    marker = uuid.uuid4().hex[:8]
    try:
        result = run_inner(tmp_path, marker, leak=False)
    finally:
        remove(marker)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "leak guard" not in result.stdout
