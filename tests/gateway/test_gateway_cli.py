"""``argoai gateway`` as a process: configuration errors, a real socket, and what its logs never contain."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from argoai_cli.local_services import LocalProcess, free_port
from support.webhooks import delivery_headers, load_payload

ARGOAI = str(Path(sys.executable).parent / "argoai")
SECRET = "cli-test-secret-5a4b3c2d1e"


def base_env() -> dict[str, str]:
    """PATH and HOME only: nothing from the developer's environment leaks into the process."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def test_missing_webhook_secret_is_one_config_error_line_and_exit_2() -> None:
    """Without a webhook secret the gateway refuses to start: exit 2 and one line naming the variable."""
    result = subprocess.run(
        [ARGOAI, "gateway", "--port", str(free_port())],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("argoai: configuration error: ARGOAI_GITHUB_WEBHOOK_SECRET")


def test_taken_port_is_one_config_error_line_and_exit_2() -> None:
    """A port already in use is reported in one line (exit 2), not a traceback or a hang."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = base_env() | {"ARGOAI_GITHUB_WEBHOOK_SECRET": SECRET, "ARGOAI_NATS_URL": "nats://127.0.0.1:1"}
        result = subprocess.run(
            [ARGOAI, "gateway", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"argoai: configuration error: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_placeholder_webhook_secret_is_refused() -> None:
    """A placeholder such as 'changeme' is not accepted as a webhook secret."""
    env = base_env() | {"ARGOAI_GITHUB_WEBHOOK_SECRET": "changeme"}
    result = subprocess.run(
        [ARGOAI, "gateway", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "ARGOAI_GITHUB_WEBHOOK_SECRET" in result.stderr


@pytest.fixture
def gateway_process(nats_server: LocalProcess, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``argoai gateway`` on a free port with DEBUG logs captured to a file; yields (base URL, log file)."""
    port = free_port()
    log = tmp_path / "gateway.log"
    env = base_env() | {
        "ARGOAI_GITHUB_WEBHOOK_SECRET": f"{SECRET},cli-test-older-secret-99",
        "ARGOAI_NATS_URL": f"nats://127.0.0.1:{nats_server.port}",
        "ARGOAI_NATS_PREFIX": f"C{uuid.uuid4().hex[:10].upper()}",
        "ARGOAI_LOG_LEVEL": "DEBUG",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [ARGOAI, "gateway", "--host", "127.0.0.1", "--port", str(port)], env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    yield base, log
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_declared_oversized_body_is_refused_without_sending_it(gateway_process: tuple[str, Path]) -> None:
    """Over a real socket, headers declaring 30 MB get 413 before a single body byte is sent."""
    base, _ = gateway_process
    host, port = base.removeprefix("http://").split(":")
    request = (
        "POST /webhooks/github HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Content-Type: application/json\r\n"
        "X-GitHub-Event: pull_request\r\n"
        f"X-GitHub-Delivery: {uuid.uuid4()}\r\n"
        f"X-Hub-Signature-256: sha256={'0' * 64}\r\n"
        f"Content-Length: {30 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request.encode())
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 413")


def test_logs_carry_delivery_ids_and_never_a_secret_or_signature(gateway_process: tuple[str, Path]) -> None:
    """Deliveries are logged by delivery id; no secret or signature ever reaches the log."""
    base, log = gateway_process
    body = json.dumps(load_payload("pull_request.opened")).encode()
    url = f"{base}/webhooks/github"
    accepted = delivery_headers("pull_request", body, SECRET)
    forged = delivery_headers("pull_request", body, "attacker-guess-123456")
    sha1 = delivery_headers("pull_request", body, SECRET)
    sha1["X-Hub-Signature-256"] = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    with httpx.Client(timeout=10) as http:
        assert http.post(url, content=body, headers=accepted).status_code == 202
        assert http.post(url, content=body, headers=accepted).status_code == 202  # replay
        assert http.post(url, content=body, headers=forged).status_code == 401
        assert http.post(url, content=body, headers=sha1).status_code == 401
        assert (
            http.post(
                url, content=body[:-5], headers=delivery_headers("pull_request", body[:-5], SECRET)
            ).status_code
            == 400
        )

    time.sleep(0.2)
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(
        line.get("event") == "delivery_duplicate" and line.get("delivery") == accepted["X-GitHub-Delivery"]
        for line in lines
    )
    assert any(
        line.get("event") == "delivery_refused" and line.get("delivery") == forged["X-GitHub-Delivery"]
        for line in lines
    )
    for needle in (
        SECRET,
        "cli-test-older-secret-99",
        accepted["X-Hub-Signature-256"].removeprefix("sha256="),
        forged["X-Hub-Signature-256"].removeprefix("sha256="),
        sha1["X-Hub-Signature-256"].removeprefix("sha1="),
    ):
        assert needle not in text
