"""The review pipeline carrying out command jobs, in process: the production GitHub adapter against the fake
GitHub, real Redis for locks and state, built-in checks only (no LLM)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from argoai_core.models.job import CommandJob, RepoRef, ReviewJob
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import NamedPolicy, PolicySet, StaticPolicyProvider
from argoai_core.settings import GitHubSettings, RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
    RedisTokenBudget,
)
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.conversation.markers import find_command_marker
from argoai_reviewer.conversation.pipeline import PipelineOptions, ReviewPipeline
from argoai_reviewer.outcome import OutcomeKind
from support.fake_github import FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, HEAD2, BASE = "a" * 40, "c" * 40, "b" * 40
INSTALLATION = 77
# A merge-conflict marker: a finding of the built-in checks, so a review has something to say.
CODE = "x = 1\n<<<<<<< HEAD\ny = 2\n"
PATCH = "@@ -0,0 +1,3 @@\n+x = 1\n+<<<<<<< HEAD\n+y = 2\n"
FAST = GitHubPolicy(backoff_seconds=0.01, write_spacing_seconds=0.05, write_wait_seconds=5.0)


@dataclass
class World:
    """The pipeline under test and what it talks to."""

    fake: FakeGitHub
    pipeline: ReviewPipeline
    state: RedisReviewState
    repo: RepoRef


WorldFactory = Callable[[PolicySpec], World]


async def no_beat() -> None:
    """A heartbeat that does nothing (no queue here)."""


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A fake GitHub with PR 3 open at HEAD."""
    with FakeGitHub().serving() as server:
        server.add_pull_request(
            OWNER, REPO, 3, HEAD, BASE, [("app.py", PATCH, CODE)], installation_id=INSTALLATION
        )
        yield server


@pytest.fixture
async def make_world(fake: FakeGitHub, redis_settings: RedisSettings) -> AsyncIterator[WorldFactory]:
    """Build the pipeline with a given cluster policy (the App installed on the fake)."""
    app = fake.install_app(installation_id=INSTALLATION)
    settings = GitHubSettings(api_url=fake.url, app_id=app.app_id, private_key=SecretStr(app.key.pkcs1))
    github = GitHubAppAdapter.from_settings(settings, redis_settings, policy=FAST)
    redis = RedisConnection.from_settings(redis_settings)

    def build(policy: PolicySpec) -> World:
        state = RedisReviewState(redis, ttl_seconds=3600)
        pipeline = ReviewPipeline(
            github=github,
            policies=StaticPolicyProvider(PolicySet.of([NamedPolicy("default", policy)])),
            model=None,
            lock=RedisReviewLock(redis),
            state=state,
            history=RedisReviewHistory(redis, max_per_repo=10),
            budget=RedisTokenBudget(redis),
            options=PipelineOptions(analysis=AnalysisOptions()),
        )
        return World(fake, pipeline, state, RepoRef(host=github.host, owner=OWNER, name=REPO))

    yield build
    await github.aclose()
    await redis.aclose()


def command(world: World, name: str, comment_id: int) -> CommandJob:
    return CommandJob(
        delivery_id=f"d-{comment_id}", installation_id=INSTALLATION, repo=world.repo, number=3,
        command=name, comment_id=comment_id, commenter="maintainer", default_branch="main",
    )  # fmt: skip


def pushed(world: World, head: str) -> ReviewJob:
    return ReviewJob(
        delivery_id=f"push-{head[:4]}", installation_id=INSTALLATION, repo=world.repo, number=3,
        action="synchronize", head_sha=head, base_sha=BASE, base_ref="main", default_branch="main",
    )  # fmt: skip


def posted(world: World) -> list[str]:
    return [review.body for review in world.fake.reviews_posted(OWNER, REPO, 3)]


async def test_one_review_command_posts_one_review_however_often_it_runs(make_world: WorldFactory) -> None:
    """A redelivered command finds the review it posted (by its marker) even after the PR moved on."""
    world = make_world(PolicySpec())
    first = await world.pipeline.run(command(world, "review", 501), no_beat)
    assert first.kind is OutcomeKind.POSTED
    world.fake.push(OWNER, REPO, 3, HEAD2, [("app.py", PATCH, CODE)])
    again = await world.pipeline.run(command(world, "review", 501), no_beat)
    assert again.kind is OutcomeKind.DUPLICATE
    assert [find_command_marker(body) for body in posted(world)] == [501]


async def test_review_command_reviews_a_head_already_reviewed(make_world: WorldFactory) -> None:
    """An event review of the head does not stop an explicit command from reviewing it again."""
    world = make_world(PolicySpec())
    assert (await world.pipeline.run(pushed(world, HEAD), no_beat)).kind is OutcomeKind.POSTED
    assert (await world.pipeline.run(pushed(world, HEAD), no_beat)).kind is OutcomeKind.DUPLICATE
    assert (await world.pipeline.run(command(world, "review", 502), no_beat)).kind is OutcomeKind.POSTED
    assert [find_command_marker(body) for body in posted(world)] == [None, 502]


async def test_a_command_the_policy_does_not_enable_does_nothing(make_world: WorldFactory) -> None:
    """``ignore`` is off by default: no state change, no GitHub call, later pushes still reviewed."""
    world = make_world(PolicySpec())
    outcome = await world.pipeline.run(command(world, "ignore", 503), no_beat)
    assert outcome.kind is OutcomeKind.SKIPPED
    assert "does not enable" in outcome.reason
    assert world.fake.requests_to("/repos/") == []
    assert await world.state.is_ignored(command(world, "ignore", 503).pr_key) is False


async def test_ignore_then_review(make_world: WorldFactory) -> None:
    """``ignore`` skips pushes without touching GitHub; ``review`` lifts it and reviews the current head."""
    world = make_world(PolicySpec(commands=["review", "ignore"]))
    assert (await world.pipeline.run(command(world, "ignore", 504), no_beat)).kind is OutcomeKind.SKIPPED
    skipped = await world.pipeline.run(pushed(world, HEAD), no_beat)
    assert skipped.kind is OutcomeKind.SKIPPED
    assert "ignored" in skipped.reason
    assert world.fake.requests_to("/pulls/3") == []
    assert (await world.pipeline.run(command(world, "review", 505), no_beat)).kind is OutcomeKind.POSTED
    world.fake.push(OWNER, REPO, 3, HEAD2, [("app.py", PATCH, CODE)])
    assert (await world.pipeline.run(pushed(world, HEAD2), no_beat)).kind is OutcomeKind.POSTED
    assert len(posted(world)) == 2


async def test_review_command_on_a_closed_pull_request_posts_nothing(make_world: WorldFactory) -> None:
    """A command for a PR closed since is superseded."""
    world = make_world(PolicySpec())
    world.fake.pull(OWNER, REPO, 3).state = "closed"
    outcome = await world.pipeline.run(command(world, "review", 506), no_beat)
    assert outcome.kind is OutcomeKind.SUPERSEDED
    assert posted(world) == []
