"""The webhook redelivery job against the fake GitHub over HTTP and real Redis."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import redis.asyncio as aioredis

from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.redeliver_state import RedisRedeliveryState
from reviewer.redeliver.helpers import JobFactory, add, checkpoint_id
from support.fake_github import AppCredentials, FakeGitHub

OLD = 600.0  # ten minutes: settled, well within the 3 days
DAY = 86_400.0


def redelivered_ids(fake: FakeGitHub) -> list[int]:
    """Delivery ids GitHub was asked to redeliver, in order."""
    with fake.lock:
        return list(fake.redelivery_requests)


def set_outcome(fake: FakeGitHub, delivery_id: int, status_code: int, *, age: float) -> None:
    """Make GitHub's logged attempt ``delivery_id`` end with ``status_code``, ``age`` seconds ago."""
    with fake.lock:
        attempt = next(d for d in fake.deliveries if d.id == delivery_id)
        attempt.status_code = status_code
        attempt.status = "OK" if 200 <= status_code < 300 else f"Invalid HTTP Response: {status_code}"
        attempt.delivered_at = time.time() - age


async def forget_checkpoint(redis_settings: RedisSettings, fake: FakeGitHub) -> None:
    """Delete the stored checkpoint directly in Redis."""
    client = aioredis.from_url(redis_settings.url)
    try:
        host = fake.url.removeprefix("http://")
        assert await client.delete(f"{redis_settings.key_prefix}:redeliver:{host}:checkpoint") == 1
    finally:
        await client.aclose()


def drop_redelivered_attempts(fake: FakeGitHub) -> None:
    """Forget the attempts our redeliveries made, as if GitHub had not logged them yet (still in flight)."""
    with fake.lock:
        fake.deliveries = [d for d in fake.deliveries if not d.redelivery]


async def test_failed_guid_is_redelivered_once(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """A failed guid is redelivered once, from its latest attempt; an OK guid is left alone."""
    ok = add(fake_github, github_app, "ok-guid", 200, age=OLD + 2)
    first = add(fake_github, github_app, "failed-guid", 502, age=OLD + 1)
    latest = add(fake_github, github_app, "failed-guid", 504, age=OLD)

    summary = await make_job().run()

    assert redelivered_ids(fake_github) == [latest]
    assert (summary.failed_guids, summary.redelivered, summary.scanned) == (1, 1, 3)
    assert await checkpoint_id(state) == latest
    assert ok < first < latest
    again = await make_job().run()
    assert redelivered_ids(fake_github) == [latest]
    assert (again.failed_guids, again.redelivered) == (0, 0)


async def test_guid_with_a_later_ok_attempt_is_not_redelivered(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """A guid whose failed attempt was followed by an OK one needs nothing, and the checkpoint passes it."""
    add(fake_github, github_app, "guid-a", 500, age=OLD + 60)
    ok = add(fake_github, github_app, "guid-a", 200, age=OLD, redelivery=True)

    summary = await make_job().run()

    assert redelivered_ids(fake_github) == []
    assert summary.failed_guids == 0
    assert await checkpoint_id(state) == ok


async def test_redelivery_in_flight_is_not_repeated_within_the_cooldown(
    fake_github: FakeGitHub,
    github_app: AppCredentials,
    make_job: JobFactory,
    state: RedisRedeliveryState,
    redis_settings: RedisSettings,
) -> None:
    """A guid redelivered by a run that died before its checkpoint, its new attempt not logged yet, waits."""
    failed = add(fake_github, github_app, "guid-a", 502, age=OLD)
    await make_job().run()
    assert redelivered_ids(fake_github) == [failed]
    drop_redelivered_attempts(fake_github)
    await forget_checkpoint(redis_settings, fake_github)  # as if the first run had died before saving it
    assert await state.checkpoint() is None

    summary = await make_job().run()

    assert redelivered_ids(fake_github) == [failed]
    assert (summary.failed_guids, summary.in_cooldown, summary.redelivered) == (1, 1, 0)
    assert await checkpoint_id(state) == failed  # redelivered counts as settled


async def test_failed_redelivery_waits_for_the_cooldown_then_is_redelivered(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """A redelivery that failed again is held (checkpoint before it) until the cool-down ends."""
    failed = add(fake_github, github_app, "guid-a", 502, age=OLD)
    await make_job(cooldown_seconds=1.5).run()
    [retry_attempt] = [d.id for d in fake_github.deliveries if d.redelivery]
    set_outcome(fake_github, retry_attempt, 502, age=120)

    held = await make_job(cooldown_seconds=1.5).run()

    assert redelivered_ids(fake_github) == [failed]
    assert (held.in_cooldown, held.redelivered) == (1, 0)
    assert await checkpoint_id(state) == failed  # not past the failed redelivery

    await asyncio.sleep(1.6)
    retried = await make_job(cooldown_seconds=1.5).run()

    assert redelivered_ids(fake_github) == [failed, retry_attempt]
    assert retried.redelivered == 1
    assert await checkpoint_id(state) == retry_attempt


async def test_pages_back_to_the_checkpoint_and_no_further(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """The first run pages the whole log; the next reads only what is newer than the checkpoint."""
    ids = [add(fake_github, github_app, f"guid-{i}", 500 if i % 10 == 3 else 200, age=OLD) for i in range(35)]
    failed = [ids[i] for i in range(35) if i % 10 == 3]

    first = await make_job(per_page=10).run()

    assert (first.pages, first.scanned, first.redelivered) == (4, 35, 4)
    assert sorted(redelivered_ids(fake_github)) == failed
    assert await checkpoint_id(state) == ids[-1]
    # The redeliveries' OK attempts are newer than the checkpoint; so are five new failed deliveries.
    new = [add(fake_github, github_app, f"new-{i}", 502, age=OLD) for i in range(5)]
    listed_before = len(fake_github.requests_to("/app/hook/deliveries", method="GET"))

    second = await make_job(per_page=10).run()

    assert (second.pages, second.scanned, second.redelivered) == (1, 4 + 5, 5)
    assert len(fake_github.requests_to("/app/hook/deliveries", method="GET")) == listed_before + 1
    assert redelivered_ids(fake_github)[4:] == new


async def test_deliveries_older_than_three_days_are_skipped(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """Failed deliveries past GitHub's 3-day window are not redelivered, and the checkpoint passes them."""
    older = add(fake_github, github_app, "guid-older", 502, age=4 * DAY)
    add(fake_github, github_app, "guid-old", 502, age=3 * DAY + 60)
    recent = add(fake_github, github_app, "guid-recent", 502, age=3 * 3600)

    summary = await make_job().run()

    assert redelivered_ids(fake_github) == [recent]
    assert (summary.skipped_too_old, summary.redelivered) == (2, 1)
    assert await checkpoint_id(state) == recent
    assert older < recent


async def test_too_recent_deliveries_are_not_settled(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """Deliveries younger than the settle delay wait for the next run; the checkpoint stays before them."""
    # guid-young failed earlier too: that attempt is superseded by its newest (which holds the checkpoint).
    young_first = add(fake_github, github_app, "guid-young", 502, age=OLD + 10)
    old = add(fake_github, github_app, "guid-old", 502, age=OLD)
    young = add(fake_github, github_app, "guid-young", 502, age=5)
    young_ok = add(fake_github, github_app, "guid-young-ok", 200, age=5)

    summary = await make_job(settle_seconds=60).run()

    assert redelivered_ids(fake_github) == [old]
    assert summary.pending == 1
    assert await checkpoint_id(state) == old
    assert young_first < old < young < young_ok
    # A minute later GitHub has settled it: the next run redelivers it.
    set_outcome(fake_github, young, 502, age=OLD)

    later = await make_job(settle_seconds=60).run()

    assert redelivered_ids(fake_github) == [old, young]
    assert later.redelivered == 1


async def test_max_redeliveries_per_run_and_the_rest_next_run(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """A run redelivers at most its limit (oldest first); the following runs do the rest, each once."""
    failed = [add(fake_github, github_app, f"guid-{i}", 502, age=OLD - i) for i in range(5)]

    runs = [await make_job(max_redeliveries=2).run() for _ in range(4)]

    assert [r.redelivered for r in runs] == [2, 2, 1, 0]
    assert [r.deferred for r in runs] == [3, 1, 0, 0]
    assert redelivered_ids(fake_github) == failed
    checkpoint_after_first = runs[0].checkpoint
    assert checkpoint_after_first == failed[1]  # not past the first deferred guid
    assert await checkpoint_id(state) == failed[-1]


async def test_concurrent_runs_redeliver_each_guid_exactly_once(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory
) -> None:
    """Two runs started together (separate connections) redeliver every failed guid exactly once."""
    failed = [add(fake_github, github_app, f"guid-{i}", 502, age=OLD - i) for i in range(6)]
    fake_github.delay_next(3, 0.05, path_contains="/attempts")

    first, second = await asyncio.gather(
        make_job(spacing_seconds=0.02).run(), make_job(spacing_seconds=0.02).run()
    )

    counts = Counter(redelivered_ids(fake_github))
    assert counts == Counter(failed)
    assert first.redelivered + second.redelivered == 6
    assert first.locked != second.locked
    # Runs one after the other: the second finds nothing left to do.
    third = await make_job().run()
    assert third.redelivered == 0
    assert Counter(redelivered_ids(fake_github)) == Counter(failed)


async def test_rate_limit_mid_run_keeps_the_checkpoint_at_what_is_settled(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """Rate limited on the third redelivery: the run stops, the checkpoint passes only the first two."""
    failed = [add(fake_github, github_app, f"guid-{i}", 502, age=OLD - i) for i in range(4)]
    fake_github.rate_limit_next(1, path_contains=f"/deliveries/{failed[2]}/attempts", retry_after=60)

    summary = await make_job().run()

    assert summary.rate_limited
    assert summary.redelivered == 2
    assert await checkpoint_id(state) == failed[1]

    resumed = await make_job().run()

    assert resumed.redelivered == 2
    assert not resumed.rate_limited
    assert redelivered_ids(fake_github) == failed


async def test_rate_limit_while_listing_redelivers_nothing_and_keeps_the_checkpoint(
    fake_github: FakeGitHub, github_app: AppCredentials, make_job: JobFactory, state: RedisRedeliveryState
) -> None:
    """Rate limited while reading the log: nothing redelivered, checkpoint kept, the next run does it."""
    last = [add(fake_github, github_app, f"guid-{i}", 200, age=OLD) for i in range(3)][-1]
    await make_job().run()
    new = [add(fake_github, github_app, f"new-{i}", 502, age=OLD) for i in range(3)]
    fake_github.rate_limit_next(1, path_contains="/app/hook/deliveries", method="GET", retry_after=60)

    limited = await make_job().run()

    assert limited.rate_limited
    assert (limited.pages, limited.redelivered) == (0, 0)
    assert redelivered_ids(fake_github) == []
    assert await checkpoint_id(state) == last

    resumed = await make_job().run()

    assert redelivered_ids(fake_github) == new
    assert not resumed.rate_limited
