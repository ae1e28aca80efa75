"""Processes the reviewer benchmark needs: nats-server, Redis, the fake GitHub and fake LLMs, reviewers.

Everything runs on 127.0.0.1 on free ports. The fakes run as their own processes (``python -m
support.fake_github`` / ``support.fake_llm`` with ``PYTHONPATH=tests``) so they do not share the measured
process's event loop or CPU time; they still share the machine's two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis

from argoai_cli.local_services import LocalProcess, free_port, nats_process, port_open, redis_process

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
LLM_KEY = "bench-llm-key"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"
# Every Redis key a benchmark makes is under this run's prefix, deleted when its backends stop.
RUN_PREFIX = f"bench:{uuid.uuid4().hex[:8]}"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "tests")}


def _first_line(process: subprocess.Popen[str], what: str, timeout: float = 30.0) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline()
    if not line or time.monotonic() > deadline:
        raise RuntimeError(f"{what} did not start (exit code {process.poll()})")
    return line.strip()


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class FakeGitHubProcess:
    """``python -m support.fake_github`` and its admin API (``POST /_fake/{method}``)."""

    url: str
    app_id: int
    installation_id: int
    private_key: str
    process: subprocess.Popen[str]
    client: httpx.Client

    def call(self, method: str, **kwargs: Any) -> Any:
        """Call one of the fake's set-up or inspection methods; return its result."""
        response = self.client.post(f"{self.url}/_fake/{method}", json=kwargs)
        response.raise_for_status()
        return response.json()["result"]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the fake so far."""
        return cpu_seconds(self.process.pid)


@dataclass
class FakeLLMProcess:
    """``python -m support.fake_llm`` answering after a fixed delay."""

    url: str
    delay: float
    process: subprocess.Popen[str]

    @property
    def openai_base_url(self) -> str:
        """OpenAI-compatible base URL."""
        return f"{self.url}/v1"


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of process ``pid`` (from /proc); with ``children``, those of its children
    that ended and were waited for instead (the reviewer's analyzer tool processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    first = 13 if children else 11  # cutime, cstime / utime, stime
    return (int(fields[first]) + int(fields[first + 1])) / ticks


def peak_rss_mb(pid: int, field: str = "VmHWM") -> float:
    """``field`` of /proc/<pid>/status in MB: VmHWM (peak resident set) or VmRSS (now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc status")


@contextmanager
def fake_github(workdir: Path) -> Iterator[FakeGitHubProcess]:
    """The fake GitHub in its own process, with one App and installation."""
    key_file = workdir / "app.pem"
    process = subprocess.Popen(
        [PYTHON, "-m", "support.fake_github", "--key-out", str(key_file)],
        stdout=subprocess.PIPE, stderr=(workdir / "fake_github.log").open("w"), text=True, env=_env(),
        cwd=ROOT,
    )  # fmt: skip
    try:
        info = json.loads(_first_line(process, "fake GitHub"))
        with httpx.Client(timeout=30) as client:
            yield FakeGitHubProcess(
                url=info["url"],
                app_id=info["app_id"],
                installation_id=info["installation_id"],
                private_key=key_file.read_text(),
                process=process,
                client=client,
            )
    finally:
        _stop(process)


@contextmanager
def fake_llm(workdir: Path, delay: float, name: str, *options: str) -> Iterator[FakeLLMProcess]:
    """The fake LLM in its own process, answering every request after ``delay`` seconds (``options``: more
    of its command-line options, e.g. ``--piece-chars 4``)."""
    process = subprocess.Popen(
        [PYTHON, "-m", "support.fake_llm", "--api-key", LLM_KEY, "--delay", str(delay), *options],
        stdout=subprocess.PIPE, stderr=(workdir / f"{name}.log").open("w"), text=True, env=_env(), cwd=ROOT,
    )  # fmt: skip
    try:
        line = _first_line(process, "fake LLM")
        yield FakeLLMProcess(url=line.split("=", 1)[1], delay=delay, process=process)
    finally:
        _stop(process)


@dataclass
class Backends:
    """NATS and Redis URLs for the run."""

    nats_url: str
    redis_url: str
    nats: LocalProcess


def delete_keys(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` in the Redis at ``url``."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        for batch in _batches(client.scan_iter(match=f"{prefix}:*", count=1000), 1000):
            client.delete(*batch)
    finally:
        client.close()


def _batches(keys: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def key_prefix() -> str:
    """A Redis key prefix of its own for one benchmarked system, under this run's :data:`RUN_PREFIX`."""
    return f"{RUN_PREFIX}:{uuid.uuid4().hex[:8]}"


@contextmanager
def backends(workdir: Path) -> Iterator[Backends]:
    """A fresh nats-server (temp store, free port); Redis on 127.0.0.1:6379, or a redis-server we start.

    On the machine's Redis, every key under this run's :data:`RUN_PREFIX` is deleted at the end.
    """
    with ExitStack() as stack:
        nats = nats_process(workdir / "nats")
        nats.start()
        stack.callback(nats.stop)
        if port_open("127.0.0.1", 6379):
            redis_url = "redis://127.0.0.1:6379/0"
            stack.callback(delete_keys, redis_url, RUN_PREFIX)
        else:
            redis = redis_process(workdir / "redis", port=free_port())
            redis.start()
            stack.callback(redis.stop)
            redis_url = f"redis://127.0.0.1:{redis.port}/0"
        yield Backends(nats_url=f"nats://127.0.0.1:{nats.port}", redis_url=redis_url, nats=nats)


@dataclass
class ReviewerProcess:
    """One ``argoai reviewer`` process and its metrics port."""

    name: str
    process: subprocess.Popen[bytes]
    metrics_port: int

    def metrics(self, client: httpx.Client) -> dict[str, float]:
        """The process's Prometheus samples (unlabelled and labelled names as printed)."""
        text = client.get(f"http://127.0.0.1:{self.metrics_port}/metrics").text
        samples: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples


def start_reviewer(name: str, env: dict[str, str], workdir: Path) -> ReviewerProcess:
    """Start ``argoai reviewer`` with ``env`` and wait until it reports ready."""
    port = free_port()
    log = (workdir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [PYTHON, "-m", "argoai_cli", "reviewer", "--metrics-port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {(workdir / f'{name}.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return ReviewerProcess(name=name, process=process, metrics_port=port)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"{name} did not become ready")
        time.sleep(0.1)


def stop_reviewer(reviewer: ReviewerProcess) -> None:
    """SIGTERM and wait (SIGKILL after 10 s)."""
    _stop(reviewer.process)
