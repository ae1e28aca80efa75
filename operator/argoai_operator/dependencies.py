"""Watching one dependency (NATS, the Kubernetes API): probe it, say when it goes down and when it is back.

While a dependency is down the operator is not ready (``/readyz`` answers 503) and the log says so: one
warning naming it (its URL without credentials) and why, repeated with a growing interval while it stays
down, and one line when it answers again. Probing never stops the process: it only reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from structlog.typing import FilteringBoundLogger

from argoai_core.logs import get_logger

log = get_logger(__name__)

# Awaits one check; raises (any exception, its message is the reason) when the dependency is unusable.
Probe = Callable[[], Awaitable[None]]


def without_credentials(url: str) -> str:
    """``url`` (or a comma-separated list of URLs) without user, password or token: fit to print."""
    printable = []
    for server in url.split(","):
        parts = urlsplit(server.strip())
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        printable.append(f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}")
    return ",".join(printable)


def describe(exc: BaseException) -> str:
    """A one-line reason for a failed probe."""
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    return f"{name}: {text}" if text and text != name else name


class Dependency:
    """Probes ``probe`` every ``interval`` seconds and tracks whether the dependency is available."""

    def __init__(
        self,
        name: str,
        target: str,
        probe: Probe,
        *,
        interval: float = 2.0,
        timeout: float = 3.0,
        first_repeat: float = 10.0,
        max_repeat: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        logger: FilteringBoundLogger = log,
    ) -> None:
        self.name = name
        self.target = target
        self._probe = probe
        self._interval = interval
        self._timeout = timeout
        self._first_repeat = first_repeat
        self._max_repeat = max_repeat
        self._clock = clock
        self._log = logger
        self._available = False
        self._checked = False
        self._down_since: float | None = None
        self._next_warning = 0.0
        self._repeat = first_repeat
        self.reason = "not checked yet"

    @property
    def available(self) -> bool:
        """Whether the last probe succeeded (False before the first one)."""
        return self._available

    async def check(self) -> bool:
        """Probe once, log a change (or a repeated warning), and return whether it is available."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._probe()
        except asyncio.CancelledError:
            raise
        except TimeoutError:
            self._failed(f"no answer within {self._timeout:g}s")
        except Exception as exc:  # noqa: BLE001 - a probe's failure of any kind means "unavailable"
            self._failed(describe(exc))
        else:
            self._succeeded()
        self._checked = True
        return self._available

    async def run(self) -> None:
        """Probe forever (until cancelled)."""
        while True:
            await self.check()
            await asyncio.sleep(self._interval)

    def _succeeded(self) -> None:
        now = self._clock()
        if self._down_since is not None:
            self._log.info(
                f"{self.name} available again",
                target=self.target,
                down_seconds=round(now - self._down_since, 1),
            )
        elif not self._checked:
            self._log.info(f"{self.name} available", target=self.target)
        self._available, self._down_since, self.reason = True, None, "available"
        self._repeat = self._first_repeat

    def _failed(self, reason: str) -> None:
        now = self._clock()
        self._available, self.reason = False, reason
        if self._down_since is None:
            self._down_since = now
            self._next_warning = now + self._repeat
            self._log.warning(f"{self.name} unavailable", target=self.target, error=reason)
        elif now >= self._next_warning:
            self._repeat = min(self._repeat * 2, self._max_repeat)
            self._next_warning = now + self._repeat
            self._log.warning(
                f"{self.name} still unavailable",
                target=self.target,
                error=reason,
                down_seconds=round(now - self._down_since, 1),
            )
