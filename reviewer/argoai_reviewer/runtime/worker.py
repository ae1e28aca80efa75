"""The review consumer: runs the pipeline on each job and maps what happened to JetStream, in ONE place.

==============================  ==============================================================
pipeline result                 delivery
==============================  ==============================================================
ReviewOutcome (any kind)        ack
CircuitOpenError                wait for the dependency's breaker (delivery held), then run again;
                                past the outage tolerance: like RetryableError
RetryableError                  nak(delay=error.delay); on the last allowed delivery: dead letter + term
PermanentError                  dead letter (with the reason) + term
undecodable / unknown version   dead letter + term
anything else (a bug)           like RetryableError, logged with its traceback
==============================  ==============================================================

While the pipeline runs, the delivery is kept alive with in-progress acknowledgements every ack_wait/3, and
the pipeline may send one itself through the ``heartbeat`` it is given.

A review stopped by an open circuit breaker (the LLM or GitHub is down for everyone) keeps its delivery
while it waits, sending in-progress acknowledgements: JetStream counts a delivery each time it redelivers a
message (a ``nak`` with a delay included), so naking through an outage would exhaust ``max_deliver`` and
dead-letter the job. A held delivery is never redelivered while its pod lives, and the consumer fetches no
more jobs than it has free slots, so the rest wait in the stream without being delivered at all. If the pod
dies meanwhile, JetStream redelivers after the ack wait, as for any other review.

Every settlement is also written to the audit history (:mod:`.history`), in the background: a history that
cannot be written never changes the settlement.

A job dead-lettered for good is then reported to the :class:`FailureNotifier`, when there is one (the pull
request is told once that its review failed); a failing notification never changes the settlement.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import orjson
import structlog
from opentelemetry import trace
from pydantic import ValidationError

from argoai_core.errors import (
    ArgoAIError,
    CircuitOpenError,
    InvalidInputError,
    PermanentError,
    RetryableError,
    UnavailableError,
)
from argoai_core.logs import get_logger
from argoai_core.models.job import JOB_VERSIONS, AnyJob, ReviewJob, parse_job
from argoai_core.streams import HEADER_DEAD_KIND, HEADER_DEAD_REASON
from argoai_core.telemetry import extract_context, inject_headers
from argoai_reviewer.metrics import (
    JOBS_DEAD_LETTERED,
    REVIEW_SECONDS,
    REVIEWS,
    REVIEWS_CANCELLED,
    REVIEWS_IN_FLIGHT,
    REVIEWS_WAITING,
    experiment_assignment,
    variant,
    variant_scope,
)
from argoai_reviewer.outcome import Heartbeat, ReviewOutcome
from argoai_reviewer.runtime.delivery import Delivery, JobSink
from argoai_reviewer.runtime.history import HistoryRecorder, job_record, record_id
from argoai_reviewer.settings import ReviewerSettings

log = get_logger(__name__)
tracer = trace.get_tracer(__name__)

SUPPORTED_JOB_VERSIONS = JOB_VERSIONS
# Retry delay after an unexpected failure (a bug): long enough not to spin, short enough to recover soon.
UNEXPECTED_FAILURE_DELAY_SECONDS = 30.0


class ReviewRunner(Protocol):
    """The review pipeline, as the consumer sees it."""

    async def run(self, job: AnyJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Review ``job`` (or carry out its command); RetryableError or PermanentError when it cannot be done.

        ``heartbeat`` tells the queue the review is still alive; the consumer already sends one every
        ack_wait/3, so calling it is optional (useful before a step known to take long).
        """
        ...


class OutageWaiter(Protocol):
    """Waits out a dependency's open circuit breaker (the worker owns this view of the breakers)."""

    async def wait_out(self, circuit: str) -> bool:
        """Return True once ``circuit`` lets this job try again, False when the outage has lasted longer
        than the tolerance (the job is then retried and dead-lettered as usual)."""
        ...


@runtime_checkable
class FailureNotifier(Protocol):
    """Told about a job that failed for good (after it was dead-lettered), e.g. to say so on the PR."""

    async def review_failed(self, job: ReviewJob, reason: str) -> None:
        """Report that ``job`` will not be reviewed; ``reason`` is a :class:`DeadReason` value.

        Called again for the same job when a dead-letter settlement is retried or several pods hear of
        one exhausted job: it must be idempotent. Raises ArgoAIError when it could not report.
        """
        ...


@runtime_checkable
class DeadLetterObserver(Protocol):
    """Told about every job that went to the dead-letter stream (e.g. to notify a team)."""

    async def job_dead_lettered(self, job: AnyJob, reason: str, letter: str) -> None:
        """``job`` was dead-lettered for ``reason`` (a :class:`DeadReason` value) under key ``letter``;
        idempotent, like :meth:`FailureNotifier.review_failed`. Never raises for a failed notification."""
        ...


class DeadReason(StrEnum):
    """Why a job went to the dead-letter stream."""

    PERMANENT_ERROR = "permanent_error"
    MAX_DELIVER = "max_deliver"
    INVALID_JOB = "invalid_job"
    UNKNOWN_VERSION = "unknown_version"


class InvalidJobError(InvalidInputError):
    """A message on the job subject that is not a job this reviewer can run."""

    def __init__(self, reason: DeadReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_job(data: bytes) -> AnyJob:
    """The job in a message body; InvalidJobError saying what is wrong (an unknown version included)."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidJobError(DeadReason.INVALID_JOB, f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidJobError(DeadReason.INVALID_JOB, "not a JSON object")
    version = document.get("version")
    if version not in SUPPORTED_JOB_VERSIONS:
        raise InvalidJobError(DeadReason.UNKNOWN_VERSION, f"job version {version!r} is not supported")
    try:
        return parse_job(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidJobError(DeadReason.INVALID_JOB, f"{where}: {error['msg']}") from None


class ReviewWorker:
    """Handles review-job deliveries for a :class:`~argoai_reviewer.runtime.consumer.ConsumerLoop`."""

    def __init__(
        self,
        runner: ReviewRunner,
        sink: JobSink,
        settings: ReviewerSettings,
        notifier: FailureNotifier | None = None,
        outages: OutageWaiter | None = None,
        history: HistoryRecorder | None = None,
        observer: DeadLetterObserver | None = None,
    ) -> None:
        self._runner = runner
        self._outages = outages
        self._history = history
        self._sink = sink
        self._notifier = notifier
        self._observer = observer
        self._max_deliver = settings.max_deliver
        self._heartbeat_seconds = settings.heartbeat_seconds
        self._max_review_seconds = settings.max_review_seconds
        # Reviews running in this process, by (pull request, head), so that a newer push can stop them.
        self._running: dict[tuple[str, str], set[asyncio.Task[ReviewOutcome]]] = {}
        self._superseded: set[asyncio.Task[ReviewOutcome]] = set()

    async def handle(self, delivery: Delivery) -> None:
        """Run the pipeline on one delivery and settle it."""
        with variant_scope():
            await self._handle(delivery)

    async def _handle(self, delivery: Delivery) -> None:
        started = time.monotonic()
        REVIEWS_IN_FLIGHT.inc()
        try:
            body = await delivery.body()
            try:
                job = decode_job(body)
            except InvalidJobError as exc:
                await self._dead_letter(delivery, exc.reason, exc, job=None, raw=body)
                return
            context = extract_context(delivery.headers)
            with (
                tracer.start_as_current_span("review", context=context, attributes={"argoai.job": job.key}),
                structlog.contextvars.bound_contextvars(job=job.key, delivery=job.delivery_id),
            ):
                result = await self._run(delivery, job)
                while isinstance(result, CircuitOpenError) and await self._wait_out(delivery, result):
                    result = await self._run(delivery, job)
                await self._settle(delivery, job, result, time.monotonic() - started)
        finally:
            REVIEWS_IN_FLIGHT.dec()
            REVIEW_SECONDS.labels(variant=variant()).observe(time.monotonic() - started)

    async def _wait_out(self, delivery: Delivery, error: CircuitOpenError) -> bool:
        """Hold the delivery while ``error``'s circuit is open; whether to run the job again."""
        if self._outages is None:
            return False
        log.warning("dependency down: the review waits for its circuit breaker", circuit=error.circuit)
        REVIEWS_WAITING.inc()
        try:
            async with self._heartbeats(delivery):
                return await self._outages.wait_out(error.circuit)
        finally:
            REVIEWS_WAITING.dec()

    async def handle_exhausted(self, delivery: Delivery) -> None:
        """Dead-letter a job whose last allowed delivery ended unsettled (its pod died mid-review)."""
        body = await delivery.body()
        try:
            job: AnyJob | None = decode_job(body)
        except InvalidJobError:
            job = None
        REVIEWS.labels(outcome="failed", variant=variant()).inc()
        error = RetryableError(f"no reviewer settled it in {delivery.num_delivered} deliveries")
        if job is not None:
            self._record(delivery, job, "failed", reason=str(error))
        await self._dead_letter(delivery, DeadReason.MAX_DELIVER, error, job=job, raw=body)

    async def _run(self, delivery: Delivery, job: AnyJob) -> ReviewOutcome | Exception:
        async def heartbeat() -> None:
            await self._beat(delivery)

        try:
            async with self._heartbeats(delivery), asyncio.timeout(self._max_review_seconds) as deadline:
                return await self._cancellable(job, heartbeat)
        except TimeoutError as exc:
            if deadline.expired():
                return RetryableError(f"review took longer than {self._max_review_seconds:.0f}s")
            return exc
        # Top of one review: failures of every kind, bugs included, become a settlement in _settle.
        except Exception as exc:  # noqa: BLE001
            return exc

    async def supersede(self, pr_key: str, old_head: str) -> None:
        """Stop this process's reviews of ``pr_key`` at ``old_head``: a newer head was pushed.

        Their LLM calls are cancelled with them (streams closed), nothing is posted, and each job settles as
        superseded; the newer head's own job reviews everything since the last posted review.
        """
        for running in list(self._running.get((pr_key, old_head), ())):
            self._superseded.add(running)
            running.cancel()

    async def _cancellable(self, job: AnyJob, heartbeat: Heartbeat) -> ReviewOutcome:
        """Run the pipeline in a task of its own, which :meth:`supersede` may cancel."""
        task = asyncio.create_task(self._runner.run(job, heartbeat))
        # A command names no head: only reviews of a known head can be superseded.
        key = (job.pr_key, job.head_sha) if isinstance(job, ReviewJob) else None
        if key is not None:
            self._running.setdefault(key, set()).add(task)
        try:
            return await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task in self._superseded and not (current is not None and current.cancelling()):
                REVIEWS_CANCELLED.inc()
                log.info("review cancelled: a newer head was pushed")
                return ReviewOutcome.superseded("a newer head was pushed while this one was being reviewed")
            raise
        finally:
            if key is not None:
                tasks = self._running.get(key, set())
                tasks.discard(task)
                if not tasks:
                    self._running.pop(key, None)
            self._superseded.discard(task)

    def _record(
        self,
        delivery: Delivery,
        job: AnyJob,
        outcome: str,
        *,
        reason: str = "",
        seconds: float | None = None,
        result: ReviewOutcome | None = None,
        dead_letter_id: int | None = None,
    ) -> None:
        if self._history is None:
            return
        # The job's key with its stream sequence and attempt: one record per settlement, however often a
        # settlement is repeated, and no clash when a recreated stream reuses sequences.
        natural = f"{job.key}@{delivery.stream_sequence}.{delivery.num_delivered}"
        record = job_record(
            job,
            outcome,  # type: ignore[arg-type]  # one of the Outcome literals, by construction
            record_id=record_id(outcome, natural),
            reason=reason,
            seconds=seconds,
            result=result,
            attempts=delivery.num_delivered,
            dead_letter_id=dead_letter_id,
        )
        # The experiment variant the pipeline assigned this pull request (set while it ran this job).
        assignment = experiment_assignment()
        if assignment is not None:
            record = record.model_copy(update={"experiment": assignment[0], "variant": assignment[1]})
        self._history.record(record)

    async def _settle(
        self, delivery: Delivery, job: AnyJob, result: ReviewOutcome | Exception, seconds: float | None = None
    ) -> None:
        """THE mapping from a pipeline result to what JetStream is told."""
        try:
            if isinstance(result, ReviewOutcome):
                await delivery.ack()
                self._record(
                    delivery, job, result.kind.value, reason=result.reason, seconds=seconds, result=result
                )
                REVIEWS.labels(outcome=result.kind.value, variant=variant()).inc()
                log.info(
                    "review finished",
                    outcome=result.kind.value,
                    reason=result.reason,
                    review=result.review_id,
                )
            elif isinstance(result, PermanentError):
                REVIEWS.labels(outcome="failed", variant=variant()).inc()
                self._record(delivery, job, "failed", reason=str(result), seconds=seconds)
                await self._dead_letter(delivery, DeadReason.PERMANENT_ERROR, result, job=job)
            else:
                if not isinstance(result, RetryableError):
                    log.error("review failed unexpectedly", exc_info=result)
                if delivery.num_delivered >= self._max_deliver:
                    REVIEWS.labels(outcome="failed", variant=variant()).inc()
                    self._record(delivery, job, "failed", reason=str(result), seconds=seconds)
                    await self._dead_letter(delivery, DeadReason.MAX_DELIVER, result, job=job)
                    return
                delay = (
                    result.delay if isinstance(result, RetryableError) else UNEXPECTED_FAILURE_DELAY_SECONDS
                )
                REVIEWS.labels(outcome="retried", variant=variant()).inc()
                self._record(delivery, job, "retried", reason=str(result), seconds=seconds)
                log.warning(
                    "review will be retried", error=str(result), delay=delay, attempt=delivery.num_delivered
                )
                await delivery.nak(delay)
        except UnavailableError as exc:
            # The delivery stays unsettled: JetStream redelivers it after the ack wait, and the pipeline's own
            # state (last reviewed head) keeps a finished review from being posted twice.
            log.warning("could not settle the delivery", error=str(exc))

    async def _dead_letter(
        self,
        delivery: Delivery,
        reason: DeadReason,
        error: BaseException,
        *,
        job: AnyJob | None,
        raw: bytes | None = None,
    ) -> None:
        letter: dict[str, Any] = {
            "reason": reason.value,
            "error": str(error),
            "error_type": type(error).__name__,
            "subject": delivery.subject,
            "stream_sequence": delivery.stream_sequence,
            "num_delivered": delivery.num_delivered,
            "failed_at": datetime.now(UTC).isoformat(),
            "job": job.model_dump(mode="json") if job is not None else None,
        }
        if job is None and raw is not None:
            letter["raw"] = raw.decode("utf-8", errors="replace")
        log.error("job dead-lettered", reason=reason.value, error=str(error), seq=delivery.stream_sequence)
        try:
            sequence = await self._sink.dead_letter(
                orjson.dumps(letter),
                # One letter per stored job, however often a failing settlement is retried.
                key=f"{delivery.subject}:{delivery.stream_sequence}",
                headers=inject_headers({HEADER_DEAD_REASON: reason.value, HEADER_DEAD_KIND: "job"}),
            )
        except UnavailableError as exc:
            # Not recorded yet: keep the job (retry later) rather than lose it without a trace.
            log.warning("could not dead-letter the job; retrying later", error=str(exc))
            await delivery.nak(exc.delay)
            return
        JOBS_DEAD_LETTERED.labels(reason=reason.value).inc()
        if job is not None:
            self._record(
                delivery, job, "dead_lettered", reason=f"{reason.value}: {error}", dead_letter_id=sequence
            )
        await delivery.term()
        if job is not None and self._observer is not None:
            try:
                await self._observer.job_dead_lettered(
                    job, reason.value, f"{delivery.subject}:{delivery.stream_sequence}"
                )
            except ArgoAIError as exc:
                log.warning("could not notify about the dead-lettered job", error=str(exc))
        if isinstance(job, ReviewJob):
            # A failed command names no head to report on; its commenter can ask again.
            await self._notify(job, reason)

    async def _notify(self, job: ReviewJob, reason: DeadReason) -> None:
        # After the settlement: a slow or failing notification must never get the job redelivered.
        if self._notifier is None:
            return
        try:
            await self._notifier.review_failed(job, reason.value)
        except ArgoAIError as exc:
            log.warning("could not report the failed review on the pull request", error=str(exc))

    async def _beat(self, delivery: Delivery) -> None:
        try:
            await delivery.in_progress()
        except UnavailableError as exc:
            # A missed beat is not fatal: the next one may get through before the ack wait runs out.
            log.warning("heartbeat failed", error=str(exc))

    @asynccontextmanager
    async def _heartbeats(self, delivery: Delivery) -> AsyncIterator[None]:
        async def beat_forever() -> None:
            while True:
                await asyncio.sleep(self._heartbeat_seconds)
                await self._beat(delivery)

        task = asyncio.create_task(beat_forever())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
