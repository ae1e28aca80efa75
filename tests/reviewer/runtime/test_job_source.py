"""The JetStream source of deliveries, against the real nats-server: a fetch hands out no more than asked."""

from __future__ import annotations

import asyncio
import json

from argoai_reviewer.adapters.jobs import JetStreamSource
from argoai_reviewer.settings import ReviewerSettings
from reviewer.runtime.helpers import Stream, make_job


async def _late_messages(stream: Stream, count: int) -> JetStreamSource:
    """A source whose subscription already holds ``count`` received messages nobody fetched.

    As in production when a fetch gives up just before its messages arrive: here a pull request for
    ``count`` is sent and its fetch cancelled at once, so the messages land in nats-py's queue.
    """
    config = stream.jobs.review_consumer_config(ReviewerSettings())
    assert config.durable_name is not None
    await stream.js.add_consumer(stream.names.jobs_stream, config)
    subscription = await stream.js.pull_subscribe_bind(
        durable=config.durable_name, stream=stream.names.jobs_stream
    )
    await stream.publish_jobs(*(make_job(number) for number in range(1, count + 1)))
    abandoned = asyncio.create_task(subscription.fetch(batch=count, timeout=5))
    await asyncio.sleep(0)  # the pull request is sent...
    abandoned.cancel()  # ...and its fetch gives up before the answer
    await asyncio.gather(abandoned, return_exceptions=True)
    await asyncio.sleep(0.5)
    return JetStreamSource(stream.js, subscription)


async def test_a_fetch_returns_at_most_its_count_and_keeps_the_rest_for_the_next(stream: Stream) -> None:
    """Five late messages: fetch(2) gives 2, then 2, then 1, each job once (nats-py alone gave all 5)."""
    source = await _late_messages(stream, 5)

    sizes, numbers = [], []
    for _ in range(3):
        got = await source.fetch(2, 1.0)
        sizes.append(len(got))
        for delivery in got:
            numbers.append(json.loads(await delivery.body())["number"])
            await delivery.ack()

    assert sizes == [2, 2, 1]
    assert sorted(numbers) == [1, 2, 3, 4, 5]
    assert await source.fetch(2, 0.2) == []
    await source.close()
