"""The review consumer on a real nats-server with a recording runner: outcome mapping, limits, shutdown."""

from __future__ import annotations

import asyncio
import time

from argoai_core.errors import PermanentError, RetryableError
from argoai_core.models.job import ReviewJob
from argoai_reviewer.outcome import Heartbeat, ReviewOutcome
from argoai_reviewer.runtime.worker import ReviewWorker
from reviewer.runtime.helpers import (
    RecordingRunner,
    Stream,
    eventually,
    fast_settings,
    make_job,
    review_loop,
    running,
)


async def test_posted_review_is_acked_and_leaves_the_stream(stream: Stream) -> None:
    """A job whose review succeeds is acknowledged: the work-queue stream is empty afterwards."""
    runner = RecordingRunner()
    loop = await review_loop(stream.jobs, runner, fast_settings())
    await stream.publish_jobs(make_job(1), make_job(2))
    async with running(loop):
        await eventually(lambda: _done(stream, runner, 2))
    assert sorted(runner.numbers()) == [1, 2]
    assert await stream.messages(stream.names.jobs_stream) == 0


async def test_every_outcome_kind_is_acked(stream: Stream) -> None:
    """Skipped, superseded and duplicate outcomes are successes too: acked, never retried."""
    outcomes = {
        1: ReviewOutcome.skipped("draft"),
        2: ReviewOutcome.superseded(),
        3: ReviewOutcome.duplicate(),
    }

    async def behave(job: ReviewJob, _: int, __: Heartbeat) -> ReviewOutcome:
        return outcomes[job.number]

    runner = RecordingRunner(behave)
    loop = await review_loop(stream.jobs, runner, fast_settings())
    await stream.publish_jobs(*(make_job(n) for n in outcomes))
    async with running(loop):
        await eventually(lambda: _done(stream, runner, 3))
        await asyncio.sleep(1.5)  # longer than ack_wait: nothing comes back
    assert sorted(runner.numbers()) == [1, 2, 3]


async def test_retryable_error_is_redelivered_after_its_delay(stream: Stream) -> None:
    """RetryableError(delay) naks the job; it comes back after that delay and can then succeed."""

    async def behave(_: ReviewJob, attempt: int, __: Heartbeat) -> ReviewOutcome:
        if attempt == 1:
            raise RetryableError("GitHub 502", delay=0.5)
        return ReviewOutcome.posted(1)

    runner = RecordingRunner(behave)
    loop = await review_loop(stream.jobs, runner, fast_settings(ack_wait_seconds=5.0))
    await stream.publish_jobs(make_job(1))
    async with running(loop):
        await eventually(lambda: _done(stream, runner, 1))
    assert runner.calls == [(1, 1), (1, 2)]
    first, second = runner.call_times[1]
    # Redelivered after the error's delay, well before the 5 s ack wait would have.
    assert 0.45 <= second - first < 4.0
    assert await stream.dead_letters() == []


async def test_permanent_error_dead_letters_the_job_and_others_keep_flowing(stream: Stream) -> None:
    """PermanentError: the job is dead-lettered with the reason and not retried; other jobs succeed."""

    async def behave(job: ReviewJob, _: int, __: Heartbeat) -> ReviewOutcome:
        if job.number == 2:
            raise PermanentError("repository access revoked")
        return ReviewOutcome.posted(job.number)

    runner = RecordingRunner(behave)
    loop = await review_loop(stream.jobs, runner, fast_settings())
    await stream.publish_jobs(make_job(1), make_job(2), make_job(3))
    async with running(loop):
        await eventually(lambda: _done(stream, runner, 3))
        await asyncio.sleep(1.5)  # past ack_wait: a terminated job must not come back
    assert sorted(runner.numbers()) == [1, 2, 3]
    (letter,) = await stream.dead_letters()
    assert letter["reason"] == "permanent_error"
    assert letter["error"] == "repository access revoked"
    assert letter["error_type"] == "PermanentError"
    assert letter["job"]["number"] == 2
    assert letter["job"]["head_sha"] == make_job(2).head_sha


async def test_job_failing_on_every_delivery_is_dead_lettered_at_max_deliver(stream: Stream) -> None:
    """A job that fails retryably on each of its max_deliver deliveries is dead-lettered, not left stuck."""

    async def behave(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        raise RetryableError("LLM overloaded", delay=0.1)

    runner = RecordingRunner(behave)
    loop = await review_loop(stream.jobs, runner, fast_settings(max_deliver=3))
    await stream.publish_jobs(make_job(1))
    async with running(loop):
        await eventually(lambda: _has_dead_letters(stream, 1))
        await asyncio.sleep(1.2)
    assert runner.calls == [(1, 1), (1, 2), (1, 3)]
    (letter,) = await stream.dead_letters()
    assert letter["reason"] == "max_deliver"
    assert letter["num_delivered"] == 3
    assert letter["error"] == "LLM overloaded"
    assert await stream.messages(stream.names.jobs_stream) == 0


async def test_unexpected_exception_does_not_stop_the_consumer(stream: Stream) -> None:
    """A bug in the pipeline (a plain exception) is settled like a retryable failure; others keep flowing."""

    async def behave(job: ReviewJob, _: int, __: Heartbeat) -> ReviewOutcome:
        if job.number == 1:
            raise KeyError("oops")
        return ReviewOutcome.posted(2)

    runner = RecordingRunner(behave)
    loop = await review_loop(stream.jobs, runner, fast_settings(max_deliver=1))
    await stream.publish_jobs(make_job(1), make_job(2))
    async with running(loop):
        await eventually(lambda: _has_dead_letters(stream, 1))
        await eventually(lambda: _done(stream, runner, 2))
    (letter,) = await stream.dead_letters()
    assert (letter["reason"], letter["error_type"]) == ("max_deliver", "KeyError")


async def test_review_running_past_its_limit_is_cancelled_and_retried(stream: Stream) -> None:
    """A wedged review is cancelled after max_review_seconds and treated as retryable (here: last try)."""

    async def wedge(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        await asyncio.sleep(60)
        return ReviewOutcome.posted(1)

    runner = RecordingRunner(wedge)
    loop = await review_loop(stream.jobs, runner, fast_settings(max_review_seconds=1.0, max_deliver=1))
    await stream.publish_jobs(make_job(1))
    async with running(loop):
        await eventually(lambda: _has_dead_letters(stream, 1))
    assert runner.cancelled == [1]
    (letter,) = await stream.dead_letters()
    assert (letter["reason"], letter["error"]) == ("max_deliver", "review took longer than 1s")


async def test_unknown_job_version_is_terminated_and_dead_lettered(stream: Stream) -> None:
    """A job of a version this reviewer does not know never reaches the pipeline: dead-lettered."""
    runner = RecordingRunner()
    loop = await review_loop(stream.jobs, runner, fast_settings())
    await stream.jobs.publish_job(b'{"version": 99, "number": 9}', key="v99", headers={})
    await stream.jobs.publish_job(b"not json", key="garbage", headers={})
    async with running(loop):
        await eventually(lambda: _has_dead_letters(stream, 2))
        await asyncio.sleep(1.2)
    assert runner.calls == []
    letters = sorted(await stream.dead_letters(), key=lambda letter: letter["reason"])
    assert [letter["reason"] for letter in letters] == ["invalid_job", "unknown_version"]
    assert letters[1]["raw"] == '{"version": 99, "number": 9}'
    assert await stream.messages(stream.names.jobs_stream) == 0


async def test_concurrency_limit_is_respected(stream: Stream) -> None:
    """No more than ``concurrency`` reviews run at once in one process, and the limit is actually used."""

    async def behave(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        await asyncio.sleep(0.15)
        return ReviewOutcome.posted(1)

    runner = RecordingRunner(behave)
    loop = await review_loop(stream.jobs, runner, fast_settings(concurrency=3, llm_concurrency=3))
    await stream.publish_jobs(*(make_job(n) for n in range(1, 13)))
    async with running(loop):
        await eventually(lambda: _done(stream, runner, 12))
    assert runner.max_in_flight == 3
    assert sorted(runner.numbers()) == list(range(1, 13))


async def test_hundreds_of_reviews_run_concurrently_in_one_process(stream: Stream) -> None:
    """With concurrency 128, 128 slow reviews are all in flight at once (the benchmark's shape)."""
    release = asyncio.Event()

    async def behave(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        await release.wait()
        return ReviewOutcome.posted(1)

    runner = RecordingRunner(behave)
    settings = fast_settings(concurrency=128, llm_concurrency=128, ack_wait_seconds=10.0)
    loop = await review_loop(stream.jobs, runner, settings)
    await stream.publish_jobs(*(make_job(n) for n in range(1, 161)))

    async def all_slots_busy() -> bool:
        return runner.in_flight == 128

    async with running(loop):
        await eventually(all_slots_busy)
        release.set()
        await eventually(lambda: _done(stream, runner, 160))
    assert runner.max_in_flight == 128


async def test_long_review_with_heartbeats_is_not_redelivered(stream: Stream) -> None:
    """A review running 3× the ack wait keeps its delivery alive with in-progress acks: no redelivery."""

    async def behave(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        await asyncio.sleep(3.0)
        return ReviewOutcome.posted(1)

    runner = RecordingRunner(behave)
    # Two pods: a redelivery would go to the idle one, so a missing heartbeat could not go unnoticed.
    settings = fast_settings(ack_wait_seconds=1.0)
    first = await review_loop(stream.jobs, runner, settings)
    second = await review_loop(await stream.connect_another(), runner, settings)
    await stream.publish_jobs(make_job(1))
    async with running(first, second):
        await eventually(lambda: _done(stream, runner, 1))
    assert runner.calls == [(1, 1)]


async def test_stalled_review_without_heartbeats_would_be_redelivered(stream: Stream) -> None:
    """Control for the heartbeat test: a pod dying mid-review (no heartbeats) loses the job to another."""
    started = asyncio.Event()

    async def hang(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        started.set()
        await asyncio.sleep(60)
        return ReviewOutcome.posted(1)

    dead_runner = RecordingRunner(hang)
    settings = fast_settings(ack_wait_seconds=1.0)
    dying = await review_loop(
        await stream.connect_another(), dead_runner, fast_settings(grace_period_seconds=0.1)
    )
    task = asyncio.create_task(dying.run())
    await stream.publish_jobs(make_job(1))
    await asyncio.wait_for(started.wait(), 5)
    # The pod vanishes: its connection closes without settling anything, its loop never runs again.
    await stream._others[0].close()
    task.cancel()
    healthy = RecordingRunner()
    loop = await review_loop(stream.jobs, healthy, settings)
    began = time.monotonic()
    async with running(loop):
        await eventually(lambda: _done(stream, healthy, 1))
    assert healthy.calls == [(1, 1)]
    assert time.monotonic() - began >= 0.5  # it came back only after the ack wait ran out
    await asyncio.gather(task, return_exceptions=True)


async def test_job_whose_last_delivery_dies_with_its_pod_is_dead_lettered(stream: Stream) -> None:
    """A pod dying during a job's last allowed delivery: JetStream's max-deliveries advisory makes another
    pod dead-letter the job and remove it from the work queue (it would otherwise stay there forever)."""
    started = asyncio.Event()

    async def hang(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        started.set()
        await asyncio.sleep(60)
        return ReviewOutcome.posted(1)

    settings = fast_settings(max_deliver=1, ack_wait_seconds=1.0, grace_period_seconds=0.1)
    dying = await review_loop(await stream.connect_another(), RecordingRunner(hang), settings)
    survivor = ReviewWorker(RecordingRunner(), stream.jobs, settings)
    stop_watching = await stream.jobs.watch_exhausted(survivor.handle_exhausted)
    task = asyncio.create_task(dying.run())
    await stream.publish_jobs(make_job(1))
    await asyncio.wait_for(started.wait(), 5)
    await stream._others[0].close()  # the pod vanishes without settling its delivery
    task.cancel()
    await eventually(lambda: _has_dead_letters(stream, 1))
    await eventually(lambda: _jobs_left(stream, 0))
    await stop_watching()
    await asyncio.gather(task, return_exceptions=True)
    (letter,) = await stream.dead_letters()
    assert letter["reason"] == "max_deliver"
    assert letter["num_delivered"] == 1
    assert letter["job"]["number"] == 1


async def test_two_workers_share_the_work_each_job_once(stream: Stream) -> None:
    """Two reviewer pods on the one durable consumer split the jobs; every job is reviewed exactly once."""

    async def behave(_: ReviewJob, __: int, ___: Heartbeat) -> ReviewOutcome:
        await asyncio.sleep(0.05)
        return ReviewOutcome.posted(1)

    first, second = RecordingRunner(behave), RecordingRunner(behave)
    settings = fast_settings(concurrency=2, llm_concurrency=2)
    loop_a = await review_loop(stream.jobs, first, settings)
    loop_b = await review_loop(await stream.connect_another(), second, settings)
    await stream.publish_jobs(*(make_job(n) for n in range(1, 31)))

    async def all_done() -> bool:
        return len(first.finished) + len(second.finished) == 30

    async with running(loop_a, loop_b):
        await eventually(all_done)
        await asyncio.sleep(1.2)  # past ack_wait: no job comes back to anyone
    numbers = first.numbers() + second.numbers()
    assert sorted(numbers) == list(range(1, 31))
    assert first.calls
    assert second.calls


async def test_shutdown_finishes_in_flight_and_hands_back_the_rest(stream: Stream) -> None:
    """On stop: a review that ends within the grace period is acked; the others are nak'd and another pod
    takes them at once (long before the ack wait), together with the jobs never fetched."""
    quick_done = asyncio.Event()

    async def stopping_pod(job: ReviewJob, _: int, __: Heartbeat) -> ReviewOutcome:
        if job.number == 1:
            await asyncio.sleep(0.3)
            quick_done.set()
            return ReviewOutcome.posted(1)
        await asyncio.sleep(60)  # cannot finish within the grace period
        return ReviewOutcome.posted(job.number)

    leaving = RecordingRunner(stopping_pod)
    staying = RecordingRunner()
    settings = fast_settings(
        concurrency=3, llm_concurrency=3, ack_wait_seconds=20.0, grace_period_seconds=1.0
    )
    loop_a = await review_loop(stream.jobs, leaving, settings)
    await stream.publish_jobs(*(make_job(n) for n in range(1, 6)))

    async def three_running() -> bool:
        return leaving.in_flight == 3

    task_a = asyncio.create_task(loop_a.run())
    await eventually(three_running)
    loop_a.stop()
    began = time.monotonic()
    await task_a
    assert quick_done.is_set()
    assert 0.9 <= time.monotonic() - began < 5  # waited for the grace period, not for the 60 s reviews
    assert leaving.finished == [1]

    loop_b = await review_loop(await stream.connect_another(), staying, settings)
    async with running(loop_b):
        await eventually(lambda: _done(stream, staying, 4), within=5)
    # Handed back immediately: far sooner than the 20 s ack wait.
    assert time.monotonic() - began < 8
    assert sorted(staying.numbers()) == [2, 3, 4, 5]
    assert sorted(leaving.numbers()) == [1, 2, 3]


async def _done(stream: Stream, runner: RecordingRunner, count: int) -> bool:
    return len(runner.finished) >= count and await stream.messages(stream.names.jobs_stream) == 0


async def _jobs_left(stream: Stream, count: int) -> bool:
    return await stream.messages(stream.names.jobs_stream) == count


async def _has_dead_letters(stream: Stream, count: int) -> bool:
    return await stream.messages(stream.names.dead_letter_stream) >= count
