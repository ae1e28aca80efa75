"""Dead letters you can act on: jobs that failed for good, webhooks the intake gave up on and notifications
no target took, as stored in the dead-letter stream, listed, shown, replayed and purged (``argoai dlq``,
``/api/v1/dead-letters``).

A letter's id is its sequence in the dead-letter stream. Replaying publishes the original job again under a
new message id (so the job stream's deduplication does not drop it), marked ``replay_id`` so the pipeline
reviews it at the pull request's current head; a webhook letter is published again on its webhook subject,
and a notification on its target's subject.
The replayed letter is removed from the stream, and the replay is recorded in the audit history.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from argoai_core.errors import PermanentError
from argoai_core.models.history import HistoryRecord, Subject
from argoai_core.models.job import AnyJob, CommandJob, RepoRef, ReviewJob, parse_job
from argoai_core.models.notification import Notification
from argoai_core.streams import HEADER_DELIVERY, StreamNames


@dataclass(frozen=True)
class StoredLetter:
    """One message of the dead-letter stream."""

    sequence: int
    time: datetime
    data: bytes


class DeadLetterStream(Protocol):
    """The dead-letter stream and the streams a replay publishes to."""

    async def letters(self) -> list[StoredLetter]:
        """Every letter, oldest first."""
        ...

    async def letter(self, sequence: int) -> StoredLetter | None:
        """Letter ``sequence``, or None when there is none."""
        ...

    async def delete(self, sequence: int) -> None:
        """Remove letter ``sequence`` (nothing when it is already gone)."""
        ...

    async def publish(self, stream: str, subject: str, data: bytes, headers: dict[str, str]) -> None:
        """Publish ``data`` on ``subject`` of ``stream``, waiting for the stream's acknowledgement."""
        ...


class Letter(BaseModel):
    """A decoded dead letter (what the reviewer's worker or intake wrote)."""

    model_config = ConfigDict(extra="ignore")

    kind: str = "job"
    reason: str = ""
    error: str = ""
    subject: str = ""
    stream_sequence: int | None = None
    num_delivered: int = 0
    failed_at: str = ""
    job: dict[str, Any] | None = None
    raw: str | None = None
    delivery_id: str = ""
    headers: dict[str, str] = {}
    # A notification that could not be delivered (kind "notification"), as it was published.
    notification: dict[str, Any] | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter with its id (stream sequence), when it was stored, and its decoded job (if any)."""

    id: int
    stored_at: datetime
    letter: Letter
    job: AnyJob | None
    notification: Notification | None = None

    @property
    def job_key(self) -> str:
        """The job's identity (empty for a webhook, a notification or an undecodable job)."""
        return self.job.key if self.job is not None else ""

    @property
    def repo(self) -> str:
        """``owner/name`` of the job's (or notification's) repository (empty when unknown)."""
        if self.job is not None:
            return self.job.repo.full_name
        return self.notification.repository if self.notification is not None else ""

    @property
    def number(self) -> int | None:
        """The job's (or notification's) pull request number."""
        if self.job is not None:
            return self.job.number
        return self.notification.number if self.notification is not None else None

    def summary(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-ready line: id, kind, repository, pull request, reason, age, deliveries."""
        now = now or datetime.now(UTC)
        return {
            "id": self.id,
            "kind": self.letter.kind,
            "repo": self.repo or None,
            "pr": self.number,
            "reason": self.letter.reason,
            "error": self.letter.error,
            "age_seconds": round((now - self.stored_at).total_seconds()),
            "deliveries": self.letter.num_delivered,
            "failed_at": self.letter.failed_at or self.stored_at.isoformat(),
            "job_key": self.job_key or None,
            "delivery_id": self.letter.delivery_id or (self.job.delivery_id if self.job else None),
        }


def decode(stored: StoredLetter) -> DeadLetter:
    """The dead letter in ``stored`` (a damaged one still lists, with its job unknown)."""
    try:
        letter = Letter.model_validate(orjson.loads(stored.data))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        letter = Letter(kind="unreadable", error=str(exc)[:200])
    if letter.notification is not None and letter.kind == "job":
        # Written before notification letters named their kind.
        letter = letter.model_copy(update={"kind": "notification"})
    job: AnyJob | None = None
    if letter.job is not None:
        try:
            job = parse_job(letter.job)
        except ValidationError:
            job = None
    notification: Notification | None = None
    if letter.notification is not None:
        try:
            notification = Notification.model_validate(letter.notification)
        except ValidationError:
            notification = None
    return DeadLetter(stored.sequence, stored.time, letter, job, notification)


@dataclass(frozen=True)
class Replayed:
    """What one replay did."""

    letter: DeadLetter
    message_id: str
    record: HistoryRecord


class DeadLetters:
    """``argoai dlq``'s operations on the dead-letter stream."""

    def __init__(self, stream: DeadLetterStream, names: StreamNames) -> None:
        self._stream = stream
        self._names = names

    async def all(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        return [decode(stored) for stored in await self._stream.letters()]

    async def summaries(self) -> list[dict[str, Any]]:
        """One summary per dead letter, oldest first (the API's list)."""
        now = datetime.now(UTC)
        return [letter.summary(now) for letter in await self.all()]

    async def get(self, letter_id: int) -> DeadLetter:
        """Letter ``letter_id``; PermanentError when there is none."""
        stored = await self._stream.letter(letter_id)
        if stored is None:
            raise PermanentError(f"no dead letter {letter_id}")
        return decode(stored)

    async def failures(self, letter: DeadLetter) -> list[DeadLetter]:
        """Every letter of the same job (each failure's reason and time), oldest first."""
        if not letter.job_key:
            return [letter]
        return [other for other in await self.all() if other.job_key == letter.job_key]

    async def replay(self, letter: DeadLetter, *, actor: str) -> Replayed:
        """Publish ``letter``'s job (or webhook) again under a new message id, then remove the letter."""
        replay_id = f"dlq-{letter.id}-{uuid.uuid4().hex[:12]}"
        if letter.letter.kind == "webhook":
            message_id = await self._replay_webhook(letter, replay_id)
        elif letter.letter.kind == "notification":
            message_id = await self._replay_notification(letter, replay_id)
        else:
            message_id = await self._replay_job(letter, replay_id)
        await self._stream.delete(letter.id)
        job = letter.job
        record = HistoryRecord(
            id=f"replayed-{replay_id}",
            outcome="replayed",
            subject=_subject(letter),
            reason=f"dead letter {letter.id} ({letter.letter.reason}) replayed as {message_id}",
            repo=job.repo if job is not None else _notified_repo(letter.notification),
            number=letter.number,
            head_sha=job.head_sha if isinstance(job, ReviewJob) else None,
            job_key=letter.job_key,
            delivery_id=letter.letter.delivery_id or (job.delivery_id if job is not None else ""),
            command="dlq replay",
            actor=actor,
            dead_letter_id=letter.id,
            attempts=letter.letter.num_delivered,
        )
        return Replayed(letter, message_id, record)

    async def _replay_job(self, letter: DeadLetter, replay_id: str) -> str:
        job = letter.job
        if job is None:
            raise PermanentError(
                f"dead letter {letter.id} holds no job this version can read: not replayable"
            )
        if isinstance(job, ReviewJob):
            job = job.model_copy(update={"replay_id": replay_id})
        message_id = f"{job.key}/{replay_id}"
        await self._stream.publish(
            self._names.jobs_stream,
            self._names.review_subject,
            job.model_dump_json(exclude_none=True).encode(),
            {"Nats-Msg-Id": message_id, HEADER_DELIVERY: job.delivery_id},
        )
        return message_id

    async def _replay_webhook(self, letter: DeadLetter, replay_id: str) -> str:
        body = letter.letter
        if body.raw is None and not any(k.startswith("ArgoAI-Payload") for k in body.headers):
            raise PermanentError(f"dead letter {letter.id} holds no webhook body: not replayable")
        message_id = f"{body.delivery_id or 'webhook'}/{replay_id}"
        headers = {**body.headers, "Nats-Msg-Id": message_id}
        await self._stream.publish(
            self._names.webhooks_stream, body.subject, (body.raw or "").encode(), headers
        )
        return message_id

    async def _replay_notification(self, letter: DeadLetter, replay_id: str) -> str:
        note = letter.notification
        if note is None:
            raise PermanentError(
                f"dead letter {letter.id} holds no notification this version can read: not replayable"
            )
        # Sent to its target again by the notification consumer; the target must be configured there still.
        message_id = f"{note.id}/{replay_id}"
        await self._stream.publish(
            self._names.notify_stream,
            self._names.notify_subject(note.target),
            note.model_dump_json().encode(),
            {"Nats-Msg-Id": message_id},
        )
        return message_id

    async def purge(self, letters: list[DeadLetter]) -> int:
        """Remove ``letters`` from the stream; how many."""
        for letter in letters:
            await self._stream.delete(letter.id)
        return len(letters)


def _subject(letter: DeadLetter) -> Subject:
    if letter.letter.kind == "webhook":
        return "webhook"
    if letter.letter.kind == "notification":
        return "notification"
    if isinstance(letter.job, CommandJob):
        return "command"
    if letter.job is None or isinstance(letter.job, ReviewJob):
        return "review"
    return "closed"


def _notified_repo(note: Notification | None) -> RepoRef | None:
    if note is None or "/" not in note.repository:
        return None
    owner, name = note.repository.split("/", 1)
    try:
        return RepoRef(host=note.host, owner=owner, name=name)
    except ValidationError:
        return None
