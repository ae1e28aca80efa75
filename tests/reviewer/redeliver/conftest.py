"""Fixtures for the redelivery job: the fake GitHub over HTTP, real Redis, and a factory of job runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.redeliver_state import RedisRedeliveryState, lock_key
from argoai_reviewer.adapters.redis_state import RedisConnection, RedisReviewLock
from argoai_reviewer.redeliver.job import Redeliverer, RedeliverLimits
from reviewer.redeliver.helpers import POLICY, TEST_LIMITS, JobFactory, github_settings
from support.fake_github import AppCredentials, FakeGitHub
from support.fake_github.fixtures import fake_github, github_app  # noqa: F401


@pytest.fixture
async def make_job(
    fake_github: FakeGitHub,  # noqa: F811
    github_app: AppCredentials,  # noqa: F811
    redis_settings: RedisSettings,
) -> AsyncIterator[JobFactory]:
    """Build job runs against the fake and real Redis, each with its own connections (closed after)."""
    opened: list[Any] = []

    def build(**limits: Any) -> Redeliverer:
        connection = RedisConnection.from_settings(redis_settings)
        app = GitHubAppAdapter(
            github_settings(fake_github, github_app),
            connection.client,
            key_prefix=redis_settings.key_prefix,
            policy=POLICY,
        )
        opened.extend([app, connection])
        merged = RedeliverLimits(**{**TEST_LIMITS.__dict__, **limits})
        return Redeliverer(
            app,
            RedisRedeliveryState(connection, app.host),
            RedisReviewLock(connection),
            lock_key=lock_key(app.host),
            limits=merged,
        )

    yield build
    for resource in opened:
        await resource.aclose()


@pytest.fixture
async def state(
    fake_github: FakeGitHub,  # noqa: F811
    redis_settings: RedisSettings,
) -> AsyncIterator[RedisRedeliveryState]:
    """The job's Redis state for the fake's host, to read the stored checkpoint."""
    connection = RedisConnection.from_settings(redis_settings)
    yield RedisRedeliveryState(connection, fake_github.url.removeprefix("http://"))
    await connection.aclose()
