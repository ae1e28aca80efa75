"""Run ``argoai dev`` as a real process for the tests, collecting what it prints, and find its children."""

from __future__ import annotations

import json
import os
import re
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
from support.webhooks import delivery_headers

ARGOAI = str(Path(sys.executable).parent / "argoai")


@dataclass
class DevProcess:
    """A running ``argoai dev`` whose standard output and error are collected line by line."""

    process: subprocess.Popen[str]
    port: int
    metrics_port: int
    state_dir: Path
    lines: list[str] = field(default_factory=list)

    def collect(self) -> None:
        """Read the process's output until it closes (runs in a thread)."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def wait_for_line(self, pattern: str, within: float = 30) -> re.Match[str]:
        """The first printed line matching ``pattern``; fails if the process exits or time runs out."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            assert self.process.poll() is None, self.output
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n{self.output}")

    def wait_ready(self, path: str = "/readyz", port: int | None = None, within: float = 30) -> None:
        """Wait until ``path`` on the gateway (or ``port``) answers 200."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port or self.port}{path}", timeout=1)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.output
            time.sleep(0.05)
        raise AssertionError(f"{path} never answered 200:\n{self.output}")

    def send(self, event: str, payload: dict[str, Any], secret: str) -> httpx.Response:
        """Deliver a correctly signed webhook to the gateway, as GitHub does."""
        body = json.dumps(payload).encode()
        return httpx.post(
            f"http://127.0.0.1:{self.port}/webhooks/github",
            content=body,
            headers=delivery_headers(event, body, secret),
            timeout=10,
        )

    def interrupt(self, within: float = 60) -> int:
        """Ctrl-C: send SIGINT and return the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=within)

    def kill(self) -> None:
        """Kill the process and anything still running from its state directory."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in processes_using(self.state_dir):
            os.kill(pid, signal.SIGKILL)


def start_dev(env: dict[str, str], state_dir: Path) -> DevProcess:
    """Start ``argoai dev`` on free ports with exactly ``env``."""
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen(
        [
            ARGOAI,
            "dev",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            "--state-dir",
            str(state_dir),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    dev = DevProcess(process, port, metrics_port, state_dir)
    threading.Thread(target=dev.collect, daemon=True).start()
    return dev


def processes_using(path: Path) -> list[int]:
    """Pids whose command line mentions ``path`` (a nats-server or redis-server storing there)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(path) in cmdline:
                pids.append(int(entry.name))
    return pids


def children(pid: int) -> dict[int, str]:
    """The direct child processes of ``pid``: pid → executable name."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found[int(entry.name)] = name
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"
