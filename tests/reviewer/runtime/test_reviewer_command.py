"""``argoai reviewer``: options, configuration errors, and a real process stopping cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from argoai_cli.local_services import free_port
from argoai_cli.main import app
from argoai_core.settings import NatsSettings, RedisSettings
from support.keys import app_key


def test_help_lists_the_metrics_port_option() -> None:
    """``argoai reviewer --help`` documents --metrics-port."""
    result = CliRunner().invoke(app, ["reviewer", "--help"])
    assert result.exit_code == 0
    assert "--metrics-port" in result.output


def test_bad_setting_exits_2_naming_the_variable() -> None:
    """An invalid ARGOAI_REVIEWER_* value stops the command with one line naming the variable, exit 2."""
    result = CliRunner().invoke(app, ["reviewer"], env={"ARGOAI_REVIEWER_CONCURRENCY": "0"})
    assert result.exit_code == 2
    assert "configuration error: ARGOAI_REVIEWER_CONCURRENCY" in result.output


def test_reviewer_process_serves_health_and_exits_cleanly_on_sigterm(
    tmp_path: Path, nats_settings: NatsSettings, redis_settings: RedisSettings
) -> None:
    """The real command with the production pipeline: ready on its port, then SIGTERM → drained, exit 0."""
    key = tmp_path / "app.pem"
    key.write_text(app_key().pkcs1)
    port = free_port()
    env = {
        **os.environ,
        "ARGOAI_NATS_URL": nats_settings.url,
        "ARGOAI_NATS_PREFIX": nats_settings.prefix,
        "ARGOAI_REDIS_URL": redis_settings.url,
        "ARGOAI_REDIS_KEY_PREFIX": redis_settings.key_prefix,
        "ARGOAI_GITHUB_APP_ID": "1",
        "ARGOAI_GITHUB_PRIVATE_KEY_FILE": str(key),
        "ARGOAI_REVIEWER_FETCH_TIMEOUT_SECONDS": "0.2",
    }
    argoai = Path(sys.executable).parent / "argoai"
    process = subprocess.Popen(
        [str(argoai), "reviewer", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()[0].decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the reviewer never became ready"
            time.sleep(0.1)
        assert "argoai_reviews_in_flight" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert '"reviewer stopped"' in output


def test_taken_metrics_port_exits_2_with_one_line() -> None:
    """A metrics port already in use is a one-line configuration error (exit 2), not a traceback."""
    argoai = Path(sys.executable).parent / "argoai"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        # A real process: the command configures logging process-wide, which must not leak into other tests.
        result = subprocess.run(
            [str(argoai), "reviewer", "--metrics-port", str(port)],
            env={**os.environ, "ARGOAI_REVIEWER_METRICS_HOST": "127.0.0.1"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert f"ARGOAI_REVIEWER_METRICS_PORT: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_snapshot_dir_that_cannot_be_created_exits_2_with_one_line(
    tmp_path: Path, nats_settings: NatsSettings, redis_settings: RedisSettings
) -> None:
    """ARGOAI_REVIEWER_SNAPSHOT_DIR under a regular file: one configuration error line naming it, exit 2."""
    key = tmp_path / "app.pem"
    key.write_text(app_key().pkcs1)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "argoai"), "reviewer", "--metrics-port", str(free_port())],
        env={
            **os.environ,
            "ARGOAI_NATS_URL": nats_settings.url,
            "ARGOAI_NATS_PREFIX": nats_settings.prefix,
            "ARGOAI_REDIS_URL": redis_settings.url,
            "ARGOAI_REDIS_KEY_PREFIX": redis_settings.key_prefix,
            "ARGOAI_GITHUB_APP_ID": "1",
            "ARGOAI_GITHUB_PRIVATE_KEY_FILE": str(key),
            "ARGOAI_REVIEWER_METRICS_HOST": "127.0.0.1",
            "ARGOAI_REVIEWER_SNAPSHOT_DIR": str(blocker / "snapshots"),
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "configuration error: ARGOAI_REVIEWER_SNAPSHOT_DIR: cannot create" in result.stderr
    assert "Traceback" not in result.stderr
