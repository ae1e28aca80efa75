"""The notification consumer on real JetStream, posting with httpx to fake Slack, Discord and webhook
servers: formats, signatures, retries through an outage, dead letters, and no URL in any log line."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
from nats.js.api import ConsumerConfig

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.adapters.dead_letters import JetStreamDeadLetters
from argoai_reviewer.adapters.notify_http import HttpxPoster
from argoai_reviewer.audit.dead_letters import DeadLetters
from argoai_reviewer.notify.routing import Notifier
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.notify_worker import NotificationWorker
from argoai_reviewer.settings import NotifySettings, parse_targets
from reviewer.runtime.helpers import Stream, make_job
from support.fake_notify import FakeDiscord, FakeSlack, FakeWebhook

SIGNING_KEY = "webhook-signing-key-0123456789"
POLICY = PolicySpec.model_validate(
    {
        "notifications": [
            {"events": ["critical_findings"], "targets": ["slack", "discord", "hook"]},
            {"events": ["review_failed"], "targets": ["slack"]},
        ]
    }
)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeDiscord, FakeWebhook]]:
    """The three fake receivers, serving."""
    slack, discord, hook = FakeSlack(), FakeDiscord(), FakeWebhook(SIGNING_KEY)
    with slack.serving(), discord.serving(), hook.serving():
        yield slack, discord, hook


def _targets(slack: FakeSlack, discord: FakeDiscord, hook: FakeWebhook) -> str:
    return json.dumps(
        {
            "slack": {"kind": "slack", "url": slack.url},
            "discord": {"kind": "discord", "url": discord.url},
            "hook": {"kind": "webhook", "url": hook.url, "secret": SIGNING_KEY},
        }
    )


@asynccontextmanager
async def running(stream: Stream, settings: NotifySettings) -> AsyncIterator[None]:
    """The notification consumer loop, as the reviewer process runs it."""
    urls = [target.url.get_secret_value() for target in settings.parsed_targets.values()]
    poster = HttpxPoster(settings.timeout_seconds, urls)
    worker = NotificationWorker(settings.parsed_targets, poster, stream.jobs, settings)
    source = await stream.jobs.notify_source(settings)
    loop = ConsumerLoop("notify", source, worker.handle, concurrency=2, fetch_timeout=0.2, grace_period=1)
    task = asyncio.create_task(loop.run())
    try:
        yield
    finally:
        loop.stop()
        await task
        await source.close()
        await poster.aclose()


async def until(condition: Callable[[], bool], seconds: float = 20) -> None:
    """Wait until ``condition`` holds (the fakes answer in their own threads: polled)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_critical_finding_reaches_each_target_once_in_its_format(
    stream: Stream, fakes: tuple[FakeSlack, FakeDiscord, FakeWebhook], caplog: pytest.LogCaptureFixture
) -> None:
    """Slack gets Block Kit, Discord an embed, the webhook a correctly signed JSON body; once each, and
    neither the messages nor the logs contain a target URL."""
    slack, discord, hook = fakes
    settings = NotifySettings(targets=_targets(*fakes))
    notifier = Notifier(stream.jobs, list(settings.parsed_targets))
    job = make_job(7)
    from argoai_core.models.notification import NotifiedFinding

    finding = NotifiedFinding(severity="critical", title="SQL injection <!channel>", path="db.py", line=4)
    caplog.set_level(logging.DEBUG)
    async with running(stream, settings):
        await notifier.critical_findings(job, POLICY, [finding])
        # Published again (another pod, a retried job): deduplicated by the stream.
        await notifier.critical_findings(job, POLICY, [finding])
        await until(lambda: bool(slack.received and discord.received and hook.received))
        await asyncio.sleep(0.5)
    assert len(slack.received) == len(discord.received) == len(hook.received) == 1
    assert slack.received[0].json["blocks"][0]["type"] == "header"
    assert discord.received[0].json["allowed_mentions"] == {"parse": []}
    assert hook.received[0].json["event"] == "critical_findings"
    assert hook.received[0].headers["X-ArgoAI-Delivery"] == f"hook:critical:{job.key}"
    assert "<!channel>" not in slack.received[0].body.decode()
    assert "<!channel>" not in discord.received[0].body.decode()
    for fake in fakes:
        body = fake.received[0].body.decode()
        for other in fakes:
            assert other.path not in body
    for other in fakes:
        assert other.path not in caplog.text
    assert SIGNING_KEY not in caplog.text


async def test_slack_down_then_back_gets_the_message_once(
    stream: Stream, fakes: tuple[FakeSlack, FakeDiscord, FakeWebhook]
) -> None:
    """While Slack answers 503 the notification is retried with backoff; once it is back it arrives once."""
    slack = fakes[0]
    settings = NotifySettings(targets=_targets(*fakes), backoff_seconds=0.2, backoff_max_seconds=0.5)
    notifier = Notifier(stream.jobs, list(settings.parsed_targets))
    slack.down()
    async with running(stream, settings):
        await notifier.review_failed(make_job(8), POLICY, "max_deliver")
        await until(lambda: slack.failed_while_down >= 3)
        slack.up()
        await until(lambda: bool(slack.received))
        await asyncio.sleep(0.5)
    assert len(slack.received) == 1
    assert "failed for good" in slack.received[0].json["text"]


async def test_a_refusing_target_is_dead_lettered_without_retries(
    stream: Stream, fakes: tuple[FakeSlack, FakeDiscord, FakeWebhook]
) -> None:
    """A 4xx other than 408/429 (a revoked or wrong URL) goes to the dead-letter stream at once."""
    slack = fakes[0]
    targets = json.dumps({"slack": {"kind": "slack", "url": slack.url + "-revoked"}})
    settings = NotifySettings(targets=targets, backoff_seconds=0.2)
    async with running(stream, settings):
        await Notifier(stream.jobs, ["slack"]).review_failed(make_job(9), POLICY, "permanent_error")
        letters = await _dead_letters(stream, 1)
    assert letters[0]["reason"] == "refused"
    assert letters[0]["notification"]["target"] == "slack"
    assert slack.url not in json.dumps(letters)
    assert len(slack.refused) == 1


async def test_argoai_dlq_lists_a_notification_letter_and_replays_it_to_its_target(
    stream: Stream, fakes: tuple[FakeSlack, FakeDiscord, FakeWebhook]
) -> None:
    """A refused notification is listed as kind notification with its pull request; once the target's URL is
    fixed, replaying it delivers it once, removes the letter and records who replayed it."""
    slack = fakes[0]
    revoked = json.dumps({"slack": {"kind": "slack", "url": slack.url + "-revoked"}})
    async with running(stream, NotifySettings(targets=revoked, backoff_seconds=0.2)):
        await Notifier(stream.jobs, ["slack"]).review_failed(make_job(11), POLICY, "permanent_error")
        await _dead_letters(stream, 1)
    letters = DeadLetters(JetStreamDeadLetters(stream.js, stream.names), stream.names)
    (letter,) = await letters.all()
    summary = letter.summary()
    assert (summary["kind"], summary["repo"], summary["pr"], summary["reason"]) == (
        "notification",
        make_job(11).repo.full_name,
        11,
        "refused",
    )

    fixed = json.dumps({"slack": {"kind": "slack", "url": slack.url}})
    async with running(stream, NotifySettings(targets=fixed, backoff_seconds=0.2)):
        replayed = await letters.replay(letter, actor="oncall")
        await until(lambda: bool(slack.received))
        await asyncio.sleep(0.5)
    assert len(slack.received) == 1
    assert "failed for good" in slack.received[0].json["text"]
    assert await letters.all() == []
    assert (replayed.record.subject, replayed.record.actor, replayed.record.number) == (
        "notification",
        "oncall",
        11,
    )


async def test_an_unreachable_target_is_dead_lettered_after_max_deliver(
    stream: Stream, fakes: tuple[FakeSlack, FakeDiscord, FakeWebhook]
) -> None:
    """A target that never answers is tried max_deliver times, then dead-lettered."""
    targets = json.dumps({"slack": {"kind": "slack", "url": "http://127.0.0.1:9/hooks/x"}})
    settings = NotifySettings(targets=targets, backoff_seconds=0.1, backoff_max_seconds=0.1, max_deliver=3)
    async with running(stream, settings):
        await Notifier(stream.jobs, ["slack"]).review_failed(make_job(10), POLICY, "permanent_error")
        letters = await _dead_letters(stream, 1)
    assert letters[0]["reason"] == "max_deliver"
    assert letters[0]["num_delivered"] == 3


async def _dead_letters(stream: Stream, count: int) -> list[dict[str, object]]:
    """The notification dead letters, once ``count`` are there."""
    js, names = stream.js, stream.names
    consumer = ConsumerConfig(filter_subject=names.notify_dead_letter_subject)
    subscription = await js.pull_subscribe(
        names.notify_dead_letter_subject, stream=names.dead_letter_stream, config=consumer
    )
    letters: list[dict[str, object]] = []
    async with asyncio.timeout(20):
        while len(letters) < count:
            try:
                messages = await subscription.fetch(count - len(letters), timeout=1)
            except TimeoutError:
                continue
            letters += [json.loads(m.data) for m in messages]
    await subscription.unsubscribe()
    return letters


def test_parse_targets_keeps_the_configured_names() -> None:
    """The targets of the fixture parse (sanity of the helper)."""
    assert set(parse_targets('{"a": {"kind": "slack", "url": "https://h.example/x"}}')) == {"a"}
