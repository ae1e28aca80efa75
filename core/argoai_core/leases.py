"""Keeping a lease alive while a block of work runs: the one renewal loop of every lock ArgoAI holds.

A lease (a Redis key with a TTL and an owner token) is renewed every third of its life while its holder
works, so a pod that dies frees it soon. The loop is stopped by an event as well as by cancelling it: a
client library that swallows a cancellation (redis-py's pool wait under ``asyncio.timeout`` on Python 3.11
can turn one into a timeout, which the loop then reports as a failed renewal) would otherwise keep the loop,
and the holder awaiting its end, running forever. The reviewer benchmark hung on exactly that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger

log = get_logger(__name__)


@asynccontextmanager
async def kept_alive(
    extend: Callable[[], Awaitable[bool]], every: float, *, what: str
) -> AsyncIterator[None]:
    """Call ``extend`` every ``every`` seconds until the block ends.

    ``extend`` returns False when the lease is no longer ours (the loop stops: the holder's own checks,
    such as fencing, notice it) and raises :class:`UnavailableError` when the store did not answer (the next
    renewal may get through). ``what`` names the lease in the log ("this head's lock").
    """
    stopped = asyncio.Event()

    async def renew() -> None:
        while not stopped.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), every)
                return
            try:
                if not await extend():
                    log.warning("lost a lease while holding it", lease=what)
                    return
            except UnavailableError as exc:
                log.warning("could not renew a lease", lease=what, error=str(exc))

    task = asyncio.create_task(renew(), name=f"renew {what}")
    try:
        yield
    finally:
        stopped.set()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
