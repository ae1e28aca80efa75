"""Webhooks the intake gives up on (NATS refusing the job every time) are dead-lettered with their body and
recorded in the history; ``argoai dlq``'s replay publishes them again and the intake makes their job."""

from __future__ import annotations

import json
from collections.abc import Mapping

from argoai_core.errors import UnavailableError
from argoai_core.models.history import HistoryRecord
from argoai_core.streams import HEADER_DELIVERY, HEADER_EVENT
from argoai_reviewer.adapters.dead_letters import JetStreamDeadLetters
from argoai_reviewer.adapters.jobs import JetStreamJobs
from argoai_reviewer.audit.dead_letters import DeadLetters
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.intake_consumer import IntakeWorker
from reviewer.runtime.helpers import Stream, eventually, fast_settings, load_webhook, running

SETTINGS = fast_settings(max_deliver=2)


class JobsRefused:
    """The job stream refuses every job (an outage of the job stream alone); dead letters get through."""

    def __init__(self, jobs: JetStreamJobs) -> None:
        self._jobs = jobs

    async def publish_job(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> bool:
        raise UnavailableError("NATS: publishing a review job failed: TimeoutError", delay=0.05)

    async def dead_letter(self, data: bytes, *, key: str, headers: Mapping[str, str]) -> int:
        return await self._jobs.dead_letter(data, key=key, headers=headers)

    async def announce_superseded(self, pr_key: str, old_head: str, new_head: str) -> None:
        """Not used."""


class Recorded:
    """A history recorder keeping the records."""

    def __init__(self) -> None:
        self.records: list[HistoryRecord] = []

    def record(self, record: HistoryRecord) -> None:
        self.records.append(record)


async def test_a_webhook_given_up_is_dead_lettered_and_replays_into_its_job(stream: Stream) -> None:
    """After max_deliver failed attempts the webhook is dead-lettered (kind webhook, with its body) and
    recorded in the history; replayed, it is stored again under a new message id and makes its one job."""
    body = json.dumps(load_webhook("pull_request.opened")).encode()
    await stream.js.publish(
        stream.names.webhook_subject("pull_request"),
        body,
        headers={HEADER_EVENT: "pull_request", HEADER_DELIVERY: "d-given-up", "Nats-Msg-Id": "d-given-up"},
    )
    history = Recorded()
    failing = IntakeWorker(
        JobsRefused(stream.jobs),  # type: ignore[arg-type]
        github_host="api.github.com",
        bot_name="argoai",
        max_deliver=SETTINGS.max_deliver,
        history=history,
    )

    async def intake(worker: IntakeWorker) -> ConsumerLoop:
        return ConsumerLoop(
            "intake",
            await stream.jobs.intake_source(SETTINGS),
            worker.handle,
            concurrency=4,
            fetch_timeout=SETTINGS.fetch_timeout_seconds,
            grace_period=SETTINGS.grace_period_seconds,
        )

    async with running(await intake(failing)):
        await eventually(lambda: _count(stream, 1), within=30)
    [letter] = await stream.dead_letters()
    assert letter["kind"] == "webhook"
    assert letter["reason"] == "intake_gave_up"
    assert letter["delivery_id"] == "d-given-up"
    assert letter["raw"].encode() == body
    [record] = history.records
    assert record.outcome == "dead_lettered"
    assert record.subject == "webhook"
    assert record.delivery_id == "d-given-up"

    letters = DeadLetters(JetStreamDeadLetters(stream.js, stream.names), stream.names)
    [dead] = await letters.all()
    replayed = await letters.replay(dead, actor="ops")
    assert replayed.record.outcome == "replayed"
    assert replayed.record.actor == "ops"
    assert await letters.all() == []
    working = IntakeWorker(stream.jobs, github_host="api.github.com", bot_name="argoai", max_deliver=2)
    async with running(await intake(working)):
        await eventually(lambda: _jobs(stream, 1), within=30)


async def _count(stream: Stream, letters: int) -> bool:
    return len(await stream.dead_letters()) == letters


async def _jobs(stream: Stream, jobs: int) -> bool:
    return await stream.messages(stream.names.jobs_stream) == jobs
