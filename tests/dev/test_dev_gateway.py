"""``argoai dev`` as a process with nothing configured: embedded NATS, a dev secret, clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import nats
import pytest

from argoai_cli.local_services import LocalProcess, free_port, port_open
from argoai_core.streams import StreamNames
from support.devprocess import DevProcess, processes_using, start_dev
from support.webhooks import delivery_headers, load_payload


@pytest.fixture
def dev_with_nothing_configured(tmp_path: Path) -> Iterator[DevProcess]:
    """``argoai dev`` with only PATH and HOME set and ARGOAI_NATS_URL pointing at a port nobody listens on."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "ARGOAI_NATS_URL": f"nats://127.0.0.1:{free_port()}",
    }
    dev = start_dev(env, tmp_path / "state")
    yield dev
    if dev.process.poll() is None:
        dev.process.kill()
        dev.process.wait()
    for pid in processes_using(dev.state_dir):
        os.kill(pid, signal.SIGKILL)


async def test_dev_starts_with_nothing_configured_and_stops_cleanly(
    dev_with_nothing_configured: DevProcess,
) -> None:
    """Embedded NATS, dev secret; a webhook sent twice is stored once; forged 401; SIGINT stops all."""
    dev = dev_with_nothing_configured
    nats_url = dev.wait_for_line(r"started an embedded nats-server at (nats://127\.0\.0\.1:\d+)").group(1)
    printed_secret = dev.wait_for_line(r"development secret kept in \S+: ([0-9a-f]{64})").group(1)
    dev.wait_for_line(r"GitHub App not configured")
    dev.wait_for_line(r"LLM not configured")
    # Which analyzers reviews run, with the installed version of each tool.
    dev.wait_for_line(
        r"^  analyzers ruff [\d.]+, bandit [\d.]+, .*biome [\d.]+; built in: secrets, conflicts, debugger$"
    )
    dev.wait_ready()
    secret_file = dev.state_dir / "webhook-secret"
    assert secret_file.read_text().strip() == printed_secret
    assert secret_file.stat().st_mode & 0o077 == 0

    body = json.dumps(load_payload("pull_request.opened")).encode()
    headers = delivery_headers("pull_request", body, printed_secret)
    url = f"http://127.0.0.1:{dev.port}/webhooks/github"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(url, content=body, headers=headers)).status_code == 202
        assert (await http.post(url, content=body, headers=headers)).status_code == 202
        forged = delivery_headers("pull_request", body, "not-the-dev-secret")
        assert (await http.post(url, content=body, headers=forged)).status_code == 401

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        names = StreamNames()
        info = await js.stream_info(names.webhooks_stream)
        assert info.state.messages == 1
        message = await js.get_msg(names.webhooks_stream, info.state.last_seq)
        assert message.subject == names.webhook_subject("pull_request")
        assert message.headers is not None
        assert message.headers["Nats-Msg-Id"] == headers["X-GitHub-Delivery"]
    finally:
        await nc.close()

    # One info line per accepted delivery (the duplicate and the forgery are not "stored"), nothing secret.
    stored = [json.loads(line) for line in dev.lines if '"event":"delivery_stored"' in line]
    assert [(r["level"], r["github_event"], r["action"], r["delivery"], r["repo"]) for r in stored] == [
        ("info", "pull_request", "opened", headers["X-GitHub-Delivery"], "Codertocat/Hello-World")
    ]
    assert printed_secret not in "\n".join(line for line in dev.lines if line.startswith("{"))
    assert headers["X-Hub-Signature-256"].removeprefix("sha256=") not in dev.output

    nats_port = int(nats_url.rsplit(":", 1)[1])
    assert processes_using(dev.state_dir), "the embedded nats-server should be running"
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(timeout=20) == 0
    assert not port_open("127.0.0.1", nats_port)
    assert not port_open("127.0.0.1", dev.port)
    assert processes_using(dev.state_dir) == []
    dev.wait_for_line(r"embedded nats-server stopped", within=1)


def test_dev_uses_the_nats_server_that_answers(nats_server: LocalProcess, tmp_path: Path) -> None:
    """With a NATS answering at ARGOAI_NATS_URL and a secret configured, dev uses both and starts no NATS."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "ARGOAI_NATS_URL": f"nats://127.0.0.1:{nats_server.port}",
        "ARGOAI_NATS_PREFIX": f"D{uuid.uuid4().hex[:10].upper()}",
        "ARGOAI_GITHUB_WEBHOOK_SECRET": "dev-test-configured-secret-123",
    }
    dev = start_dev(env, tmp_path / "state")
    try:
        dev.wait_for_line(
            rf"using NATS at nats://127\.0\.0\.1:{nats_server.port} \(nats-server 2\.\d+\.\d+\)$"
        )
        dev.wait_for_line(rf"^  NATS      nats://127\.0\.0\.1:{nats_server.port} \(external, nats-server 2\.")
        dev.wait_ready()
        body = b'{"zen":"Keep it logically awesome."}'
        url = f"http://127.0.0.1:{dev.port}/webhooks/github"
        response = httpx.post(
            url, content=body, headers=delivery_headers("ping", body, "dev-test-configured-secret-123")
        )
        assert response.status_code == 200
        assert not (dev.state_dir / "webhook-secret").exists()
        assert not any("embedded" in line for line in dev.lines)
        dev.process.send_signal(signal.SIGTERM)
        assert dev.process.wait(timeout=20) == 0
    finally:
        if dev.process.poll() is None:
            dev.process.kill()
            dev.process.wait()
