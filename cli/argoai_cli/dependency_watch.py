"""Watch one dependency (Redis) of a long-running process and say when it goes away and comes back.

While the dependency is down the watch logs one warning naming it (URL without credentials), repeats it
with a growing interval (2, 4, 8 … 60 s) so that a long outage stays visible without flooding the log, and
logs one line when it answers again. The work itself is not gated on it: every component already fails
and retries its own calls; this only makes the state visible.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from argoai_core.logs import get_logger

log = get_logger(__name__)

Check = Callable[[], Awaitable[object]]


class DependencyWatch:
    """Check a dependency every ``interval`` seconds until the stop event is set (a dev component)."""

    def __init__(
        self,
        dependency: str,
        url: str,
        check: Check,
        *,
        interval: float = 2.0,
        timeout: float = 2.0,
        max_repeat: float = 60.0,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.name = f"{dependency}-watch"
        self._dependency = dependency
        self._url = url
        self._check = check
        self._interval = interval
        self._timeout = timeout
        self._max_repeat = max_repeat
        self._close = close

    async def _failure(self) -> str | None:
        """Why the dependency failed its check now, or None when it answered."""
        try:
            await asyncio.wait_for(self._check(), self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except Exception as exc:  # noqa: BLE001 - the watch's top-level loop: any failure means "down"
            return f"{type(exc).__name__}: {exc}"
        return None

    async def run(self, stop: asyncio.Event) -> None:
        """Check until ``stop`` is set, logging each change of state (and repeating "down", backing off)."""
        try:
            await self._watch(stop)
        finally:
            if self._close is not None:
                await self._close()

    async def _watch(self, stop: asyncio.Event) -> None:
        down_since: float | None = None
        repeat = self._interval
        next_warning = 0.0
        while not stop.is_set():
            failure = await self._failure()
            now = time.monotonic()
            if failure is None and down_since is not None:
                log.info(
                    "dependency_available",
                    dependency=self._dependency,
                    url=self._url,
                    down_seconds=round(now - down_since, 1),
                )
                down_since = None
            elif failure is not None and (down_since is None or now >= next_warning):
                if down_since is None:
                    down_since, repeat = now, self._interval
                log.warning(
                    "dependency_unavailable",
                    dependency=self._dependency,
                    url=self._url,
                    error=failure,
                    down_seconds=round(now - down_since, 1),
                )
                next_warning = now + repeat
                repeat = min(repeat * 2, self._max_repeat)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
