"""Fixtures for the GitHub tests: a fake GitHub with one App installed, real Redis, adapter factories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from argoai_core.models.job import RepoRef
from argoai_core.settings import GitHubSettings, RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from support.fake_github import AppCredentials, FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
# Short waits so that retry and pacing tests take fractions of a second.
FAST = GitHubPolicy(backoff_seconds=0.01, write_spacing_seconds=0.05, write_wait_seconds=5.0)

AdapterFactory = Callable[..., GitHubAppAdapter]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A fake GitHub on a free port."""
    with FakeGitHub().serving() as server:
        yield server


@pytest.fixture
def app(fake: FakeGitHub) -> AppCredentials:
    """App 4242 installed as installation 77 on the fake."""
    return fake.install_app()


@pytest.fixture
async def redis_client(redis_settings: RedisSettings) -> AsyncIterator[aioredis.Redis]:
    """A client of the real Redis (keys under the test's unique prefix are removed after the test)."""
    client = aioredis.from_url(redis_settings.url)
    yield client
    await client.aclose()


def github_settings(
    url: str, app: AppCredentials, *, pkcs8: bool = False, timeout: float = 2.0
) -> GitHubSettings:
    """Settings pointing at a fake GitHub, as the entrypoint would build them from the environment."""
    key = app.key.pkcs8 if pkcs8 else app.key.pkcs1
    return GitHubSettings(api_url=url, app_id=app.app_id, private_key=SecretStr(key), timeout_seconds=timeout)


@pytest.fixture
async def make_adapter(
    fake: FakeGitHub, app: AppCredentials, redis_client: aioredis.Redis, redis_settings: RedisSettings
) -> AsyncIterator[AdapterFactory]:
    """Build adapters against the fake (closed after the test); keyword arguments override the defaults."""
    made: list[GitHubAppAdapter] = []

    def build(
        *,
        url: str | None = None,
        credentials: AppCredentials | None = None,
        pkcs8: bool = False,
        policy: GitHubPolicy = FAST,
        timeout: float = 2.0,
    ) -> GitHubAppAdapter:
        settings = github_settings(url or fake.url, credentials or app, pkcs8=pkcs8, timeout=timeout)
        adapter = GitHubAppAdapter(
            settings, redis_client, key_prefix=redis_settings.key_prefix, policy=policy
        )
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def adapter(make_adapter: AdapterFactory) -> GitHubAppAdapter:
    """The adapter with the default (PKCS#1) key and fast test policy."""
    return make_adapter()


@pytest.fixture
def repo(adapter: GitHubAppAdapter) -> RepoRef:
    """octo-org/demo on the fake's host."""
    return RepoRef(host=adapter.host, owner=OWNER, name=REPO)
