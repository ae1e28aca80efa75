"""Ask a NATS server who it is: its version (from the INFO it sends on connect) and whether JetStream is on.

``argoai dev`` uses this before choosing a NATS: whatever answers on a URL is not necessarily a server
ArgoAI can work with (Debian's nats-server is 2.9, and another program may listen on 4222).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nats
import nats.errors
from nats.aio.client import Client
from nats.js.errors import APIError


@dataclass(frozen=True)
class NatsServer:
    """What a NATS server said about itself."""

    version: str  # as the server reports it, e.g. "2.15.1"
    release: tuple[int, int, int]  # (major, minor, patch)
    jetstream: bool  # JetStream is enabled for the account we connected as


@dataclass(frozen=True)
class Unreachable:
    """No NATS server could be talked to, and why (one short phrase)."""

    reason: str


async def _quiet(*_: object) -> None:
    return None


async def _jetstream_enabled(nc: Client, wait_seconds: float) -> bool:
    try:
        await nc.jetstream(timeout=wait_seconds).account_info()
    except (APIError, nats.errors.Error, TimeoutError):
        return False
    return True


async def describe(servers: list[str], wait_seconds: float) -> NatsServer | Unreachable:
    """Connect once (no reconnects) to one of ``servers``, read its version, check JetStream, disconnect."""
    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=servers,
                name="argoai-dev-probe",
                connect_timeout=wait_seconds,
                allow_reconnect=False,
                # nats-py retries the first connection even without reconnects, forever when this is 0:
                # one retry, soon, then give up.
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,  # seconds (annotated int, used as a float)
                error_cb=_quiet,
                disconnected_cb=_quiet,
                closed_cb=_quiet,
            ),
            timeout=wait_seconds * 2,
        )
    except TimeoutError:
        return Unreachable(f"no answer within {wait_seconds:g} s")
    except (nats.errors.Error, OSError) as exc:
        return Unreachable(_reason(exc))
    try:
        version = nc.connected_server_version
        release = (version.major or 0, version.minor or 0, version.patch or 0)
        return NatsServer(
            version=".".join(map(str, release)) + (f"-{version.prerelease}" if version.prerelease else ""),
            release=release,
            jetstream=await _jetstream_enabled(nc, wait_seconds),
        )
    finally:
        await nc.close()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, nats.errors.NoServersError):
        return "connection refused"
    text = str(exc).strip() or type(exc).__name__
    return text.removeprefix("nats: ")
