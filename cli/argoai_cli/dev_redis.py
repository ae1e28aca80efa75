"""Which Redis ``argoai dev``'s reviewer uses: the one at ``ARGOAI_REDIS_URL`` when it accepts connections,
otherwise a local redis-server on a free port keeping its append-only file under the state directory."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from argoai_cli.local_services import LocalProcess, ServiceError, port_open, redis_process


@dataclass(frozen=True)
class RedisChoice:
    """The Redis the reviewer uses: its URL, the line of the banner, and the server dev started (if any)."""

    url: str
    banner: str
    local: LocalProcess | None = None


def redis_answers(url: str) -> bool:
    """Whether the Redis of ``url`` accepts connections (TCP, or a unix socket)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(0.3)
            try:
                sock.connect(parts.path)
            except OSError:
                return False
            return True
    return port_open(parts.hostname or "127.0.0.1", parts.port or 6379)


def redis_printable(url: str) -> str:
    """``url`` without a user or password, fit to print."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def choose_redis(url: str, state_dir: Path, say: Callable[[str], None]) -> RedisChoice:
    """The Redis at ``url`` when it answers, else a local redis-server; ServiceError when neither exists."""
    printable = redis_printable(url)
    if redis_answers(url):
        say(f"using Redis at {printable}")
        return RedisChoice(url=url, banner=f"{printable} (external)")
    workdir = state_dir / "redis"
    try:
        local = redis_process(workdir, persistent=True)
        # A session of its own: a terminal's Ctrl-C reaches only dev, which stops it after the reviewer.
        local.detach = True
        local.start()
    except ServiceError as exc:
        raise ServiceError(f"no Redis answers at {printable}, and {exc}") from None
    except OSError as exc:
        raise ServiceError(f"no Redis answers at {printable}, and {exc.strerror or exc}") from None
    local_url = f"redis://127.0.0.1:{local.port}/0"
    say(f"no Redis answers at {printable}: started a local redis-server at {local_url}")
    return RedisChoice(
        url=local_url, banner=f"{local_url} (local redis-server, data in {workdir})", local=local
    )
