"""The intake consumer: ``pull_request``, ``issue_comment``, ``pull_request_review_comment`` and ``check_run``
webhooks in, review, command and closed-pull-request jobs out (see :mod:`.intake`).

A job is published with ``Nats-Msg-Id`` = its key (PR and head SHA; or PR, command and comment id; or PR and
the delivery of a close or of a check re-run), so two ``synchronize`` deliveries for one push, and
redeliveries of one webhook, become one job. The webhook is
acknowledged only once the job stream has acknowledged the job; a payload that can never make a job is
terminated, never redelivered forever. A webhook that could not make its job within ``max_deliver`` attempts
(NATS or a stored payload unavailable every time) is dead-lettered with its headers and body, so that
``argoai dlq replay`` can publish it again, and recorded in the audit history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

from argoai_core.errors import InvalidInputError, PermanentError, UnavailableError
from argoai_core.logs import get_logger
from argoai_core.models.job import ReviewJob
from argoai_core.streams import HEADER_DEAD_KIND, HEADER_DEAD_REASON, HEADER_DELIVERY, HEADER_EVENT
from argoai_core.telemetry import extract_context, inject_headers
from argoai_reviewer.metrics import INTAKE, JOBS_DEAD_LETTERED
from argoai_reviewer.runtime.delivery import Delivery, JobSink
from argoai_reviewer.runtime.history import HistoryRecorder, record_id, webhook_record
from argoai_reviewer.runtime.intake import Skip, job_from_webhook

log = get_logger(__name__)

# The dead-letter reason of a webhook the intake could not turn into a job within max_deliver attempts.
WEBHOOK_GAVE_UP = "intake_gave_up"
tracer = trace.get_tracer(__name__)


class IntakeWorker:
    """Handles webhook deliveries for a :class:`~argoai_reviewer.runtime.consumer.ConsumerLoop`."""

    def __init__(
        self,
        sink: JobSink,
        *,
        github_host: str,
        bot_name: str,
        max_deliver: int,
        history: HistoryRecorder | None = None,
    ) -> None:
        self._sink = sink
        self._history = history
        self._github_host = github_host
        self._bot_name = bot_name
        self._max_deliver = max_deliver

    async def handle(self, delivery: Delivery) -> None:
        """Turn one webhook delivery into at most one review job, then settle the delivery."""
        headers = delivery.headers
        # The gateway stores GitHub's headers with the body; the subject's last token names the event too.
        event = headers.get(HEADER_EVENT) or delivery.subject.rsplit(".", 1)[-1]
        delivery_id = headers.get(HEADER_DELIVERY) or headers.get("Nats-Msg-Id", "")
        with tracer.start_as_current_span(
            "intake", context=extract_context(headers), attributes={"github.delivery": delivery_id}
        ):
            try:
                payload = orjson.loads(await delivery.body())
                if not isinstance(payload, dict):
                    raise InvalidInputError("payload is not a JSON object")
                decision = job_from_webhook(
                    event, delivery_id, payload, github_host=self._github_host, bot_name=self._bot_name
                )
            except (orjson.JSONDecodeError, PermanentError) as exc:
                INTAKE.labels(result="malformed").inc()
                log.error(
                    "webhook cannot make a review job",
                    github_event=event,
                    delivery=delivery_id,
                    error=str(exc),
                )
                await self._settle(delivery.term())
                return
            except UnavailableError as exc:
                await self._retry(delivery, delivery_id, exc)
                return
            if isinstance(decision, Skip):
                INTAKE.labels(result=decision.reason.value).inc()
                log.info(
                    "webhook skipped",
                    delivery=delivery_id,
                    reason=decision.reason.value,
                    detail=decision.detail,
                )
                await self._settle(delivery.ack())
                return
            try:
                fresh = await self._sink.publish_job(
                    decision.model_dump_json().encode(),
                    key=decision.key,
                    headers=inject_headers({HEADER_DELIVERY: delivery_id}),
                )
            except UnavailableError as exc:
                await self._retry(delivery, delivery_id, exc)
                return
            INTAKE.labels(result="job" if fresh else "duplicate_job").inc()
            log.info("review job queued", delivery=delivery_id, job=decision.key, duplicate=not fresh)
            if (
                isinstance(decision, ReviewJob)
                and decision.before_sha
                and decision.before_sha != decision.head_sha
            ):
                await self._announce(decision.pr_key, decision.before_sha, decision.head_sha)
            await self._settle(delivery.ack())

    async def _announce(self, pr_key: str, old_head: str, new_head: str) -> None:
        # A review of the head this push replaced is wasted work: reviewers running it stop (the new head's
        # job reviews everything since the last posted review). Best effort: if the notice is lost, the
        # old review finds the head moved when it is about to post, as before.
        try:
            await self._sink.announce_superseded(pr_key, old_head, new_head)
        except UnavailableError as exc:
            log.warning("could not announce the superseded head", pr=pr_key, error=str(exc))

    async def _retry(self, delivery: Delivery, delivery_id: str, error: UnavailableError) -> None:
        if delivery.num_delivered >= self._max_deliver:
            # JetStream will not deliver it again: the dead-letter stream keeps it for `argoai dlq replay`.
            log.error("webhook given up after repeated failures", delivery=delivery_id, error=str(error))
            if await self._dead_letter(delivery, delivery_id, error):
                await self._settle(delivery.term())
            else:
                await self._settle(delivery.nak(error.delay))
            return
        log.warning("webhook will be retried", delivery=delivery_id, error=str(error), delay=error.delay)
        await self._settle(delivery.nak(error.delay))

    async def _dead_letter(self, delivery: Delivery, delivery_id: str, error: UnavailableError) -> bool:
        """Store the webhook in the dead-letter stream; False when that failed too (then it is kept)."""
        headers = {k: v for k, v in delivery.headers.items() if k != "Nats-Msg-Id"}
        letter: dict[str, Any] = {
            "kind": "webhook",
            "reason": WEBHOOK_GAVE_UP,
            "error": str(error),
            "error_type": type(error).__name__,
            "subject": delivery.subject,
            "stream_sequence": delivery.stream_sequence,
            "num_delivered": delivery.num_delivered,
            "failed_at": datetime.now(UTC).isoformat(),
            "delivery_id": delivery_id,
            "headers": headers,
        }
        # When the body cannot be read, the headers still name the stored payload (a large one).
        with contextlib.suppress(UnavailableError, PermanentError):
            letter["raw"] = (await delivery.body()).decode("utf-8", errors="replace")
        try:
            sequence = await self._sink.dead_letter(
                orjson.dumps(letter),
                key=f"{delivery.subject}:{delivery.stream_sequence}",
                headers={HEADER_DEAD_REASON: WEBHOOK_GAVE_UP, HEADER_DEAD_KIND: "webhook"},
            )
        except UnavailableError as exc:
            log.warning("could not dead-letter the webhook; retrying later", error=str(exc))
            return False
        JOBS_DEAD_LETTERED.labels(reason=WEBHOOK_GAVE_UP).inc()
        if self._history is not None:
            event = delivery.headers.get(HEADER_EVENT) or delivery.subject.rsplit(".", 1)[-1]
            self._history.record(
                webhook_record(
                    record_id=record_id("dead_lettered", f"{delivery.subject}:{delivery.stream_sequence}"),
                    event=event,
                    delivery_id=delivery_id,
                    reason=str(error),
                    attempts=delivery.num_delivered,
                    dead_letter_id=sequence,
                )
            )
        return True

    @staticmethod
    async def _settle(settlement: Awaitable[None]) -> None:
        try:
            await settlement
        except UnavailableError as exc:
            # Unsettled, the webhook is redelivered after the ack wait; the job key deduplicates the rerun.
            log.warning("could not settle the webhook delivery", error=str(exc))
