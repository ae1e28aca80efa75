"""Run a one-shot job until it ends or the process is told to stop (SIGTERM from Kubernetes, Ctrl-C).

A signal cancels the job at once: whatever it was waiting for (a GitHub request that hangs, a Redis that
does not answer), its clean-up (releasing its lock, closing connections) runs and the process exits. A
second signal cancels the clean-up too.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class StoppedBySignalError(Exception):
    """The job was cancelled because the process received ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def _until_signalled(job: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(job)
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if received:
            raise StoppedBySignalError(received[0]) from None
        raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def run_until_signalled(job: Coroutine[Any, Any, T]) -> T:
    """Run ``job`` in a new event loop; StoppedBySignalError when SIGINT or SIGTERM cut it short."""
    return asyncio.run(_until_signalled(job))
