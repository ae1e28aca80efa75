"""Start-up checks of ``argoai dev``'s flags, made before anything starts or the banner is printed.

A bad ``--state-dir`` or a port that cannot be bound is one ConfigError line naming the flag (exit 2),
rather than a traceback or a "running" banner followed by a failure.
"""

from __future__ import annotations

import os
import socket
import tempfile
from contextlib import ExitStack
from pathlib import Path

from argoai_core.errors import ConfigError


def usable_state_dir(path: Path) -> Path:
    """``path`` created when missing; ConfigError naming ``--state-dir`` unless it is a writable directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"--state-dir {path}: exists and is not a directory") from None
    except OSError as exc:
        raise ConfigError(f"--state-dir {path}: cannot create it: {exc.strerror or exc}") from None
    if not path.is_dir():
        raise ConfigError(f"--state-dir {path}: is not a directory")
    try:
        # A real write, not os.access: root passes access checks on a read-only file system too.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(f"--state-dir {path}: cannot write in it: {exc.strerror or exc}") from None
    return path


def _bind(host: str, port: int) -> socket.socket:
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return socket.create_server(address[:2], family=family)


def check_ports(host: str, ports: dict[str, int]) -> None:
    """Bind every ``flag → port`` on ``host`` at once (so two flags on one port are caught), then release
    them; ConfigError naming the flag whose port cannot be bound (taken, privileged, unknown host)."""
    with ExitStack() as bound:
        for flag, port in ports.items():
            try:
                bound.enter_context(_bind(host, port))
            except socket.gaierror as exc:
                raise ConfigError(f"--host {host}: cannot listen there: {exc.strerror or exc}") from None
            except OSError as exc:
                taken = f" (used by {_flag_of(ports, port, flag)})" if _flag_of(ports, port, flag) else ""
                # create_server folds the address into strerror: the errno's own text is shorter.
                why = os.strerror(exc.errno) if exc.errno else str(exc)
                raise ConfigError(f"{flag} {port}: cannot listen on {host}:{port}: {why}{taken}") from None


def _flag_of(ports: dict[str, int], port: int, other_than: str) -> str:
    """The flag given the same ``port`` before ``other_than``, if any."""
    for flag, value in ports.items():
        if flag == other_than:
            return ""
        if value == port:
            return flag
    return ""
