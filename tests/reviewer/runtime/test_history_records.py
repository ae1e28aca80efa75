"""The review worker records every settlement in the audit history — posted (with usage), skipped, command
(who and what), retried, failed and dead-lettered — and a history stream that cannot take records never
slows or fails a review; records read back from the real stream by sequence fill the query store."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import REGISTRY

from argoai_core.adapters.history_stream import HistoryPublisher, HistoryReader, ensure_history_stream
from argoai_core.errors import PermanentError, RetryableError
from argoai_core.models.history import HistoryRecord, Usage
from argoai_core.models.job import AnyJob, CommandJob
from argoai_core.settings import HistorySettings
from argoai_core.streams import StreamNames
from argoai_reviewer.audit.store import Filters, HistoryStore
from argoai_reviewer.audit.sync import catch_up
from argoai_reviewer.outcome import Heartbeat, OutcomeKind, ReviewOutcome
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.worker import ReviewWorker
from reviewer.runtime.helpers import Stream, eventually, fast_settings, make_job, running

SETTINGS = fast_settings(max_deliver=2)
USAGE = Usage(findings={"major": 2}, input_tokens=1200, output_tokens=90, cost_usd=0.002, model="m")


class Recorded:
    """A history recorder keeping the records."""

    def __init__(self) -> None:
        self.records: list[HistoryRecord] = []

    def record(self, record: HistoryRecord) -> None:
        self.records.append(record)


class ScriptedRunner:
    """Answers per pull request number: an outcome, or an error raised every time."""

    def __init__(self, answers: dict[int, ReviewOutcome | Exception]) -> None:
        self._answers = answers

    async def run(self, job: AnyJob, heartbeat: Heartbeat) -> ReviewOutcome:
        answer = self._answers[job.number]
        if isinstance(answer, Exception):
            raise answer
        return answer


def command_job(number: int) -> CommandJob:
    job = make_job(number)
    return CommandJob(
        delivery_id="d-cmd", installation_id=job.installation_id, repo=job.repo, number=number,
        command="pause", comment_id=55, commenter="mona",
    )  # fmt: skip


async def test_every_settlement_is_recorded(stream: Stream) -> None:
    """Posted (usage, duration), skipped (reason), a command (who, what), retried then failed and
    dead-lettered (reason, dead letter id): one record each, with the job's repository and pull request."""
    history = Recorded()
    runner = ScriptedRunner(
        {
            1: ReviewOutcome(OutcomeKind.POSTED, review_id=77, usage=USAGE),
            2: ReviewOutcome.skipped("draft pull request"),
            3: RetryableError("GitHub answered 502", delay=0.05),
            4: PermanentError("the repository is gone"),
            5: ReviewOutcome.skipped("reviews paused"),
        }
    )
    worker = ReviewWorker(runner, stream.jobs, SETTINGS, history=history)
    await stream.publish_jobs(make_job(1), make_job(2), make_job(3), make_job(4))
    await stream.jobs.publish_job(command_job(5).model_dump_json().encode(), key="cmd-5", headers={})
    loop = ConsumerLoop(
        "review", await stream.jobs.review_source(SETTINGS), worker.handle, concurrency=4,
        fetch_timeout=SETTINGS.fetch_timeout_seconds, grace_period=SETTINGS.grace_period_seconds,
    )  # fmt: skip

    async def settled() -> bool:
        return len(await stream.dead_letters()) == 2 and len(history.records) >= 8

    async with running(loop):
        await eventually(settled, within=30)
    by = {(r.number, r.outcome): r for r in history.records}
    assert by[(1, "posted")].usage == USAGE
    assert by[(1, "posted")].duration_seconds is not None
    assert by[(1, "posted")].head_sha == make_job(1).head_sha
    assert by[(2, "skipped")].reason == "draft pull request"
    assert by[(3, "retried")].reason == "GitHub answered 502"
    assert by[(3, "failed")].attempts == 2
    assert by[(3, "dead_lettered")].reason.startswith("max_deliver")
    assert by[(3, "dead_lettered")].dead_letter_id is not None
    assert by[(4, "failed")].reason == "the repository is gone"
    assert by[(4, "dead_lettered")].reason.startswith("permanent_error")
    command = by[(5, "skipped")]
    assert (command.subject, command.command, command.actor, command.reason) == (
        "command", "pause", "mona", "reviews paused",
    )  # fmt: skip
    assert len({r.id for r in history.records}) == len(history.records)


async def test_a_stream_that_refuses_records_never_fails_the_caller(stream: Stream) -> None:
    """No history stream at all: record() returns at once, the failure is counted, nothing is raised."""
    names = StreamNames(f"{stream.names.prefix}X")  # a prefix whose history stream was never declared
    publisher = HistoryPublisher(stream.js, names, HistorySettings(publish_timeout_seconds=0.5))
    before = REGISTRY.get_sample_value("argoai_history_publish_failures_total") or 0.0
    publisher.record(HistoryRecord(id="lost", outcome="posted"))
    await publisher.flush()
    assert REGISTRY.get_sample_value("argoai_history_publish_failures_total") == before + 1


async def test_published_records_reach_the_query_store_once(stream: Stream, tmp_path: Path) -> None:
    """Records published to the real history stream (one twice) are read back by sequence into the store;
    a second catch-up reads nothing new."""
    settings = HistorySettings()
    await ensure_history_stream(stream.js, stream.names, settings)
    publisher = HistoryPublisher(stream.js, stream.names, settings)
    job = make_job(9)
    records = [
        HistoryRecord(id=f"r{i}", outcome="skipped", repo=job.repo, number=9, reason=f"#{i}")
        for i in range(5)
    ]
    for record in [*records, records[0]]:
        await publisher.publish(record)
    store = HistoryStore(tmp_path / "store.sqlite3")
    reader = HistoryReader(stream.js, stream.names)
    assert await catch_up(store, reader) == 5
    assert await catch_up(store, reader) == 0
    page = store.reviews(Filters(repo=job.repo.full_name, number=9))
    assert [r.reason for r in page.records] == ["#4", "#3", "#2", "#1", "#0"]
    assert await asyncio.wait_for(reader.last_sequence(), 5) == store.last_applied()
