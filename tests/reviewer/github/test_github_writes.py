"""Reviews and comments: exactly the payload GitHub expects, and one write at a time per installation."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from argoai_core.errors import InvalidInputError, RateLimitedError
from argoai_core.models.job import RepoRef
from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.github_writes import WriteGate
from argoai_reviewer.domain import InlineComment, ReviewDraft
from support.fake_github import AppCredentials, FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
PATCH = "@@ -1,3 +1,5 @@\n one\n+two\n+three\n four\n five"
AdapterFactory = Callable[..., GitHubAppAdapter]
PACED = GitHubPolicy(backoff_seconds=0.01, write_spacing_seconds=0.3, write_wait_seconds=10.0)


@pytest.fixture(autouse=True)
def pull(fake: FakeGitHub, app: AppCredentials) -> None:
    """Pull request #7 adding lines 2 and 3 of src/app.py."""
    fake.add_pull_request(
        OWNER,
        REPO,
        7,
        HEAD,
        BASE,
        [("src/app.py", PATCH, "one\ntwo\nthree\nfour\nfive\n")],
        installation_id=app.installation_id,
    )


async def test_post_review_sends_what_github_expects(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """POST /pulls/7/reviews carries commit_id, body, event and RIGHT-side comments (ranges with start_*)."""
    draft = ReviewDraft(
        commit_id=HEAD,
        body="Summary",
        event="COMMENT",
        comments=[
            InlineComment(path="src/app.py", line=2, body="single"),
            InlineComment(path="src/app.py", line=3, body="range", start_line=2),
            InlineComment(path="src/app.py", line=3, body="one-line range", start_line=3),
        ],
    )
    review_id = await adapter.installation(app.installation_id).post_review(repo, 7, draft)
    [request] = fake.requests_to("/pulls/7/reviews", "POST")
    assert request.body == {
        "commit_id": HEAD,
        "body": "Summary",
        "event": "COMMENT",
        "comments": [
            {"path": "src/app.py", "line": 2, "side": "RIGHT", "body": "single"},
            {
                "path": "src/app.py",
                "line": 3,
                "side": "RIGHT",
                "body": "range",
                "start_line": 2,
                "start_side": "RIGHT",
            },
            {"path": "src/app.py", "line": 3, "side": "RIGHT", "body": "one-line range"},
        ],
    }
    [posted] = fake.reviews_posted(OWNER, REPO, 7)
    assert posted.id == review_id
    assert posted.state == "COMMENTED"


async def test_review_off_the_diff_is_invalid_input(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """GitHub's 422 for a comment off the diff is InvalidInputError (the caller can post without them)."""
    draft = ReviewDraft(
        commit_id=HEAD, body="x", comments=[InlineComment(path="src/app.py", line=9, body="off")]
    )
    with pytest.raises(InvalidInputError, match="422"):
        await adapter.installation(app.installation_id).post_review(repo, 7, draft)
    assert fake.reviews_posted(OWNER, REPO, 7) == []
    assert len(fake.requests_to("/pulls/7/reviews", "POST")) == 1  # a 422 is not retried


async def test_post_comment(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """post_comment creates one conversation comment with the given body."""
    await adapter.installation(app.installation_id).post_comment(repo, 7, "Review failed: try again later.")
    assert [c.body for c in fake.comments_posted(OWNER, REPO, 7)] == ["Review failed: try again later."]


async def test_short_secondary_limit_on_write_is_retried(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A write refused with a short retry-after was not processed, so it is sent again and lands once."""
    fake.rate_limit_next(1, status=403, retry_after=1, path_contains="/reviews", method="POST")
    await adapter.installation(app.installation_id).post_review(
        repo, 7, ReviewDraft(commit_id=HEAD, body="ok")
    )
    assert [r.status for r in fake.requests_to("/pulls/7/reviews", "POST")] == [403, 200]
    assert len(fake.reviews_posted(OWNER, REPO, 7)) == 1


async def test_writes_one_at_a_time_across_instances(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """Comments from two adapter instances (two pods) never overlap and start ≥ the spacing apart."""
    fake.write_latency = 0.1
    pods = [make_adapter(policy=PACED), make_adapter(policy=PACED)]
    repo = RepoRef(host=pods[0].host, owner=OWNER, name=REPO)
    await asyncio.gather(
        *(pods[i % 2].installation(app.installation_id).post_comment(repo, 7, f"c{i}") for i in range(6))
    )
    assert len(fake.comments_posted(OWNER, REPO, 7)) == 6
    assert fake.max_writes_in_flight[app.installation_id] == 1
    writes = sorted(fake.writes)
    gaps = [later[1] - earlier[2] for earlier, later in itertools.pairwise(writes)]
    assert min(gaps) >= 0.3 - 0.02  # spacing measured from the end of one write to the start of the next


async def test_no_write_turn_in_time_is_rate_limited(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """A writer that cannot get the installation's write turn in time gets RateLimitedError, not a hang."""
    fake.write_latency = 1.0
    slow = make_adapter(policy=PACED)
    impatient = make_adapter(policy=replace(PACED, write_wait_seconds=0.2))
    repo = RepoRef(host=slow.host, owner=OWNER, name=REPO)
    holder = asyncio.create_task(slow.installation(app.installation_id).post_comment(repo, 7, "slow"))
    await asyncio.sleep(0.2)
    with pytest.raises(RateLimitedError):
        await impatient.installation(app.installation_id).post_comment(repo, 7, "late")
    await holder
    assert [c.body for c in fake.comments_posted(OWNER, REPO, 7)] == ["slow"]


async def test_hourly_write_budget(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """Beyond writes_per_hour the adapter refuses to write, with a delay until the hour is over."""
    adapter = make_adapter(policy=replace(PACED, write_spacing_seconds=0.01, writes_per_hour=2))
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    inst = adapter.installation(app.installation_id)
    await inst.post_comment(repo, 7, "one")
    await inst.post_comment(repo, 7, "two")
    with pytest.raises(RateLimitedError) as caught:
        await inst.post_comment(repo, 7, "three")
    assert 3500 < caught.value.delay <= 3600
    assert len(fake.comments_posted(OWNER, REPO, 7)) == 2


async def test_writes_of_other_installations_do_not_wait(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """The write turn is per installation: another installation's write is not held up."""
    fake.add_installation(88, app.app_id, "other-org")
    fake.add_pull_request(
        "other-org", "svc", 1, HEAD, BASE, [("a.py", "@@ -0,0 +1 @@\n+x", "x\n")], installation_id=88
    )
    # Each write takes 1 s at the fake: had one waited for the other's turn, the second would arrive after the
    # first one's answer. Arrival times, not the wall time, so that a loaded machine cannot fail the test.
    fake.write_latency = 1.0
    adapter = make_adapter(policy=PACED)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    other = RepoRef(host=adapter.host, owner="other-org", name="svc")
    await asyncio.gather(
        adapter.installation(app.installation_id).post_comment(repo, 7, "a"),
        adapter.installation(88).post_comment(other, 1, "b"),
    )
    first, second = sorted(r.at for r in fake.requests_to("/comments", method="POST"))
    assert second - first < fake.write_latency


async def test_a_write_longer_than_the_lease_keeps_its_turn(
    redis_client: aioredis.Redis, redis_settings: RedisSettings
) -> None:
    """The write turn is a short lease renewed while the write runs: a slow write is not overtaken."""
    policy = replace(PACED, write_spacing_seconds=0.0, write_wait_seconds=5.0)
    gates = [WriteGate(redis_client, prefix=redis_settings.key_prefix, policy=policy, lock_ttl_seconds=0.6)]
    gates.append(
        WriteGate(redis_client, prefix=redis_settings.key_prefix, policy=policy, lock_ttl_seconds=0.6)
    )
    order: list[str] = []

    async def write(gate: WriteGate, name: str, seconds: float) -> None:
        async with gate.turn(1):
            order.append(f"{name} start")
            await asyncio.sleep(seconds)
            order.append(f"{name} end")

    slow = asyncio.create_task(write(gates[0], "slow", 2.0))
    await asyncio.sleep(0.1)
    await write(gates[1], "next", 0.0)
    await slow
    assert order == ["slow start", "slow end", "next start", "next end"]


async def test_a_dead_writers_turn_ends_with_its_lease(
    redis_client: aioredis.Redis, redis_settings: RedisSettings
) -> None:
    """A pod that dies holding the turn (its lock neither released nor renewed) holds others up one lease."""
    policy = replace(PACED, write_spacing_seconds=0.0, write_wait_seconds=5.0)
    prefix = redis_settings.key_prefix
    # What a killed pod leaves behind: the lock key with its lease running out, and no one renewing it.
    await redis_client.set(f"{prefix}:writes:1:lock", "dead-pod-token", px=600)
    started = asyncio.get_running_loop().time()
    async with WriteGate(redis_client, prefix=prefix, policy=policy, lock_ttl_seconds=0.6).turn(1):
        waited = asyncio.get_running_loop().time() - started
    assert 0.3 < waited < 1.5
