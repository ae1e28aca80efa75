"""``argoai dev`` stops when told, whatever its dependencies do: NATS or Redis killed or frozen (SIGSTOP),
GitHub hanging in the middle of a review. Each case: SIGTERM (or SIGINT) → exit 0 within the bound."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from argoai_cli.local_services import LocalProcess
from support.devprocess import DevProcess
from support.fake_github.server import FakeGitHub
from support.isolation import key_prefix
from support.system import OWNER, REPO, pull_request_payload, wait_until

SECRET = "dev-stop-test-webhook-secret"
GRACE = 5  # ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS of base_env
# What dev promises: the grace period plus its shutdown margin (5 s) and the cancellation of what is left
# (2 s); the rest is process start-up noise on a busy machine.
STOP_BOUND = GRACE + 15

StartDev = Callable[[dict[str, str]], DevProcess]


@contextmanager
def frozen(process: LocalProcess) -> Iterator[None]:
    """SIGSTOP ``process`` (it keeps its port: connections hang instead of failing); SIGCONT after."""
    assert process.process is not None
    os.kill(process.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.process.pid, signal.SIGCONT)


def log_events(dev: DevProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``dev`` whose event is ``event``."""
    found = []
    for line in list(dev.lines):
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("event") == event:
                found.append(record)
    return found


@pytest.fixture
def running_dev(
    base_env: dict[str, str],
    fake_github: FakeGitHub,
    dev_processes: StartDev,
    own_nats_server: LocalProcess,
    own_redis: LocalProcess,
) -> DevProcess:
    """``argoai dev`` with the App configured, on a NATS and a Redis the test controls; gateway and reviewer
    ready."""
    app = fake_github.install_app()
    env = {
        **base_env,
        "ARGOAI_GITHUB_APP_ID": str(app.app_id),
        "ARGOAI_GITHUB_PRIVATE_KEY": app.key.pkcs1,
        "ARGOAI_GITHUB_WEBHOOK_SECRET": SECRET,
        # A hanging GitHub request stays hanging (the default timeout would end it after 10 s).
        "ARGOAI_GITHUB_TIMEOUT_SECONDS": "120",
        "ARGOAI_NATS_URL": f"nats://127.0.0.1:{own_nats_server.port}",
        "ARGOAI_NATS_PREFIX": f"S{uuid.uuid4().hex[:10].upper()}",
        "ARGOAI_REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "ARGOAI_REDIS_KEY_PREFIX": key_prefix("dev"),
    }
    dev = dev_processes(env)
    dev.wait_for_line(r"using NATS at .* \(nats-server 2\.\d+")
    dev.wait_for_line(r"using Redis at redis://127\.0\.0\.1:\d+/0")
    dev.wait_ready()
    dev.wait_ready("/readyz", port=dev.metrics_port)
    return dev


def stop_within(dev: DevProcess, sig: signal.Signals, bound: float = STOP_BOUND) -> float:
    """Send ``sig``; assert dev exits 0 within ``bound`` seconds, tidily; return how long it took."""
    started = time.monotonic()
    dev.process.send_signal(sig)
    try:
        code = dev.process.wait(timeout=bound)
    except Exception:
        raise AssertionError(f"argoai dev still running {bound} s after {sig.name}:\n{dev.output}") from None
    took = time.monotonic() - started
    assert code == 0, dev.output
    assert "Traceback" not in dev.output
    assert any(line == "argoai dev: stopped" for line in dev.lines), dev.output
    return took


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_when_nats_is_killed(
    running_dev: DevProcess, own_nats_server: LocalProcess, sig: signal.Signals
) -> None:
    """NATS killed under a running dev: SIGTERM/SIGINT still ends it (exit 0) within the bound."""
    own_nats_server.stop(kill=True)
    time.sleep(1)  # let both connections notice
    stop_within(running_dev, sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_when_nats_is_frozen(
    running_dev: DevProcess, own_nats_server: LocalProcess, sig: signal.Signals
) -> None:
    """NATS frozen (SIGSTOP: connected sockets that never answer): dev still exits 0 within the bound."""
    with frozen(own_nats_server):
        time.sleep(1)
        stop_within(running_dev, sig)


def test_stops_when_redis_is_killed_and_says_redis_is_down_then_back(
    running_dev: DevProcess, own_redis: LocalProcess
) -> None:
    """Redis killed: one warning naming it (URL, no credentials); back: one line; then SIGTERM → exit 0."""
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    own_redis.stop(kill=True)
    wait_until(lambda: bool(log_events(running_dev, "dependency_unavailable")), 10, "the Redis warning")
    [first] = log_events(running_dev, "dependency_unavailable")[:1]
    assert (first["level"], first["dependency"], first["url"]) == ("warning", "redis", url)
    time.sleep(3)
    # Repeated with a growing interval (2, 4 … s), not at every 2-second check.
    assert 1 <= len(log_events(running_dev, "dependency_unavailable")) <= 3
    own_redis.start()
    wait_until(lambda: bool(log_events(running_dev, "dependency_available")), 10, "the recovery line")
    [back] = log_events(running_dev, "dependency_available")
    assert (back["level"], back["url"]) == ("info", url)
    own_redis.stop(kill=True)
    stop_within(running_dev, signal.SIGTERM)


def test_stops_when_redis_is_frozen(running_dev: DevProcess, own_redis: LocalProcess) -> None:
    """Redis frozen (SIGSTOP): dev reports it down (no answer) and still exits 0 within the bound."""
    with frozen(own_redis):
        wait_until(lambda: bool(log_events(running_dev, "dependency_unavailable")), 10, "the Redis warning")
        [first] = log_events(running_dev, "dependency_unavailable")[:1]
        assert "no answer" in first["error"]
        stop_within(running_dev, signal.SIGTERM)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_while_github_hangs_in_a_review(
    running_dev: DevProcess, fake_github: FakeGitHub, sig: signal.Signals
) -> None:
    """A review waits on a GitHub request that never answers: the signal ends dev within the bound."""
    [installation] = fake_github.installations.values()
    fake_github.add_pull_request(
        OWNER, REPO, 7, "c" * 40, "b" * 40, [("a.py", "@@ -0,0 +1 @@\n+x = 1\n", "x = 1\n")],
        installation_id=installation.installation_id,
    )  # fmt: skip
    fake_github.delay_next(10, 600, path_contains="/pulls/7")
    payload = pull_request_payload(
        "opened", number=7, head="c" * 40, base="b" * 40, installation_id=installation.installation_id
    )
    assert running_dev.send("pull_request", payload, SECRET).status_code == 202
    wait_until(lambda: bool(fake_github.requests_to("/pulls/7")), 30, "the review to reach GitHub")
    took = stop_within(running_dev, sig)
    # The running review had its grace period before being cancelled.
    assert took >= GRACE - 1
    assert fake_github.reviews_posted(OWNER, REPO, 7) == []
