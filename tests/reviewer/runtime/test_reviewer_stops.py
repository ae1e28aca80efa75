"""``argoai reviewer`` as its container runs it stops when told, whatever NATS and Redis do.

Each test starts the real command with only the settings a user gives, breaks one dependency (nothing
listening, or a server frozen with SIGSTOP), then sends SIGTERM or SIGINT and expects a clean exit well within
the grace period Kubernetes gives (``terminationGracePeriodSeconds``, 30 s by default).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from argoai_cli.local_services import LocalProcess, free_port
from argoai_core.settings import NatsSettings, RedisSettings
from support.keys import app_key

# The reviewer's grace period in these tests; the exit must come within it plus the bounded NATS drain.
GRACE_SECONDS = 4.0
EXIT_WITHIN_SECONDS = GRACE_SECONDS + 6.0


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    key = tmp_path / "app.pem"
    key.write_text(app_key().pkcs1)
    return key


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    argoai = Path(sys.executable).parent / "argoai"
    return subprocess.Popen(
        [str(argoai), "reviewer", "--metrics-port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def user_env(key: Path, nats_url: str, prefix: str, redis: RedisSettings) -> dict[str, str]:
    return {
        "ARGOAI_NATS_URL": nats_url,
        "ARGOAI_NATS_PREFIX": prefix,
        "ARGOAI_REDIS_URL": redis.url,
        "ARGOAI_REDIS_KEY_PREFIX": redis.key_prefix,
        "ARGOAI_GITHUB_APP_ID": "1",
        "ARGOAI_GITHUB_PRIVATE_KEY_FILE": str(key),
        "ARGOAI_REVIEWER_METRICS_HOST": "127.0.0.1",
        "ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS": str(GRACE_SECONDS),
    }


def status(port: int, path: str) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code
    except httpx.TransportError:
        return None


def wait_for(check: object, what: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert process.poll() is None, process.communicate()[0].decode()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def stop_and_wait(process: subprocess.Popen[bytes], sig: signal.Signals) -> tuple[float, str]:
    """Send ``sig``; return how long the process took to exit and what it printed."""
    sent = time.monotonic()
    process.send_signal(sig)
    try:
        output = process.communicate(timeout=EXIT_WITHIN_SECONDS + 20)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return time.monotonic() - sent, output


@pytest.fixture
def frozen_safe(own_nats_server: LocalProcess) -> Iterator[LocalProcess]:
    """A nats-server of this test's own, thawed again before it is stopped (a frozen one cannot exit)."""
    yield own_nats_server
    if own_nats_server.process is not None and own_nats_server.process.poll() is None:
        own_nats_server.process.send_signal(signal.SIGCONT)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_while_nats_is_unreachable_at_start(
    key_file: Path, redis_settings: RedisSettings, sig: signal.Signals
) -> None:
    """Nothing listens at ARGOAI_NATS_URL: the reviewer is alive but not ready, and exits 0 on the signal."""
    port = free_port()
    dead_nats = f"nats://127.0.0.1:{free_port()}"
    process = start(user_env(key_file, dead_nats, "TSTOPDEAD", redis_settings), port)
    try:
        wait_for(lambda: status(port, "/healthz") == 200, "/healthz", process)
        assert status(port, "/readyz") == 503
        time.sleep(1.0)  # well into the connection retries
    finally:
        took, output = stop_and_wait(process, sig)
    assert process.returncode == 0, output
    assert took < EXIT_WITHIN_SECONDS, output
    assert "Traceback" not in output
    assert '"reviewer stopped before it was ready"' in output


def test_stops_while_nats_is_frozen(
    key_file: Path, frozen_safe: LocalProcess, redis_settings: RedisSettings
) -> None:
    """NATS answers at first, then freezes (SIGSTOP): SIGTERM still ends the reviewer within its grace."""
    port = free_port()
    env = user_env(key_file, f"nats://127.0.0.1:{frozen_safe.port}", "TSTOPFROZEN", redis_settings)
    process = start(env, port)
    try:
        wait_for(lambda: status(port, "/readyz") == 200, "/readyz", process)
        assert frozen_safe.process is not None
        frozen_safe.process.send_signal(signal.SIGSTOP)
        time.sleep(0.5)
    finally:
        took, output = stop_and_wait(process, signal.SIGTERM)
    assert process.returncode == 0, output
    assert took < EXIT_WITHIN_SECONDS, output
    assert '"reviewer stopped"' in output


def test_stops_while_redis_is_unreachable(key_file: Path, nats_settings: NatsSettings) -> None:
    """Nothing listens at ARGOAI_REDIS_URL: the reviewer still exits 0 promptly on SIGTERM."""
    port = free_port()
    dead_redis = RedisSettings(url=f"redis://127.0.0.1:{free_port()}/0", key_prefix="test:stop")
    process = start(user_env(key_file, nats_settings.url, nats_settings.prefix, dead_redis), port)
    try:
        wait_for(lambda: status(port, "/healthz") == 200, "/healthz", process)
        time.sleep(1.0)
    finally:
        took, output = stop_and_wait(process, signal.SIGTERM)
    assert process.returncode == 0, output
    assert took < EXIT_WITHIN_SECONDS, output
    assert "Traceback" not in output
