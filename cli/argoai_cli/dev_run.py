"""Run ``argoai dev``'s components in one event loop until SIGINT/SIGTERM, and make sure they stop in time.

Each component gets ``stop_within`` seconds to finish once asked to stop (running reviews get the
reviewer's grace period inside it); one still running then is cancelled, whatever its dependencies do
(a NATS or Redis that does not answer, a GitHub request that hangs). A second Ctrl-C cancels at once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterable
from typing import Protocol

from argoai_core.errors import ConfigError

# How long cancelled components get to unwind before dev gives up on them.
CANCEL_SECONDS = 2.0
CANCEL_REPEAT_SECONDS = 0.25


class Component(Protocol):
    """One long-running part of ArgoAI inside ``argoai dev``."""

    name: str

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then release everything and return."""
        ...


class ComponentsStuckError(Exception):
    """Components that did not end even when cancelled: the process must exit without them."""


async def _wait_all(
    tasks: Iterable[asyncio.Task[None]], seconds: float, hurry: asyncio.Event
) -> set[asyncio.Task[None]]:
    """Wait until every task ends, ``seconds`` pass or ``hurry`` is set; return the tasks still running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    pending = {task for task in tasks if not task.done()}
    hurrying = asyncio.create_task(hurry.wait())
    try:
        while pending and not hurry.is_set() and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait({*pending, hurrying}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            pending = {task for task in pending if not task.done()}
    finally:
        hurrying.cancel()
    return pending


async def _cancel(tasks: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    """Cancel ``tasks`` until they end or CANCEL_SECONDS pass; return those still running.

    Cancelled again every CANCEL_REPEAT_SECONDS: some clean-up code swallows one cancellation (nats-py's
    drain() does, then waits up to 10 s for a frozen server's PONG).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CANCEL_SECONDS
    while tasks and (remaining := deadline - loop.time()) > 0:
        for task in tasks:
            task.cancel()
        _, tasks = await asyncio.wait(tasks, timeout=min(CANCEL_REPEAT_SECONDS, remaining))
    return tasks


async def run_components(parts: list[Component], *, stop_within: float, say: Callable[[str], None]) -> None:
    """Run ``parts`` until SIGINT/SIGTERM or until one of them ends or fails (then the others stop too).

    ConfigError when a component reported one (e.g. its port is taken); ComponentsStuckError when some
    did not end even after being cancelled.
    """
    stop, hurry = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            hurry.set()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    async def run(part: Component) -> None:
        try:
            await part.run(stop)
        finally:
            # One component ending means local ArgoAI is incomplete: stop the others too.
            stop.set()

    tasks = [asyncio.create_task(run(part), name=part.name) for part in parts]
    try:
        await stop.wait()
        pending = await _wait_all(tasks, stop_within, hurry)
        if pending:
            names = ", ".join(sorted(task.get_name() for task in pending))
            why = "stopping at once" if hurry.is_set() else f"did not stop within {stop_within:g} s"
            say(f"{names}: {why}: cancelled")
            stuck = await _cancel(pending)
            if stuck:
                raise ComponentsStuckError(", ".join(sorted(task.get_name() for task in stuck)))
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    failures = [error for task in tasks if not task.cancelled() and (error := task.exception()) is not None]
    # A component's configuration error (e.g. the port is taken) is reported as one line, not a trace.
    for error in failures:
        if isinstance(error, ConfigError):
            raise error
    if failures:
        raise failures[0]
