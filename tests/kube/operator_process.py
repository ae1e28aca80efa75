"""Run the real ``argoai operator`` as a process for the tests: its JSON log lines, its HTTP port, its exit.

Every wait is async: the Kubernetes emulator the process talks to is served by the test's own event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from argoai_cli.local_services import free_port

ARGOAI = str(Path(sys.executable).parent / "argoai")
# The operator's arguments in the chart's container (charts/argoai/templates/operator.yaml), without its
# ports (start_operator adds --metrics-port; the chart's --liveness is added where a test wants it).
CHART_ARGS = ["operator", "--resync-seconds", "60", "--peering", "argoai"]


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """A minimal environment: PATH, an empty HOME (no ~/.kube), no KUBECONFIG unless given."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}
    env.update(extra)
    return env


@dataclass
class OperatorProcess:
    """A running ``argoai operator`` whose output (stdout and stderr together) is collected by line."""

    process: subprocess.Popen[str]
    metrics_port: int
    lines: list[str] = field(default_factory=list)

    def collect(self) -> None:
        """Read the output until it closes (runs in a thread)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines printed so far."""
        found = []
        for line in list(self.lines):
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def logged(self, event: str) -> list[dict[str, Any]]:
        """The log records whose event is ``event``."""
        return [record for record in self.records() if record.get("event") == event]

    async def wait_for_log(self, event: str, within: float = 20) -> dict[str, Any]:
        """The first log record with ``event``; fails if the process exits or time runs out."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if found := self.logged(event):
                return found[0]
            assert self.process.poll() is None, self.output
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {event!r} log line within {within}s in:\n{self.output}")

    async def get(self, path: str) -> httpx.Response:
        """GET ``path`` on the operator's HTTP port."""
        async with httpx.AsyncClient(timeout=2) as client:
            return await client.get(f"http://127.0.0.1:{self.metrics_port}{path}")

    async def wait_for_status(self, path: str, status: int, within: float = 20) -> httpx.Response:
        """Poll ``path`` until it answers ``status``."""
        deadline = time.monotonic() + within
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = await self.get(path)
                if last.status_code == status:
                    return last
            except httpx.TransportError as exc:
                last = exc
            assert self.process.poll() is None, self.output
            await asyncio.sleep(0.1)
        raise AssertionError(f"{path} never answered {status} (last: {last!r}):\n{self.output}")

    async def metric(self, name: str, **labels: str) -> float:
        """The value of one sample on /metrics (0 when absent)."""
        text = (await self.get("/metrics")).text
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    async def stop(self, sig: signal.Signals = signal.SIGTERM, within: float = 30) -> tuple[int, float]:
        """Send ``sig``; the exit status and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(sig)
        status = await asyncio.to_thread(self.process.wait, within)
        return status, time.monotonic() - started

    def kill(self) -> None:
        """Kill the process if it still runs (test teardown)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_operator(env: dict[str, str], args: list[str] | None = None) -> OperatorProcess:
    """Start ``argoai operator`` (the chart's arguments by default) with its HTTP port on a free port."""
    port = free_port()
    argv = [ARGOAI, *(args or CHART_ARGS), "--metrics-host", "127.0.0.1", "--metrics-port", str(port)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    running = OperatorProcess(process, port)
    threading.Thread(target=running.collect, daemon=True).start()
    return running


def run_to_exit(env: dict[str, str], args: list[str], within: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``argoai operator`` expected to exit by itself (configuration errors)."""
    return subprocess.run([ARGOAI, *args], env=env, capture_output=True, text=True, timeout=within)


def stopped(process: subprocess.Popen[Any]) -> None:
    """SIGCONT a stopped process so that teardown can end it."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)
