"""Entrypoint of ``argoai reviewer``: read settings once, then run the reviewer until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from argoai_core.logs import configure_logging
from argoai_core.telemetry import configure_tracing
from argoai_reviewer.runtime.process import Reviewer
from argoai_reviewer.settings import ReviewerConfig
from argoai_reviewer.wiring import assembler


def run(*, metrics_port: int | None = None) -> None:
    """Run the production reviewer (``wiring.assembler``) until SIGTERM or SIGINT."""
    config = ReviewerConfig.load(**({} if metrics_port is None else {"metrics_port": metrics_port}))
    configure_logging(config.common.log_level)
    configure_tracing("argoai-reviewer")
    asyncio.run(_serve(Reviewer(config, assembler())))


async def _serve(reviewer: Reviewer) -> None:
    with _stop_on_signals(reviewer.stop):
        await reviewer.serve()


@contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` on SIGTERM (Kubernetes) and SIGINT (Ctrl-C) instead of dying mid-review."""
    loop = asyncio.get_running_loop()
    handled = (signal.SIGTERM, signal.SIGINT)
    for sig in handled:
        loop.add_signal_handler(sig, stop)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
