"""JetStream adapter of the reviewer: durable pull consumers, settlements, publishing jobs and dead letters.

Implements :mod:`argoai_reviewer.runtime.delivery` on nats-py. Every NATS failure leaves this module as
:class:`~argoai_core.errors.UnavailableError`: the consumers retry, and nats-py reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from argoai_core.adapters.jetstream import load_body
from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger
from argoai_core.streams import StreamNames
from argoai_reviewer.runtime.delivery import Delivery
from argoai_reviewer.runtime.intake import INTAKE_EVENTS
from argoai_reviewer.settings import NotifySettings, ReviewerSettings

log = get_logger(__name__)

# The JetStream context, for services of the pipeline that read JetStream themselves (the policy bucket).
JetStream = JetStreamContext

# Publishing waits this long for the stream's acknowledgement before reporting NATS unavailable.
PUBLISH_TIMEOUT_SECONDS = 5.0
# Retry hint when NATS is unreachable; the connection reconnects every half second on its own.
RETRY_DELAY_SECONDS = 2.0


async def close_connection(nc: Client, drain_seconds: float) -> None:
    """Drain ``nc`` (pending acks and publishes flushed), but never hold a stopping process on a dead server.

    nats-py's drain waits up to 30 s on a server that does not answer, swallows the first cancellation and
    then flushes for another 10 s. So a server that does not answer a flush at once is not drained at all,
    and a drain that takes longer than ``drain_seconds`` is abandoned: the connection is simply closed.
    """
    if nc.is_closed:
        return
    try:
        # nats-py types the timeout as int but waits with asyncio.wait_for, which takes any seconds.
        await nc.flush(timeout=max(0.1, min(1.0, drain_seconds)))  # type: ignore[arg-type]
    except (nats.errors.Error, TimeoutError):
        log.warning("NATS does not answer: closing the connection without draining it")
        await nc.close()
        return
    drain = asyncio.create_task(nc.drain())
    done, _ = await asyncio.wait({drain}, timeout=drain_seconds)
    if drain in done:
        with contextlib.suppress(nats.errors.Error):
            drain.result()
        return
    log.warning("NATS did not drain in time: closing the connection", seconds=drain_seconds)
    await nc.close()
    # The first cancellation is swallowed by nats-py while it drains subscriptions; the next one ends it.
    while not drain.done():
        drain.cancel()
        await asyncio.wait({drain}, timeout=0.2)
    with contextlib.suppress(asyncio.CancelledError, nats.errors.Error):
        drain.result()


@asynccontextmanager
async def _unavailable(what: str) -> AsyncIterator[None]:
    try:
        yield
    except nats.errors.Error as exc:
        raise UnavailableError(
            f"NATS: {what} failed: {type(exc).__name__}: {exc}", delay=RETRY_DELAY_SECONDS
        ) from exc


def _consumer_config(name: str, subjects: list[str], settings: ReviewerSettings) -> ConsumerConfig:
    return ConsumerConfig(
        name=name,
        durable_name=name,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=settings.max_deliver,
        # Redelivery of unacknowledged deliveries; naks choose their own delay.
        backoff=settings.backoff_seconds or None,
        max_ack_pending=settings.max_ack_pending,
        # One subject as filter_subject, several as filter_subjects (a server updates one into the other).
        filter_subject=subjects[0] if len(subjects) == 1 else None,
        filter_subjects=subjects if len(subjects) > 1 else None,
    )


class JetStreamDelivery:
    """A :class:`~argoai_reviewer.runtime.delivery.Delivery` backed by a JetStream message."""

    def __init__(self, js: JetStreamContext, msg: Msg) -> None:
        self._js = js
        self._msg = msg
        # nats-py refuses a second settlement; at shutdown the consumers may nak a settled delivery.
        self._settled = False
        metadata = msg.metadata
        self._num_delivered = metadata.num_delivered
        self._stream_sequence = metadata.sequence.stream

    @property
    def subject(self) -> str:
        """The subject the message was published on."""
        return self._msg.subject

    async def body(self) -> bytes:
        """The message body; a webhook too large for one message is read from the payload bucket."""
        async with _unavailable("reading a stored payload"):
            return await load_body(self._js, self._msg)

    @property
    def headers(self) -> Mapping[str, str]:
        """The message headers."""
        return self._msg.headers or {}

    @property
    def num_delivered(self) -> int:
        """Deliveries of this message so far, this one included."""
        return self._num_delivered

    @property
    def stream_sequence(self) -> int:
        """The message's sequence number in its stream."""
        return self._stream_sequence

    async def ack(self) -> None:
        """Acknowledge, waiting for the server to confirm (a lost ack would mean a second review)."""
        if self._settled:
            return
        async with _unavailable("ack"):
            await self._msg.ack_sync(timeout=PUBLISH_TIMEOUT_SECONDS)
        self._settled = True

    async def nak(self, delay: float = 0.0) -> None:
        """Ask for redelivery after ``delay`` seconds."""
        if self._settled:
            return
        async with _unavailable("nak"):
            await self._msg.nak(delay=delay or None)
        self._settled = True

    async def term(self) -> None:
        """Stop redelivering this message."""
        if self._settled:
            return
        async with _unavailable("term"):
            await self._msg.term()
        self._settled = True

    async def in_progress(self) -> None:
        """Restart the message's acknowledgement timer."""
        if self._settled:
            return
        async with _unavailable("in-progress ack"):
            await self._msg.in_progress()


class StoredJob:
    """A job still in the stream after its last allowed delivery went unsettled (its reviewer died).

    JetStream will not deliver it again; as a :class:`~argoai_reviewer.runtime.delivery.Delivery` it can be
    dead-lettered like any failed job: ``term``/``ack`` delete it from the stream, ``nak`` leaves it.
    """

    def __init__(self, js: JetStreamContext, stream: str, sequence: int, deliveries: int) -> None:
        self._js = js
        self._stream = stream
        self._sequence = sequence
        self._deliveries = deliveries
        self._subject = ""
        self._data = b""
        self._headers: Mapping[str, str] = {}

    async def load(self) -> bool:
        """Read the stored message; False when it is gone (another pod already dealt with it)."""
        try:
            async with _unavailable("reading an exhausted job"):
                stored = await self._js.get_msg(self._stream, self._sequence)
        except UnavailableError as exc:
            if isinstance(exc.__cause__, NotFoundError):
                return False
            raise
        self._subject = stored.subject or ""
        self._data = stored.data or b""
        self._headers = dict(stored.headers or {})
        return True

    @property
    def subject(self) -> str:
        """The job subject."""
        return self._subject

    async def body(self) -> bytes:
        """The stored job."""
        return self._data

    @property
    def headers(self) -> Mapping[str, str]:
        """The stored job's headers."""
        return self._headers

    @property
    def num_delivered(self) -> int:
        """Deliveries the job had."""
        return self._deliveries

    @property
    def stream_sequence(self) -> int:
        """The job's sequence number in the jobs stream."""
        return self._sequence

    async def ack(self) -> None:
        """Remove the job from the stream."""
        await self.term()

    async def nak(self, delay: float = 0.0) -> None:
        """Leave the job where it is (nothing would deliver it again anyway)."""

    async def term(self) -> None:
        """Remove the job from the stream."""
        async with _unavailable("deleting an exhausted job"):
            with contextlib.suppress(NotFoundError):
                await self._js.delete_msg(self._stream, self._sequence)

    async def in_progress(self) -> None:
        """Nothing to keep alive."""


class JetStreamSource:
    """A :class:`~argoai_reviewer.runtime.delivery.DeliverySource`: a pull subscription (durable)."""

    def __init__(self, js: JetStreamContext, subscription: JetStreamContext.PullSubscription) -> None:
        self._js = js
        self._subscription = subscription
        # Messages received beyond what a fetch asked for, handed out first by the next fetches.
        self._surplus: deque[Msg] = deque()

    async def fetch(self, count: int, wait_seconds: float) -> list[Delivery]:
        """Up to ``count`` deliveries, never more; [] when none arrived within ``wait_seconds``.

        nats-py's ``fetch`` first empties its whole queue of messages already received, whatever the batch:
        messages of an earlier pull request that arrived after its fetch gave up are all returned by the
        next one. The reviewer starts one review per delivery, so that broke its concurrency bound (273
        reviews in flight under ``ARGOAI_REVIEWER_CONCURRENCY=200`` in ``bench/review``). The extra messages
        are kept here and handed out first. One that waits past the ack wait (or is still here at a stop) is
        redelivered by JetStream like any unsettled delivery; the head's review lock keeps two copies of a
        job to one review.
        """
        if self._surplus:
            taken = [self._surplus.popleft() for _ in range(min(count, len(self._surplus)))]
            return [JetStreamDelivery(self._js, msg) for msg in taken]
        async with _unavailable("fetch"):
            try:
                messages = await self._subscription.fetch(batch=count, timeout=wait_seconds)
            except TimeoutError:  # nats-py's fetch timeouts subclass it: simply no message came
                return []
        self._surplus.extend(messages[count:])
        return [JetStreamDelivery(self._js, msg) for msg in messages[:count]]

    async def close(self) -> None:
        """Stop receiving (before draining the connection: nats-py's drain waits out a pull subscription)."""
        # At shutdown a failed unsubscribe is harmless: the connection closes next anyway.
        with contextlib.suppress(nats.errors.Error):
            await self._subscription.unsubscribe()


class JetStreamJobs:
    """The reviewer's JetStream: its two durable consumers, the job subject and the dead-letter subject."""

    def __init__(self, nc: Client, names: StreamNames) -> None:
        self._nc = nc
        self._js = nc.jetstream()
        self._names = names

    @property
    def js(self) -> JetStream:
        """The JetStream context of this connection."""
        return self._js

    async def watch_exhausted(
        self, handle: Callable[[StoredJob], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``handle`` for each job whose last allowed delivery expired unsettled (its pod died).

        JetStream announces those with a MAX_DELIVERIES advisory and otherwise keeps them in the work queue
        forever. Every pod hears the advisory; dead letters are deduplicated and the delete is idempotent.
        Returns the function that stops watching.
        """
        stream = self._names.jobs_stream
        subject = f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{self._names.review_consumer}"

        async def on_advisory(msg: Msg) -> None:
            try:
                advisory = json.loads(msg.data)
                job = StoredJob(self._js, stream, int(advisory["stream_seq"]), int(advisory["deliveries"]))
                if await job.load():
                    await handle(job)
            except (ValueError, KeyError, TypeError, UnavailableError) as exc:
                # The job stays in the stream; it is visible in the stream's metrics and can be replayed.
                log.warning("could not dead-letter an exhausted job", error=str(exc))

        async with _unavailable("subscribing to max-deliveries advisories"):
            subscription = await self._nc.subscribe(subject, cb=on_advisory)

        async def stop() -> None:
            # At shutdown a failed unsubscribe is harmless: the connection closes next anyway.
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

        return stop

    def review_consumer_config(self, settings: ReviewerSettings) -> ConsumerConfig:
        """The one consumer every reviewer pod shares (work-queue stream: each job goes to one pod)."""
        return _consumer_config(self._names.review_consumer, [self._names.review_subject], settings)

    def intake_consumer_config(self, settings: ReviewerSettings) -> ConsumerConfig:
        """The consumer turning pull_request webhooks into review jobs, and PR comments into command jobs."""
        subjects = [self._names.webhook_subject(event) for event in INTAKE_EVENTS]
        return _consumer_config(self._names.intake_consumer, subjects, settings)

    def notify_consumer_config(self, settings: NotifySettings) -> ConsumerConfig:
        """The consumer sending notifications, shared by every pod; retries are naks with their own delay."""
        return ConsumerConfig(
            name=self._names.notify_consumer,
            durable_name=self._names.notify_consumer,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            # A pod that dies mid-post gets its notification redelivered to another after this.
            ack_wait=max(30.0, settings.timeout_seconds * 3),
            max_deliver=settings.max_deliver,
            max_ack_pending=4096,
            filter_subject=self._names.notify_subjects,
        )

    async def notify_source(self, settings: NotifySettings) -> JetStreamSource:
        """Declare (or update) the notification consumer and pull from it."""
        return await self._bind(self._names.notify_stream, self.notify_consumer_config(settings))

    async def publish_notification(self, target: str, data: bytes, *, key: str) -> bool:
        """Publish a notification for ``target`` with ``Nats-Msg-Id`` = ``key``; False when a duplicate."""
        async with _unavailable("publishing a notification"):
            ack = await self._js.publish(
                self._names.notify_subject(target),
                data,
                timeout=PUBLISH_TIMEOUT_SECONDS,
                stream=self._names.notify_stream,
                headers={"Nats-Msg-Id": key},
            )
        return not ack.duplicate

    async def dead_letter_notification(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> None:
        """Publish a notification's dead letter (subject ``<prefix>.dead.notify``) under dedup ``key``."""
        async with _unavailable("dead-lettering a notification"):
            await self._js.publish(
                self._names.notify_dead_letter_subject,
                data,
                timeout=PUBLISH_TIMEOUT_SECONDS,
                stream=self._names.dead_letter_stream,
                headers={**headers, "Nats-Msg-Id": f"notify:{key}"},
            )

    async def review_source(self, settings: ReviewerSettings) -> JetStreamSource:
        """Declare (or update) the review consumer and pull from it."""
        return await self._bind(self._names.jobs_stream, self.review_consumer_config(settings))

    async def intake_source(self, settings: ReviewerSettings) -> JetStreamSource:
        """Declare (or update) the intake consumer and pull from it."""
        return await self._bind(self._names.webhooks_stream, self.intake_consumer_config(settings))

    async def _bind(self, stream: str, config: ConsumerConfig) -> JetStreamSource:
        assert config.durable_name is not None
        async with _unavailable(f"declaring consumer {config.durable_name}"):
            # Create-or-update: every pod declares the same configuration, so this is idempotent.
            await self._js.add_consumer(stream, config)
            subscription = await self._js.pull_subscribe_bind(durable=config.durable_name, stream=stream)
        return JetStreamSource(self._js, subscription)

    async def announce_superseded(self, pr_key: str, old_head: str, new_head: str) -> None:
        """Tell every reviewer pod that ``pr_key`` moved from ``old_head`` to ``new_head`` (not stored)."""
        message = json.dumps({"pr": pr_key, "old_head": old_head, "new_head": new_head}).encode()
        async with _unavailable("announcing a superseded head"):
            await self._nc.publish(self._names.superseded_subject, message)

    async def watch_superseded(
        self, handle: Callable[[str, str], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Call ``handle(pr_key, old_head)`` for each announcement; returns the stop function."""

        async def on_notice(msg: Msg) -> None:
            try:
                notice = json.loads(msg.data)
                await handle(str(notice["pr"]), str(notice["old_head"]))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("ignored a malformed superseded notice", error=str(exc))

        async with _unavailable("subscribing to superseded notices"):
            subscription = await self._nc.subscribe(self._names.superseded_subject, cb=on_notice)

        async def stop() -> None:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

        return stop

    async def publish_job(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> bool:
        """Publish a review job with ``Nats-Msg-Id`` = ``key``; False when the stream already had it."""
        async with _unavailable("publishing a review job"):
            ack = await self._js.publish(
                self._names.review_subject,
                data,
                timeout=PUBLISH_TIMEOUT_SECONDS,
                stream=self._names.jobs_stream,
                headers={**headers, "Nats-Msg-Id": key},
            )
        return not ack.duplicate

    async def dead_letter(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> int:
        """Publish a dead letter with ``Nats-Msg-Id`` = ``key`` (a redelivered failure is stored once); its
        sequence in the dead-letter stream."""
        async with _unavailable("dead-lettering a job"):
            ack = await self._js.publish(
                self._names.dead_letter_subject,
                data,
                timeout=PUBLISH_TIMEOUT_SECONDS,
                stream=self._names.dead_letter_stream,
                headers={**headers, "Nats-Msg-Id": key},
            )
        return int(ack.seq)
