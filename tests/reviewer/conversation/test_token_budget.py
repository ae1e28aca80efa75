"""The policy's daily LLM token budget, enforced by the review pipeline across pods (real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import NamedPolicy, PolicySet, StaticPolicyProvider
from argoai_core.settings import GitHubSettings, LLMSettings, RedisSettings
from argoai_reviewer import metrics as reviewer_metrics
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
from argoai_reviewer.conversation.pipeline import PipelineOptions, ReviewPipeline
from argoai_reviewer.outcome import OutcomeKind
from argoai_reviewer.wiring import build_model
from support.fake_github import FakeGitHub
from support.fake_llm import FakeLLM

OWNER, REPO, NUMBER = "octo-org", "budget", 5
HEAD, BASE = "d" * 40, "b" * 40
CODE = "def f(x):\n    return x / 0  # FIXME-BUG division by zero\n"
PATCH = "@@ -0,0 +1,2 @@\n+def f(x):\n+    return x / 0  # FIXME-BUG division by zero\n"
FAST = GitHubPolicy(backoff_seconds=0.01, write_spacing_seconds=0.05, write_wait_seconds=5.0)


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """The fake GitHub with one pull request."""
    with FakeGitHub().serving() as server:
        yield server


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """The fake LLM (a finding per FIXME-BUG line)."""
    with FakeLLM(api_key="k") as server:
        yield server


@pytest.fixture
async def world(
    fake_github: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> AsyncIterator[tuple[ReviewPipeline, RedisTokenBudget, ReviewJob]]:
    """A pipeline whose policy allows 1,000 LLM tokens a day, its budget store, and a job."""
    app = fake_github.install_app()
    fake_github.add_pull_request(
        OWNER, REPO, NUMBER, HEAD, BASE, [("f.py", PATCH, CODE)], installation_id=app.installation_id
    )
    github = GitHubAppAdapter.from_settings(
        GitHubSettings(api_url=fake_github.url, app_id=app.app_id, private_key=SecretStr(app.key.pkcs1)),
        redis_settings,
        policy=FAST,
    )
    model = build_model(
        LLMSettings(provider="openai", model="gpt-4o", base_url=fake_llm.openai_base_url, api_key="k")
    )
    redis = RedisConnection.from_settings(redis_settings)
    budget = RedisTokenBudget(redis)
    policy = PolicySpec(token_budget_per_day=1000)
    pipeline = ReviewPipeline(
        github=github,
        policies=StaticPolicyProvider(PolicySet.of([NamedPolicy("default", policy)])),
        model=model,
        lock=RedisReviewLock(redis),
        state=RedisReviewState(redis, ttl_seconds=3600),
        history=RedisReviewHistory(redis, max_per_repo=10),
        budget=budget,
        options=PipelineOptions(analysis=AnalysisOptions()),
    )
    job = ReviewJob(
        delivery_id="d1", installation_id=app.installation_id,
        repo=RepoRef(host=github.host, owner=OWNER, name=REPO), number=NUMBER, action="opened",
        head_sha=HEAD, base_sha=BASE, base_ref="main",
    )  # fmt: skip
    yield pipeline, budget, job
    await model.aclose()
    await github.aclose()
    await redis.aclose()


async def _no_beat() -> None:
    return None


async def test_tokens_spent_are_counted_against_the_repository(
    world: tuple[ReviewPipeline, RedisTokenBudget, ReviewJob], fake_llm: FakeLLM
) -> None:
    """A review with budget left calls the LLM and adds the tokens it used to the repository's day."""
    pipeline, budget, job = world
    outcome = await pipeline.run(job, _no_beat)
    assert outcome.kind is OutcomeKind.POSTED
    assert len(fake_llm.requests) == 1
    assert await budget.spent_today(f"{job.repo.host}/{OWNER}/{REPO}") > 0


async def test_a_spent_budget_leaves_the_built_in_checks_and_says_so(
    world: tuple[ReviewPipeline, RedisTokenBudget, ReviewJob], fake_llm: FakeLLM, fake_github: FakeGitHub
) -> None:
    """Once the day's tokens are spent the LLM is not called; the review says only built-in checks ran."""
    pipeline, budget, job = world
    await budget.spend(f"{job.repo.host}/{OWNER}/{REPO}", 1000)
    exhausted = reviewer_metrics.TOKEN_BUDGET_EXHAUSTED.labels(repository=f"{OWNER}/{REPO}")
    before = exhausted._value.get()
    outcome = await pipeline.run(job, _no_beat)
    assert outcome.kind is OutcomeKind.POSTED
    assert fake_llm.requests == []
    assert exhausted._value.get() == before + 1
    [review] = fake_github.reviews_posted(OWNER, REPO, NUMBER)
    assert "daily LLM token budget (1,000 tokens) is spent" in review.body
    assert "built-in checks only" in review.body
