"""The audit history on JetStream: its stream (file storage, the installation's replicas, retention by age and
size from ``ARGOAI_HISTORY_*``), publishing records without ever holding up a review, and reading them back
by sequence for the query store.

Publishing is fire-and-forget for the caller: :meth:`HistoryPublisher.record` schedules the publish and
returns at once; a publish that fails or times out is logged and counted
(``argoai_history_publish_failures_total``), and the review goes on. ``Nats-Msg-Id`` is the record's id, so
a record published twice (a retried settlement) is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from prometheus_client import Counter

from argoai_core.adapters.jetstream import DUPLICATE_WINDOW_SECONDS, declared_replicas, ensure_stream
from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger
from argoai_core.models.history import HistoryRecord
from argoai_core.settings import HistorySettings
from argoai_core.streams import StreamNames

log = get_logger(__name__)

HISTORY_PUBLISHED = Counter(
    "argoai_history_records_total", "Audit history records published, by outcome", ["outcome"]
)
HISTORY_PUBLISH_FAILURES = Counter(
    "argoai_history_publish_failures_total",
    "Audit history records that could not be published (the review went on; the record is lost)",
)
# Records read per fetch when catching up.
READ_BATCH = 2000


def history_stream_config(
    names: StreamNames, settings: HistorySettings, replicas: int | None
) -> StreamConfig:
    """The history stream: file storage, ``replicas`` copies, records kept by age and total size."""
    return StreamConfig(
        name=names.history_stream,
        subjects=[names.history_subject],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_age=settings.max_age_days * 86_400,
        max_bytes=settings.max_bytes,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
    )


async def ensure_history_stream(js: JetStreamContext, names: StreamNames, settings: HistorySettings) -> None:
    """Create the history stream, or bring it to the settings (and ARGOAI_NATS_REPLICAS); every pod may."""
    await ensure_stream(js, history_stream_config(names, settings, declared_replicas(js)))


class HistoryPublisher:
    """Publishes history records in the background: :meth:`record` never blocks and never raises."""

    def __init__(self, js: JetStreamContext, names: StreamNames, settings: HistorySettings) -> None:
        self._js = js
        self._names = names
        self._timeout = settings.publish_timeout_seconds
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, record: HistoryRecord) -> None:
        """Publish ``record`` soon; a failure is logged and counted, never raised."""
        task = asyncio.get_running_loop().create_task(self._publish(record))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def publish(self, record: HistoryRecord) -> None:
        """Publish ``record`` and wait for the stream; UnavailableError when it did not take it."""
        try:
            await self._js.publish(
                self._names.history_subject,
                record.model_dump_json(exclude_none=True).encode(),
                timeout=self._timeout,
                stream=self._names.history_stream,
                headers={"Nats-Msg-Id": record.id},
            )
        except (nats.errors.Error, TimeoutError) as exc:
            raise UnavailableError(f"NATS: publishing a history record failed: {type(exc).__name__}") from exc
        HISTORY_PUBLISHED.labels(outcome=record.outcome).inc()

    async def _publish(self, record: HistoryRecord) -> None:
        try:
            await self.publish(record)
        except UnavailableError as exc:
            HISTORY_PUBLISH_FAILURES.inc()
            log.warning(
                "history record not published", record=record.id, outcome=record.outcome, error=str(exc)
            )

    async def flush(self) -> None:
        """Wait (at most the publish timeout) for the records still being published (at shutdown)."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=self._timeout)


@dataclass(frozen=True)
class StoredRecord:
    """One message of the history stream: its sequence and its (undecoded) body."""

    sequence: int
    data: bytes


class HistoryReader:
    """Reads the history stream in order from a sequence (an ephemeral consumer, nothing left behind)."""

    def __init__(self, js: JetStreamContext, names: StreamNames) -> None:
        self._js = js
        self._names = names

    async def last_sequence(self) -> int:
        """The stream's last sequence (0 when empty or missing)."""
        try:
            info = await self._js.stream_info(self._names.history_stream)
        except NotFoundError:
            return 0
        except nats.errors.Error as exc:
            raise UnavailableError(f"NATS: reading the history stream failed: {type(exc).__name__}") from exc
        return int(info.state.last_seq)

    async def read_from(self, sequence: int, until: int) -> AsyncIterator[list[StoredRecord]]:
        """Batches of the records with sequence in [``sequence``, ``until``], in order."""
        if until < sequence:
            return
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=sequence,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=60.0,
            max_ack_pending=-1,
        )
        try:
            subscription = await self._js.pull_subscribe(
                self._names.history_subject, stream=self._names.history_stream, config=config
            )
        except nats.errors.Error as exc:
            raise UnavailableError(f"NATS: reading the history stream failed: {type(exc).__name__}") from exc
        try:
            seen = sequence - 1
            while seen < until:
                try:
                    messages = await subscription.fetch(batch=READ_BATCH, timeout=2.0)
                except TimeoutError:
                    return  # nothing more (records beyond the first ones expired meanwhile)
                batch = [StoredRecord(m.metadata.sequence.stream, bytes(m.data)) for m in messages]
                batch = [r for r in batch if r.sequence <= until]
                if not batch:
                    return
                seen = batch[-1].sequence
                yield batch
        except nats.errors.Error as exc:
            raise UnavailableError(f"NATS: reading the history stream failed: {type(exc).__name__}") from exc
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
