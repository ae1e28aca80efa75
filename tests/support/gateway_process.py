"""Run ``argoai gateway`` as a real process with only the settings a user would give; read its JSON logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from argoai_cli.local_services import free_port
from support.webhooks import delivery_headers, load_payload

ARGOAI = str(Path(sys.executable).parent / "argoai")
SECRET = "gateway-process-secret-7f6e5d"
BODY = json.dumps(load_payload("pull_request.synchronize"), separators=(",", ":")).encode()


def user_env(**settings: str) -> dict[str, str]:
    """PATH and HOME plus ``settings``: nothing from the developer's environment leaks into the process."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **settings}


@dataclass
class GatewayProcess:
    """One ``argoai gateway`` process on a free port, its output in ``log``."""

    nats_url: str
    log: Path
    settings: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: f"P{uuid.uuid4().hex[:10].upper()}")
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (returns at once)."""
        env = user_env(
            ARGOAI_GITHUB_WEBHOOK_SECRET=SECRET,
            ARGOAI_NATS_URL=self.nats_url,
            ARGOAI_NATS_PREFIX=self.prefix,
            **self.settings,
        )
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [ARGOAI, "gateway", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env, stdout=out, stderr=out,
            )  # fmt: skip

    @property
    def url(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.port}"

    def status(self, path: str) -> int | None:
        """The HTTP status of ``GET path``; None while nothing answers."""
        try:
            return httpx.get(f"{self.url}{path}", timeout=2).status_code
        except httpx.TransportError:
            return None

    def wait_until(self, what: str, check: Any, within: float = 20) -> None:
        """Wait until ``check()`` holds; fails (with the log) if the process exits or time runs out."""
        deadline = time.monotonic() + within
        while not check():
            assert self.process is not None
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.text()}"
            time.sleep(0.05)

    def wait_serving(self) -> None:
        """Wait until ``/healthz`` answers 200 (NATS may be down)."""
        self.wait_until("/healthz", lambda: self.status("/healthz") == 200)

    def wait_ready(self, within: float = 20) -> None:
        """Wait until ``/readyz`` answers 200 (NATS connected, streams declared)."""
        self.wait_until("/readyz", lambda: self.status("/readyz") == 200, within)

    def deliver(self, delivery: str | None = None, body: bytes = BODY, timeout: float = 15) -> httpx.Response:
        """POST one signed ``pull_request`` delivery."""
        headers = delivery_headers("pull_request", body, SECRET, delivery=delivery)
        return httpx.post(f"{self.url}/webhooks/github", content=body, headers=headers, timeout=timeout)

    def signal_and_wait(self, sig: signal.Signals, timeout: float = 60) -> tuple[int, float]:
        """Send ``sig``; return the exit status and the seconds it took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(sig)
        status = self.process.wait(timeout=timeout)
        return status, time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the process if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def text(self) -> str:
        """Everything the process wrote."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def lines(self, event: str | None = None) -> list[dict[str, Any]]:
        """The JSON log lines (of ``event`` only, when given)."""
        found = []
        for line in self.text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                if event is None or record.get("event") == event:
                    found.append(record)
        return found
