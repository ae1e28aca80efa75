"""``argoai redeliver`` as the CronJob runs it: a real process, settings from the environment, JSON out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from argoai_cli.local_services import LocalProcess, free_port
from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.redeliver_state import RedisRedeliveryState
from reviewer.redeliver.helpers import add, checkpoint_id
from support.fake_github import AppCredentials, FakeGitHub
from support.system import wait_until

ARGOAI = Path(sys.executable).parent / "argoai"
OLD = 600.0


def run_cli(
    fake: FakeGitHub, app: AppCredentials, redis: RedisSettings, tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``argoai redeliver *args`` against the fake GitHub and real Redis."""
    key = tmp_path / "app.pem"
    key.write_text(app.key.pkcs1)
    environment = {
        **os.environ,
        "ARGOAI_GITHUB_API_URL": fake.url,
        "ARGOAI_GITHUB_APP_ID": str(app.app_id),
        "ARGOAI_GITHUB_PRIVATE_KEY_FILE": str(key),
        "ARGOAI_REDIS_URL": redis.url,
        "ARGOAI_REDIS_KEY_PREFIX": redis.key_prefix,
        "ARGOAI_REDELIVER_SPACING_SECONDS": "0",
        **env,
    }
    return subprocess.run(
        [str(ARGOAI), "redeliver", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def summary_of(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The one JSON line the command prints on stdout."""
    [line] = result.stdout.strip().splitlines()
    summary: dict[str, object] = json.loads(line)
    return summary


async def test_command_redelivers_within_max_and_prints_a_summary(
    fake_github: FakeGitHub,
    github_app: AppCredentials,
    redis_settings: RedisSettings,
    state: RedisRedeliveryState,
    tmp_path: Path,
) -> None:
    """``--max-redeliveries 1`` redelivers the oldest failed guid, stores the checkpoint, prints counts."""
    failed = [add(fake_github, github_app, f"guid-{i}", 502, age=OLD - i) for i in range(2)]
    add(fake_github, github_app, "too-old", 502, age=4 * 86_400)

    result = run_cli(fake_github, github_app, redis_settings, tmp_path, "--max-redeliveries", "1")

    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert {
        k: summary[k] for k in ("scanned", "failed_guids", "redelivered", "skipped_too_old", "pages")
    } == {
        "scanned": 3,
        "failed_guids": 2,
        "redelivered": 1,
        "skipped_too_old": 1,
        "pages": 1,
    }
    assert summary["checkpoint"] == failed[0]
    assert fake_github.redelivery_requests == [failed[0]]
    assert await checkpoint_id(state) == failed[0]


async def test_dry_run_changes_nothing(
    fake_github: FakeGitHub,
    github_app: AppCredentials,
    redis_settings: RedisSettings,
    state: RedisRedeliveryState,
    tmp_path: Path,
) -> None:
    """``--dry-run`` reports what it would redeliver without asking GitHub or storing a checkpoint."""
    add(fake_github, github_app, "guid-a", 502, age=OLD)

    result = run_cli(fake_github, github_app, redis_settings, tmp_path, "--dry-run")

    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert (summary["would_redeliver"], summary["redelivered"], summary["dry_run"]) == (1, 0, True)
    assert fake_github.redelivery_requests == []
    assert await checkpoint_id(state) is None


def test_bad_setting_exits_2_naming_the_variable(
    fake_github: FakeGitHub, github_app: AppCredentials, redis_settings: RedisSettings, tmp_path: Path
) -> None:
    """An invalid ARGOAI_REDELIVER_* value stops the command with one line naming the variable, exit 2."""
    result = run_cli(fake_github, github_app, redis_settings, tmp_path, ARGOAI_REDELIVER_MAX_PAGES="0")

    assert result.returncode == 2
    assert "configuration error: ARGOAI_REDELIVER_MAX_PAGES" in result.stderr
    assert fake_github.requests_to("/app/hook/deliveries") == []


def test_github_failure_exits_1_and_rate_limit_exits_0(
    fake_github: FakeGitHub, github_app: AppCredentials, redis_settings: RedisSettings, tmp_path: Path
) -> None:
    """GitHub answering 5xx is a failed run (exit 1); a rate-limited run is not a failure (exit 0, logged)."""
    add(fake_github, github_app, "guid-a", 502, age=OLD)
    fake_github.fail_next(10, status=503, path_contains="/app/hook/deliveries")

    failed = run_cli(fake_github, github_app, redis_settings, tmp_path)

    assert failed.returncode == 1
    assert "redeliver failed" in failed.stderr
    with fake_github.lock:
        fake_github.faults.clear()
    fake_github.rate_limit_next(1, path_contains="/app/hook/deliveries", retry_after=60)

    limited = run_cli(fake_github, github_app, redis_settings, tmp_path)

    assert limited.returncode == 0, limited.stderr
    assert summary_of(limited)["rate_limited"] is True
    assert "redeliver_rate_limited" in limited.stderr
    assert fake_github.redelivery_requests == []


def start_cli(
    fake: FakeGitHub, app: AppCredentials, redis_url: str, prefix: str, tmp_path: Path, **env: str
) -> subprocess.Popen[str]:
    """Start ``argoai redeliver`` as a process (to signal it while it waits on a dependency)."""
    key = tmp_path / "app.pem"
    key.write_text(app.key.pkcs1)
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ARGOAI_GITHUB_API_URL": fake.url,
        "ARGOAI_GITHUB_APP_ID": str(app.app_id),
        "ARGOAI_GITHUB_PRIVATE_KEY_FILE": str(key),
        "ARGOAI_REDIS_URL": redis_url,
        "ARGOAI_REDIS_KEY_PREFIX": prefix,
        "ARGOAI_REDELIVER_SPACING_SECONDS": "0",
        **env,
    }
    return subprocess.Popen(
        [str(ARGOAI), "redeliver"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def connected_to(port: int) -> bool:
    """Whether some socket on this machine has an established TCP connection to 127.0.0.1:``port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                return True
    return False


def stopped_within(process: subprocess.Popen[str], sig: signal.Signals, bound: float) -> tuple[int, str]:
    """Send ``sig``; the exit status and stderr, failing when the process outlives ``bound`` seconds."""
    process.send_signal(sig)
    try:
        _, stderr = process.communicate(timeout=bound)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"argoai redeliver still running {bound} s after {sig.name}") from None
    return process.returncode, stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_github_hangs_stops_at_once_and_releases_the_lock(
    fake_github: FakeGitHub,
    github_app: AppCredentials,
    redis_settings: RedisSettings,
    tmp_path: Path,
    sig: signal.Signals,
) -> None:
    """GitHub never answers: SIGTERM/SIGINT ends the run within seconds (128+signal, one line), and the
    run lock is released, so the next run works at once."""
    add(fake_github, github_app, "guid-a", 502, age=OLD)
    fake_github.delay_next(1, 600, path_contains="/app/hook/deliveries")
    process = start_cli(
        fake_github, github_app, redis_settings.url, redis_settings.key_prefix, tmp_path,
        ARGOAI_GITHUB_TIMEOUT_SECONDS="120",
    )  # fmt: skip
    wait_until(lambda: bool(fake_github.requests_to("/app/hook/deliveries")), 30, "the run to reach GitHub")

    code, stderr = stopped_within(process, sig, bound=5)

    assert code == 128 + sig.value
    assert f"argoai: redeliver stopped by {sig.name} before the run finished" in stderr
    assert "Traceback" not in stderr
    after = run_cli(fake_github, github_app, redis_settings, tmp_path)
    assert after.returncode == 0, after.stderr
    assert summary_of(after)["locked"] is False
    assert summary_of(after)["redelivered"] == 1


def test_sigterm_while_redis_is_frozen_stops_within_the_redis_timeout(
    fake_github: FakeGitHub, github_app: AppCredentials, own_redis: LocalProcess, tmp_path: Path
) -> None:
    """Redis accepts connections but never answers (SIGSTOP): SIGTERM still ends the run within seconds."""
    assert own_redis.process is not None
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        process = start_cli(
            fake_github, github_app, f"redis://127.0.0.1:{own_redis.port}/0", "t", tmp_path,
            ARGOAI_REDELIVER_REDIS_TIMEOUT_SECONDS="30",
        )  # fmt: skip
        # Only once it waits on Redis: a signal during start-up would find no handler yet.
        wait_until(lambda: connected_to(own_redis.port), 30, "the run to connect to Redis")
        assert process.poll() is None
        code, stderr = stopped_within(process, signal.SIGTERM, bound=5)
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    assert code == 128 + signal.SIGTERM.value
    assert "Traceback" not in stderr


def test_unreachable_redis_fails_at_once_naming_it(
    fake_github: FakeGitHub, github_app: AppCredentials, tmp_path: Path
) -> None:
    """No Redis at the URL: exit 1 within seconds, one line naming Redis and where it was looked for
    (without the password in the URL)."""
    port = free_port()
    process = start_cli(
        fake_github, github_app, f"redis://:hunter2-password@127.0.0.1:{port}/0", "t", tmp_path
    )
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 1
    [line] = [line for line in stderr.splitlines() if line.startswith("argoai:")]
    assert line.startswith("argoai: redeliver failed: Redis: ")
    assert f"127.0.0.1:{port}" in line
    assert "hunter2" not in stderr
    assert fake_github.requests_to("/app/hook/deliveries") == []
