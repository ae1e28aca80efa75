"""An in-process review pipeline wired as production wires it, against the fake GitHub (and optionally the
fake LLM) over HTTP and real Redis: for the conversation tests (commands, summary, check runs, feedback)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from argoai_core.models.job import (
    CommandJob,
    CommentKind,
    JobCommand,
    PullRequestClosedJob,
    RepoRef,
    ReviewJob,
)
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import NamedPolicy, PolicySet, StaticPolicyProvider
from argoai_core.settings import GitHubSettings, LLMSettings, RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisRepositoryFeedback,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
    RedisTokenBudget,
)
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.conversation.answers.model import AnswerModel
from argoai_reviewer.conversation.pipeline import PipelineOptions, ReviewPipeline
from argoai_reviewer.conversation.state import TurnOptions
from argoai_reviewer.llm.structured import LLMClient
from argoai_reviewer.outcome import ReviewOutcome
from argoai_reviewer.wiring import build_model, conversation_stores
from support.fake_github import FakeGitHub
from support.fake_llm import FakeLLM

OWNER, REPO, NUMBER = "octo-org", "demo", 3
BASE = "b" * 40
INSTALLATION = 77
FAST = GitHubPolicy(backoff_seconds=0.01, write_spacing_seconds=0.01, write_wait_seconds=5.0)


def sha(n: int) -> str:
    """A distinct head SHA."""
    return f"{n:040x}"


def added(text: str) -> str:
    """The patch of a new file holding ``text``."""
    lines = text.splitlines(keepends=True)
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}" for line in lines)


async def no_beat() -> None:
    """A heartbeat that does nothing (no queue here)."""


@dataclass
class World:
    """The pipeline under test, the fake GitHub it talks to, and Redis."""

    fake: FakeGitHub
    pipeline: ReviewPipeline
    state: RedisReviewState
    redis: RedisConnection
    repo: RepoRef
    feedback: RedisRepositoryFeedback
    pushes: int = 0
    comment_ids: list[int] = field(default_factory=list)

    # ----- pull request and its pushes

    def open(self, files: dict[str, str], *, head: str = sha(1), number: int = NUMBER, **kwargs: Any) -> str:
        """Open a pull request adding ``files`` (path → text) at ``head``."""
        self.fake.add_pull_request(
            OWNER, REPO, number, head, BASE, [(p, added(t), t) for p, t in files.items()],
            installation_id=INSTALLATION, **kwargs,
        )  # fmt: skip
        return head

    def push(self, files: dict[str, str | None], *, number: int = NUMBER, head: str | None = None) -> str:
        """Push ``files`` (path → text at the new head; None removes it) onto the pull request."""
        self.pushes += 1
        new = head or sha(1000 + self.pushes)
        pull = self.fake.pull(OWNER, REPO, number)
        current = {f.path: f for f in pull.files}
        changed = []
        for path, text in files.items():
            if text is None:
                current.pop(path, None)
                changed.append((path, "@@ -1 +0,0 @@\n-gone\n", None))
            else:
                current[path] = _spec(path, text)
                changed.append(_spec(path, text))
        self.fake.push(OWNER, REPO, number, new, list(current.values()), compare_files=changed)
        for path, text in files.items():
            if text is None:
                self.fake.set_content(OWNER, REPO, new, path, None)
        return new

    def job(
        self, head: str, *, action: str = "synchronize", number: int = NUMBER, **kwargs: Any
    ) -> ReviewJob:
        """The review job of ``head``."""
        return ReviewJob(
            delivery_id=f"d-{head[:8]}-{action}", installation_id=INSTALLATION, repo=self.repo, number=number,
            action=action, head_sha=head, base_sha=BASE, base_ref="main", default_branch="main", **kwargs,
        )  # fmt: skip

    def command(
        self,
        name: JobCommand,
        *,
        body: str | None = None,
        association: str | None = "MEMBER",
        login: str = "maintainer",
        kind: CommentKind = "issue",
        in_reply_to: int | None = None,
        number: int = NUMBER,
    ) -> CommandJob:
        """A command comment written on the fake GitHub, and its job."""
        text = body or f"@argoai {name.replace('-', ' ')}"
        if kind == "issue":
            comment_id = self.fake.add_issue_comment(OWNER, REPO, number, text, author=login)
        else:
            assert in_reply_to is not None
            comment_id = self.fake.add_thread_reply(OWNER, REPO, number, in_reply_to, text, author=login)
        return CommandJob(
            version=CommandJob.version_for(name),
            delivery_id=f"c-{comment_id}", installation_id=INSTALLATION, repo=self.repo, number=number,
            command=name, comment_id=comment_id, commenter=login, default_branch="main",
            association=association, comment_kind=kind, in_reply_to=in_reply_to,
        )  # fmt: skip

    def closed(self, number: int = NUMBER) -> PullRequestClosedJob:
        """The job of the pull request's closing."""
        return PullRequestClosedJob(
            delivery_id=f"closed-{number}", installation_id=INSTALLATION, repo=self.repo, number=number
        )

    async def run(self, job: ReviewJob | CommandJob | PullRequestClosedJob) -> ReviewOutcome:
        """Run one job through the pipeline."""
        return await self.pipeline.run(job, no_beat)

    # ----- what is on GitHub

    def reviews(self, number: int = NUMBER) -> list[Any]:
        """Reviews posted."""
        return self.fake.reviews_posted(OWNER, REPO, number)

    def conversation(self, number: int = NUMBER) -> list[Any]:
        """Conversation comments (people's and the bot's)."""
        return self.fake.comments_posted(OWNER, REPO, number)

    def bot_comments(self, number: int = NUMBER) -> list[Any]:
        """The bot's conversation comments."""
        return [c for c in self.conversation(number) if c.author == "argoai[bot]"]

    def summary(self, number: int = NUMBER) -> Any:
        """The one summary comment."""
        [summary] = [c for c in self.bot_comments(number) if "argoai:summary" in c.body]
        return summary

    def threads(self, number: int = NUMBER) -> list[Any]:
        """Diff comments (firsts and replies)."""
        return self.fake.review_comments(OWNER, REPO, number)

    def check_runs(self, head: str | None = None) -> list[Any]:
        """Check runs (on one head)."""
        return self.fake.check_runs(OWNER, REPO, head)


def _spec(path: str, text: str) -> tuple[str, str, str]:
    return (path, added(text), text)


WorldFactory = Callable[..., Any]


@asynccontextmanager
async def make_world(
    fake: FakeGitHub,
    redis_settings: RedisSettings,
    policy: PolicySpec,
    *,
    model: ReviewModel | None = None,
    answers: AnswerModel | None = None,
) -> AsyncIterator[World]:
    """The pipeline with ``policy`` for every repository (the App installed on ``fake``)."""
    app = fake.install_app(installation_id=INSTALLATION)
    settings = GitHubSettings(api_url=fake.url, app_id=app.app_id, private_key=SecretStr(app.key.pkcs1))
    github = GitHubAppAdapter.from_settings(settings, redis_settings, policy=FAST)
    redis = RedisConnection.from_settings(redis_settings)
    state = RedisReviewState(redis, ttl_seconds=3600)
    pipeline = ReviewPipeline(
        github=github,
        policies=StaticPolicyProvider(PolicySet.of([NamedPolicy("default", policy)])),
        model=model,
        lock=RedisReviewLock(redis),
        state=state,
        history=RedisReviewHistory(redis, max_per_repo=10),
        budget=RedisTokenBudget(redis),
        options=PipelineOptions(
            analysis=AnalysisOptions(),
            state_ttl_seconds=3600,
            closed_ttl_seconds=60,
            turn=TurnOptions(ttl_seconds=10, wait_seconds=5),
        ),
        stores=conversation_stores(redis, state_ttl_seconds=3600),
        answer_model=answers,
    )
    try:
        yield World(
            fake=fake,
            pipeline=pipeline,
            state=state,
            redis=redis,
            repo=RepoRef(host=github.host, owner=OWNER, name=REPO),
            feedback=RedisRepositoryFeedback(redis),
        )
    finally:
        await github.aclose()
        await redis.aclose()


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A fake GitHub serving for one test."""
    with FakeGitHub().serving() as server:
        yield server


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """The fake LLM (a finding per FIXME-BUG line, a description per file)."""
    with FakeLLM(api_key="k") as server:
        yield server


@asynccontextmanager
async def llm_model(fake_llm: FakeLLM) -> AsyncIterator[LLMClient]:
    """The OpenAI adapter pointed at the fake LLM."""
    model = build_model(
        LLMSettings(provider="openai", model="gpt-4o-mini", base_url=fake_llm.openai_base_url, api_key="k")
    )
    try:
        yield model
    finally:
        await model.aclose()
