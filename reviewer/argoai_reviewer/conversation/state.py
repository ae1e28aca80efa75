"""One pull request's conversation as the jobs share it: its record, the turn to change it, the summary.

Reviews of several heads and commands (``pause``, ``dismiss``, ``summary``…) of one pull request may run at
the same time on different pods. Whatever reads the record, writes to GitHub from it and saves it does so in
the pull request's *turn*: a Redis lease per pull request (owner token, renewed while held), so two jobs never
overwrite each other's changes or create two summary comments. A job that cannot get the turn within
``turn_wait_seconds`` is retried later.

The record comes from Redis; when Redis has none (a new pull request, or the state was lost) it is rebuilt
from the summary comment's hidden metadata on GitHub.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from argoai_core.errors import RetryableError, UnavailableError
from argoai_core.leases import kept_alive
from argoai_core.logs import get_logger
from argoai_core.models.job import RepoRef
from argoai_reviewer.conversation.ports import ConversationGitHub, PullRequestRecords, ReviewLock
from argoai_reviewer.conversation.record import PullRequestRecord, load_record, save_record
from argoai_reviewer.conversation.summary.comment import (
    SummaryComments,
    SummaryInputs,
    record_from_comment,
    render_summary,
)
from argoai_reviewer.domain import ChangedFile

log = get_logger(__name__)


@dataclass(frozen=True)
class TurnOptions:
    """How long a pull request's turn is leased, and how long a job waits for it."""

    ttl_seconds: float = 120.0
    wait_seconds: float = 30.0


class Conversation:
    """The shared state of pull requests' conversations (see the module docstring)."""

    def __init__(
        self,
        records: PullRequestRecords,
        lock: ReviewLock,
        summaries: SummaryComments,
        *,
        bot_name: str,
        turn: TurnOptions | None = None,
    ) -> None:
        self._records = records
        self._lock = lock
        self.summaries = summaries
        self.bot_name = bot_name
        self._turn = turn or TurnOptions()

    async def stored(self, pr_key: str) -> PullRequestRecord | None:
        """The record in Redis (no GitHub call), or None."""
        return await load_record(self._records, pr_key)

    async def record(
        self, gh: ConversationGitHub, repo: RepoRef, number: int, pr_key: str
    ) -> PullRequestRecord:
        """The record of the pull request: from Redis, else rebuilt from its summary comment (or new)."""
        stored = await load_record(self._records, pr_key)
        if stored is not None:
            return stored
        found = await self.summaries.find(gh, repo, number)
        record = record_from_comment(found) if found is not None else PullRequestRecord()
        record.searched = True
        return record

    async def save(self, pr_key: str, record: PullRequestRecord) -> None:
        """Store the record."""
        await save_record(self._records, pr_key, record)

    async def expire(self, pr_key: str, seconds: float) -> None:
        """Let the pull request's state expire (it was closed)."""
        await self._records.expire(pr_key, seconds)

    async def publish(
        self,
        gh: ConversationGitHub,
        repo: RepoRef,
        number: int,
        record: PullRequestRecord,
        files: Sequence[ChangedFile],
    ) -> None:
        """Render the summary for ``record`` and edit (or create) the comment."""
        body = render_summary(record, SummaryInputs(files=files, bot_handle=self.bot_name))
        await self.summaries.publish(gh, repo, number, record, body)

    @asynccontextmanager
    async def turn(self, pr_key: str) -> AsyncIterator[None]:
        """Hold the pull request's turn for the block (RetryableError when another job keeps it too long)."""
        key = f"turn:{pr_key}"
        ttl = self._turn.ttl_seconds
        deadline = time.monotonic() + self._turn.wait_seconds
        pause = 0.05
        while (token := await self._lock.acquire(key, ttl)) is None:
            if time.monotonic() >= deadline:
                raise RetryableError("another job is updating this pull request's conversation", delay=5.0)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

        try:
            async with kept_alive(
                lambda: self._lock.extend(key, token, ttl), ttl / 3, what=f"the turn of {pr_key}"
            ):
                yield
        finally:
            try:
                await self._lock.release(key, token)
            except UnavailableError as exc:
                log.warning("could not release a pull request's turn; it expires by itself", error=str(exc))
