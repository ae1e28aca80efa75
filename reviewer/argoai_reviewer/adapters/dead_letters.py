"""The dead-letter stream on JetStream, for ``argoai dlq`` and ``argoai api``: read every letter (an
ephemeral consumer that acknowledges nothing, so reading changes nothing), read one by sequence, delete one,
and publish a replayed job or webhook.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from argoai_core.errors import UnavailableError
from argoai_core.streams import StreamNames
from argoai_reviewer.audit.dead_letters import StoredLetter

PUBLISH_TIMEOUT_SECONDS = 5.0
BATCH = 500


@asynccontextmanager
async def _unavailable(what: str) -> AsyncIterator[None]:
    try:
        yield
    except (nats.errors.Error, TimeoutError) as exc:
        raise UnavailableError(f"NATS: {what} failed: {type(exc).__name__}: {exc}", delay=2.0) from exc


def _time(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


class JetStreamDeadLetters:
    """:class:`~argoai_reviewer.audit.dead_letters.DeadLetterStream` on JetStream."""

    def __init__(self, js: JetStreamContext, names: StreamNames) -> None:
        self._js = js
        self._names = names

    async def letters(self) -> list[StoredLetter]:
        """Every letter, oldest first."""
        stream = self._names.dead_letter_stream
        async with _unavailable("reading the dead letters"):
            try:
                info = await self._js.stream_info(stream)
            except NotFoundError:
                return []
            if info.state.messages == 0:
                return []
            last = int(info.state.last_seq)
            subscription = await self._js.pull_subscribe(
                self._names.dead_letter_subjects,
                stream=stream,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, inactive_threshold=30.0
                ),
            )
            letters: list[StoredLetter] = []
            try:
                while not letters or letters[-1].sequence < last:
                    try:
                        messages = await subscription.fetch(batch=BATCH, timeout=2.0)
                    except TimeoutError:
                        break
                    for msg in messages:
                        meta = msg.metadata
                        letters.append(
                            StoredLetter(meta.sequence.stream, _time(meta.timestamp), bytes(msg.data))
                        )
            finally:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.unsubscribe()
        return [letter for letter in letters if letter.sequence <= last]

    async def letter(self, sequence: int) -> StoredLetter | None:
        """Letter ``sequence``, or None."""
        async with _unavailable("reading a dead letter"):
            try:
                stored = await self._js.get_msg(self._names.dead_letter_stream, sequence)
            except NotFoundError:
                return None
        return StoredLetter(sequence, _time(getattr(stored, "time", None)), bytes(stored.data or b""))

    async def delete(self, sequence: int) -> None:
        """Remove letter ``sequence`` (nothing when it is gone)."""
        async with _unavailable("deleting a dead letter"):
            with contextlib.suppress(NotFoundError):
                await self._js.delete_msg(self._names.dead_letter_stream, sequence)

    async def publish(self, stream: str, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """Publish ``data`` on ``subject`` of ``stream``, waiting for its acknowledgement."""
        async with _unavailable(f"publishing to {stream}"):
            await self._js.publish(
                subject, data, timeout=PUBLISH_TIMEOUT_SECONDS, stream=stream, headers=headers
            )
