"""Bringing the query store up to date with the history stream: read from the sequence after the last one
applied to the stream's current end, a batch per transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger
from argoai_reviewer.audit.store import HistoryStore

log = get_logger(__name__)


class StoredMessage(Protocol):
    """One message of the history stream."""

    @property
    def sequence(self) -> int:
        """Its stream sequence."""
        ...

    @property
    def data(self) -> bytes:
        """Its body."""
        ...


class HistorySource(Protocol):
    """The history stream, as the query store reads it."""

    async def last_sequence(self) -> int:
        """The stream's last sequence (0: empty)."""
        ...

    def read_from(self, sequence: int, until: int) -> AsyncIterator[Sequence[StoredMessage]]:
        """Batches of the messages from ``sequence`` to ``until``, in order."""
        ...


async def catch_up(store: HistoryStore, source: HistorySource) -> int:
    """Apply every record the stream holds beyond the store's last applied sequence; the records stored.

    Reading and writing overlap: the next batch is fetched while the previous one is written (in a thread).
    """
    start = await asyncio.to_thread(store.last_applied)
    end = await source.last_sequence()
    stored = 0
    writing: asyncio.Task[int] | None = None
    try:
        async for batch in source.read_from(start + 1, end):
            pairs = [(message.sequence, message.data) for message in batch]
            if writing is not None:
                stored += await writing
            writing = asyncio.create_task(asyncio.to_thread(store.apply, pairs))
        if writing is not None:
            stored += await writing
            writing = None
    finally:
        if writing is not None:
            # Let the batch being written finish (it is one transaction either way).
            await asyncio.wait({writing})
    return stored


async def follow(store: HistoryStore, source: HistorySource, interval: float, ready: asyncio.Event) -> None:
    """Catch up every ``interval`` seconds, forever; ``ready`` is set after the first complete catch-up."""
    while True:
        try:
            stored = await catch_up(store, source)
            if stored:
                log.info("history store caught up", records=stored)
            ready.set()
        except UnavailableError as exc:
            log.warning("could not read the history stream; retrying", error=str(exc))
        await asyncio.sleep(interval)
