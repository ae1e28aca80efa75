"""``argoai gateway`` (the real process) while NATS is unreachable or frozen: what it logs, what it answers,
and that SIGTERM/SIGINT end it within its grace period whatever NATS does."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from argoai_cli.local_services import LocalProcess, nats_process
from support.gateway_process import GatewayProcess
from support.webhooks import load_payload

PASSWORD = "nats-pass-4c7e1a9b"
GRACE_SECONDS = 10  # ARGOAI_GATEWAY_GRACE_PERIOD_SECONDS's default
SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    """A gateway process description (the test sets its NATS URL and starts it); killed if still running."""
    gw = GatewayProcess(nats_url="", log=tmp_path / "gateway.log")
    yield gw
    gw.kill()


def test_unreachable_nats_is_one_warning_with_backoff_and_one_line_when_back(
    gateway: GatewayProcess, tmp_path: Path
) -> None:
    """NATS down: one warning naming the URL without credentials, repeated with backoff (not per attempt),
    /readyz 503, 503s logged once with their reason; NATS up: one info line, ready, 202."""
    server = nats_process(tmp_path / "nats")
    server.argv += ["--user", "argo", "--pass", PASSWORD]
    public_url = f"nats://127.0.0.1:{server.port}"
    gateway.nats_url = f"nats://argo:{PASSWORD}@127.0.0.1:{server.port}"
    gateway.start()
    gateway.wait_serving()
    gateway.wait_until("the first warning", lambda: gateway.lines("nats_unreachable"))
    assert gateway.status("/readyz") == 503
    answers = [gateway.deliver() for _ in range(20)]
    assert {answer.status_code for answer in answers} == {503}
    # The repeat comes 5 s after the first warning; nats-py fails an attempt every 0.5 s meanwhile.
    gateway.wait_until("the repeated warning", lambda: gateway.lines("nats_still_unreachable"), within=15)

    server.start()
    try:
        gateway.wait_ready()
        assert gateway.deliver().status_code == 202
        status, _ = gateway.signal_and_wait(signal.SIGTERM)
    finally:
        server.stop(kill=True)
    assert status == 0

    [first] = gateway.lines("nats_unreachable")
    assert first["level"] == "warning"
    assert first["url"] == public_url
    assert "ConnectionRefusedError" in first["error"]
    [repeat] = gateway.lines("nats_still_unreachable")
    assert repeat["url"] == public_url
    assert repeat["down_seconds"] >= 5
    assert repeat["failed_attempts"] >= 5  # several attempts, one line
    [back] = gateway.lines("nats_connected")
    assert back["level"] == "info"
    assert back["url"] == public_url
    assert back["down_seconds"] >= 5
    [refused] = gateway.lines("delivery_unavailable")  # 20 deliveries answered 503, one line
    assert refused["reason"] == "NATS is not connected"
    assert refused["status"] == 503
    text = gateway.text()
    assert PASSWORD not in text
    assert "argo:" not in text
    assert "Traceback" not in text


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
@pytest.mark.parametrize("nats", ["refused", "frozen"])
def test_gateway_exits_within_its_grace_period_when_nats_never_answered(
    gateway: GatewayProcess, tmp_path: Path, sig: signal.Signals, nats: str
) -> None:
    """NATS unreachable from the start (nothing listening, or a SIGSTOPped nats-server that accepts TCP and
    never speaks): SIGTERM/SIGINT end the process at once, status 0."""
    server = nats_process(tmp_path / "nats")
    if nats == "frozen":
        server.start()
        assert server.process is not None
        server.process.send_signal(signal.SIGSTOP)
    gateway.nats_url = f"nats://127.0.0.1:{server.port}"
    try:
        gateway.start()
        gateway.wait_serving()
        gateway.wait_until("the warning", lambda: gateway.lines("nats_unreachable"), within=10)
        assert gateway.status("/readyz") == 503
        status, seconds = gateway.signal_and_wait(sig)
    finally:
        server.stop(kill=True)
    print(f"\nNATS {nats} from the start: exited {seconds:.2f} s after {sig.name}")
    assert status == 0, gateway.text()
    assert seconds < GRACE_SECONDS, seconds
    assert "Traceback" not in gateway.text()


def _post_in_background(bodies: list[bytes], gateway: GatewayProcess) -> list[threading.Thread]:
    """Start one thread per body posting it (answers or transport errors are ignored)."""

    def post(body: bytes) -> None:
        with contextlib.suppress(httpx.TransportError):
            gateway.deliver(body=body, timeout=30)

    threads = [threading.Thread(target=post, args=(body,), daemon=True) for body in bodies]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
def test_gateway_exits_within_its_grace_period_when_nats_is_frozen(
    gateway: GatewayProcess, own_nats_server: LocalProcess, sig: signal.Signals
) -> None:
    """nats-server SIGSTOPped while connected, 25 MB of deliveries in flight (socket buffers full, a 4 MB one
    on its way to the object store): the process still exits within its grace period of SIGTERM/SIGINT."""
    gateway.nats_url = f"nats://127.0.0.1:{own_nats_server.port}"
    gateway.start()
    gateway.wait_ready()
    payload = load_payload("pull_request.synchronize")
    large = json.dumps({**payload, "padding": "x" * (4 * 1024 * 1024)}).encode()
    # Enough inline bodies to fill the socket buffers towards the frozen server (writes then block).
    inline = json.dumps({**payload, "padding": "y" * (900 * 1024)}).encode()
    assert own_nats_server.process is not None
    own_nats_server.process.send_signal(signal.SIGSTOP)
    try:
        threads = _post_in_background([large, *[inline] * 24], gateway)
        time.sleep(0.5)  # the deliveries are in flight, waiting on the frozen server
        status, seconds = gateway.signal_and_wait(sig)
    finally:
        own_nats_server.process.send_signal(signal.SIGCONT)
    for thread in threads:
        thread.join(timeout=30)
    print(f"\nNATS frozen while connected: exited {seconds:.2f} s after {sig.name}")
    assert status == 0, gateway.text()
    assert seconds < GRACE_SECONDS, seconds
    assert "Traceback" not in gateway.text()
