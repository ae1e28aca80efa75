"""The notification consumer: sends each notification to its target, and maps what happened to JetStream.

==================================  ==========================================================
what happened                       delivery
==================================  ==========================================================
the target answered 2xx             ack
429, 408, 5xx, no answer, timeout   nak(backoff); the last allowed delivery: dead letter + term
(a 429's Retry-After is honoured when longer than the backoff)
any other 4xx (URL revoked…)        dead letter + term (trying again cannot help)
unknown target, undecodable         dead letter + term
==================================  ==========================================================

Backoff: retry n waits ``ARGOAI_NOTIFY_BACKOFF_SECONDS`` × 2^(n-1), at most
``ARGOAI_NOTIFY_BACKOFF_MAX_SECONDS``. Each target has a token bucket of ``ARGOAI_NOTIFY_RATE_PER_MINUTE``
per pod: a notification over the rate waits for its turn (a short wait in place, a long one as a delayed
nak, which does not count as a failure). Logs name the target and the event, never a URL or a secret.

This runs in the reviewer process beside the review consumer (its own durable consumer and concurrency):
it shares the process's NATS connection and needs no other deployment, and a slow or dead target only
ever holds notification deliveries, never a review.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import orjson
from pydantic import ValidationError

from argoai_core.errors import RetryableError, UnavailableError
from argoai_core.logs import get_logger
from argoai_core.models.notification import Notification
from argoai_reviewer import metrics
from argoai_reviewer.notify.formats import render
from argoai_reviewer.runtime.delivery import Delivery
from argoai_reviewer.settings import NotifySettings, NotifyTarget

log = get_logger(__name__)

# A rate-limit wait shorter than this is spent in place (heartbeating); a longer one is a delayed nak.
WAIT_IN_PLACE_SECONDS = 5.0


@dataclass(frozen=True)
class PostResult:
    """A target's answer: its status and, for 429/503, the Retry-After it asked for (seconds)."""

    status: int
    retry_after: float | None = None


class Poster(Protocol):
    """Posts one request to a target (httpx in production). Raises UnavailableError when there is no answer
    (connection refused, timeout); its message never contains the URL."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        """POST ``body`` to ``url``."""
        ...


class NotificationDeadLetters(Protocol):
    """Where notifications that could not be delivered are kept (the dead-letter stream)."""

    async def dead_letter_notification(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> None:
        """Publish a dead letter under dedup ``key``."""
        ...


class TokenBucket:
    """``rate`` tokens per minute, a burst of as many; :meth:`take` says how long to wait for one."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._tokens = float(per_minute)
        self._clock = clock
        self._updated = clock()

    def take(self) -> float:
        """Take a token: 0 when one was there, else the seconds until one will be (none is taken)."""
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate


class NotificationWorker:
    """Handles notification deliveries for a :class:`~argoai_reviewer.runtime.consumer.ConsumerLoop`."""

    def __init__(
        self,
        targets: Mapping[str, NotifyTarget],
        poster: Poster,
        dead_letters: NotificationDeadLetters,
        settings: NotifySettings,
    ) -> None:
        self._targets = dict(targets)
        self._poster = poster
        self._dead = dead_letters
        self._settings = settings
        self._buckets = {name: TokenBucket(settings.rate_per_minute) for name in self._targets}

    async def handle(self, delivery: Delivery) -> None:
        """Send one notification and settle its delivery."""
        body = await delivery.body()
        try:
            note = Notification.model_validate_json(body)
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            where = ".".join(str(part) for part in error["loc"])
            await self._dead_letter(delivery, None, "invalid_notification", f"{where}: {error['msg']}", body)
            return
        target = self._targets.get(note.target)
        if target is None:
            await self._dead_letter(
                delivery, note, "unknown_target", f"no target {note.target!r} in ARGOAI_NOTIFY_TARGETS", body
            )
            return
        wait = self._buckets[note.target].take()
        if wait > WAIT_IN_PLACE_SECONDS:
            metrics.NOTIFICATIONS.labels(target=note.target, event=note.event, outcome="rate_limited").inc()
            await delivery.nak(wait)
            return
        if wait > 0:
            await asyncio.sleep(wait)
            await delivery.in_progress()
        secret = target.secret.get_secret_value() if target.secret is not None else None
        request = render(note, target.kind, secret)
        try:
            result = await self._poster.post(target.url.get_secret_value(), request.body, request.headers)
        except RetryableError as exc:
            await self._retry(delivery, note, body, str(exc), exc.delay)
            return
        if 200 <= result.status < 300:
            await delivery.ack()
            metrics.NOTIFICATIONS.labels(target=note.target, event=note.event, outcome="sent").inc()
            log.info("notification sent", target=note.target, notification=note.event, id=note.id)
        elif result.status in (408, 429) or result.status >= 500:
            await self._retry(
                delivery, note, body, f"the target answered {result.status}", result.retry_after or 0.0
            )
        else:
            await self._dead_letter(
                delivery, note, "refused", f"the target answered {result.status}: not retried", body
            )

    async def _retry(
        self, delivery: Delivery, note: Notification, body: bytes, error: str, asked: float
    ) -> None:
        attempt = delivery.num_delivered
        if attempt >= self._settings.max_deliver:
            await self._dead_letter(delivery, note, "max_deliver", f"{error} ({attempt} deliveries)", body)
            return
        delay = max(self._settings.backoff(attempt), min(asked, self._settings.backoff_max_seconds))
        metrics.NOTIFICATIONS.labels(target=note.target, event=note.event, outcome="retried").inc()
        log.warning(
            "notification not delivered; retrying",
            target=note.target,
            notification=note.event,
            error=error,
            attempt=attempt,
            delay=delay,
        )
        await delivery.nak(delay)

    async def _dead_letter(
        self, delivery: Delivery, note: Notification | None, reason: str, error: str, body: bytes
    ) -> None:
        letter = {
            "kind": "notification",
            "reason": reason,
            "error": error,
            "subject": delivery.subject,
            "stream_sequence": delivery.stream_sequence,
            "num_delivered": delivery.num_delivered,
            "failed_at": datetime.now(UTC).isoformat(),
            # The notification as published: it names its target, never the target's URL.
            "notification": orjson.loads(body) if note is not None else None,
        }
        target = note.target if note is not None else "unknown"
        event = note.event if note is not None else "unknown"
        log.error("notification dead-lettered", target=target, notification=event, reason=reason, error=error)
        try:
            await self._dead.dead_letter_notification(
                orjson.dumps(letter),
                key=f"{delivery.subject}:{delivery.stream_sequence}",
                headers={"ArgoAI-Dead-Reason": reason},
            )
        except UnavailableError as exc:
            log.warning("could not dead-letter the notification; retrying later", error=str(exc))
            await delivery.nak(exc.delay)
            return
        metrics.NOTIFICATIONS.labels(target=target, event=event, outcome="dead_lettered").inc()
        await delivery.term()
