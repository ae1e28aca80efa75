"""Run the real ArgoAI processes (``argoai gateway``, ``argoai reviewer``) against real NATS and Redis and the
fake GitHub and LLM, for end-to-end and fault tests.

The fakes run in the test process (threads) and are reached by URL, as the real services would be; each
:class:`ArgoSystem` uses a NATS prefix and a Redis key prefix of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from argoai_cli.local_services import free_port, port_open
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM
from support.isolation import delete_keys, key_prefix
from support.webhooks import delivery_headers, load_payload

WEBHOOK_SECRET = "e2e-webhook-secret-0123456789"
LLM_KEY = "e2e-llm-key"
OWNER, REPO = "octo-org", "hello"


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def pull_request_payload(
    action: str,
    *,
    number: int,
    head: str,
    base: str,
    installation_id: int,
    before: str | None = None,
    draft: bool = False,
    owner: str = OWNER,
    repo: str = REPO,
) -> dict[str, Any]:
    """A real ``pull_request`` payload (from the fixtures) pointed at the fake GitHub's repository."""
    payload = load_payload("pull_request.opened")
    payload["action"] = action
    payload["number"] = number
    payload["installation"] = {"id": installation_id}
    pr = payload["pull_request"]
    pr.update(number=number, draft=draft, state="open", title="Add an average helper", body="Please review.")
    pr["head"]["sha"] = head
    pr["base"]["sha"] = base
    pr["base"]["ref"] = "main"
    pr["user"] = {**pr["user"], "login": "octocat", "type": "User"}
    payload["repository"] = {
        **payload["repository"], "name": repo, "full_name": f"{owner}/{repo}",
        "owner": {**payload["repository"]["owner"], "login": owner},
    }  # fmt: skip
    if before is not None:
        payload["before"], payload["after"] = before, head
    return payload


@dataclass
class ArgoSystem:
    """One ArgoAI installation made of real processes, with its own NATS and Redis prefixes."""

    fake_github: FakeGitHub
    fake_llm: FakeLLM
    nats_url: str
    redis_url: str
    workdir: Path
    installation_id: int
    private_key: str
    app_id: int
    prefix: str = field(default_factory=lambda: f"E{uuid.uuid4().hex[:10].upper()}")
    redis_prefix: str = field(default_factory=lambda: key_prefix("e2e"))
    gateway_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    webhook_secret: str = WEBHOOK_SECRET
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of an ArgoAI process of this system."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "ARGOAI_LOG_LEVEL": "DEBUG",
            "ARGOAI_GITHUB_API_URL": self.fake_github.url,
            "ARGOAI_GITHUB_APP_ID": str(self.app_id),
            "ARGOAI_GITHUB_PRIVATE_KEY": self.private_key,
            "ARGOAI_GITHUB_WEBHOOK_SECRET": self.webhook_secret,
            "ARGOAI_LLM_PROVIDER": "openai",
            "ARGOAI_LLM_BASE_URL": self.fake_llm.openai_base_url,
            "ARGOAI_LLM_API_KEY": LLM_KEY,
            "ARGOAI_LLM_MODEL": "gpt-4o-mini",
            "ARGOAI_NATS_URL": self.nats_url,
            "ARGOAI_NATS_PREFIX": self.prefix,
            "ARGOAI_REDIS_URL": self.redis_url,
            "ARGOAI_REDIS_KEY_PREFIX": self.redis_prefix,
            "ARGOAI_REVIEWER_ACK_WAIT_SECONDS": "5",
            "ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS": "5",
            # The fake GitHub has no secondary limits unless a test sets one: no 1 s pause between writes.
            "ARGOAI_REVIEWER_GITHUB_WRITE_SPACING_SECONDS": "0.02",
            # Inside the test's directory: a reviewer killed with SIGKILL leaves nothing behind in /tmp.
            "ARGOAI_REVIEWER_SNAPSHOT_DIR": str(self.workdir / "snapshots"),
            # JetStream reserves a stream's max_bytes on disk: the default 10 GiB history stream of every
            # system sharing the session's nats-server would exhaust its store after a few tests.
            "ARGOAI_HISTORY_MAX_BYTES": str(64 * 1024 * 1024),
        }
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def log_path(self, name: str) -> Path:
        """Where process ``name`` writes its output."""
        return self.workdir / f"{name}.log"

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start ``argoai <args>`` as process ``name`` (output appended to its log)."""
        with self.log_path(name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "argoai_cli", *args], stdout=log, stderr=subprocess.STDOUT,
                env=self.env(**env),
            )  # fmt: skip
        self.processes[name] = process
        return process

    def start_gateway(self) -> None:
        """Start ``argoai gateway`` and wait until it is ready."""
        self.start("gateway", "gateway", "--host", "127.0.0.1", "--port", str(self.gateway_port))
        wait_until(self._gateway_ready, 30, "the gateway to be ready")

    def _gateway_ready(self) -> bool:
        if not port_open("127.0.0.1", self.gateway_port):
            return False
        return httpx.get(f"{self.gateway_url}/readyz", timeout=2).status_code == 200

    def start_reviewer(self, name: str = "reviewer", **env: str) -> int:
        """Start ``argoai reviewer`` and wait until it is ready; returns its metrics port."""
        port = free_port()
        self.start(name, "reviewer", "--metrics-port", str(port), **env)

        def ready() -> bool:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"{name} exited: {self.log_path(name).read_text()[-3000:]}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 30, f"{name} to be ready")
        self.metrics_ports[name] = port
        return port

    def stop(self, name: str, *, kill: bool = False) -> None:
        """Stop process ``name`` (SIGTERM and wait, or SIGKILL)."""
        process = self.processes.pop(name)
        if kill:
            process.kill()
        else:
            process.terminate()
        process.wait(timeout=60)

    def stop_all(self) -> None:
        """Stop every process still running."""
        for name in list(self.processes):
            self.stop(name, kill=True)

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.gateway_port}"

    def send(self, event: str, payload: dict[str, Any], *, delivery: str | None = None) -> httpx.Response:
        """Deliver a correctly signed webhook to the gateway, as GitHub does."""
        body = json.dumps(payload).encode()
        headers = delivery_headers(event, body, self.webhook_secret, delivery=delivery)
        return httpx.post(f"{self.gateway_url}/webhooks/github", content=body, headers=headers, timeout=10)

    def metrics(self, name: str = "reviewer") -> str:
        """The Prometheus text exposition of reviewer ``name`` (started with :meth:`start_reviewer`)."""
        return httpx.get(f"http://127.0.0.1:{self.metrics_ports[name]}/metrics", timeout=5).text

    def logs(self) -> str:
        """Everything the processes of this system wrote."""
        return "".join(path.read_text(errors="replace") for path in sorted(self.workdir.glob("*.log")))


@contextmanager
def argo_system(
    fake_github: FakeGitHub,
    fake_llm: FakeLLM,
    nats_url: str | Sequence[str],
    redis_url: str,
    workdir: Path,
) -> Iterator[ArgoSystem]:
    """An :class:`ArgoSystem` whose processes are stopped when the block ends; ``nats_url`` may list the
    servers of a cluster (passed on as ARGOAI_NATS_URL, comma-separated)."""
    app = fake_github.install_app()
    system = ArgoSystem(
        fake_github=fake_github,
        fake_llm=fake_llm,
        nats_url=nats_url if isinstance(nats_url, str) else ",".join(nats_url),
        redis_url=redis_url,
        workdir=workdir,
        installation_id=app.installation_id,
        private_key=app.key.pkcs1,
        app_id=app.app_id,
    )
    try:
        yield system
    finally:
        system.stop_all()
        # The review state, locks and token cache the processes wrote (the leak guard checks).
        delete_keys(system.redis_url, system.redis_prefix)
