"""Reading ``.github/argoai.yaml`` through the real GitHub adapter from the fake GitHub: default branch only,
cached briefly per host/installation/repository/branch; and the ignore flag on real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr

from argoai_core.models.findings import Severity
from argoai_core.models.job import RepoRef
from argoai_core.settings import GitHubSettings, RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.redis_state import RedisConnection, RedisReviewState
from argoai_reviewer.conversation.repo_config.cache import RepoConfigCache
from argoai_reviewer.conversation.repo_config.model import CONFIG_PATH
from support.fake_github import AppCredentials, FakeGitHub
from support.keys import app_key

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
INSTALLATION = 88
APP = AppCredentials(app_id=5151, installation_id=INSTALLATION, key=app_key())
DEFAULT_CONFIG = "maxComments: 3\n"
BASE_CONFIG = "maxComments: 4\n"
HEAD_CONFIG = "maxComments: 0\nexclude: ['**']\n"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A fake GitHub with a PR into ``release`` on a repository whose default branch is ``main``.

    The config differs at the default branch, at the PR's base and at its head.
    """
    with FakeGitHub().serving() as server:
        server.add_repo(OWNER, REPO, installation_id=INSTALLATION, default_branch="main")
        server.add_pull_request(
            OWNER, REPO, 5, HEAD, BASE, [(CONFIG_PATH, "@@ -1 +1,2 @@\n+x\n", HEAD_CONFIG)],
            installation_id=INSTALLATION, base_ref="release", base_contents={CONFIG_PATH: BASE_CONFIG},
        )  # fmt: skip
        server.set_content(OWNER, REPO, "main", CONFIG_PATH, DEFAULT_CONFIG)
        server.add_app(APP.app_id, APP.key.public)
        server.add_installation(INSTALLATION, APP.app_id)
        yield server


def adapter_for(fake: FakeGitHub, url: str, redis_settings: RedisSettings) -> GitHubAppAdapter:
    """The production GitHub adapter for ``url`` (the fake), its token cache on real Redis."""
    settings = GitHubSettings(
        api_url=url, app_id=APP.app_id, private_key=SecretStr(APP.key.pkcs1), timeout_seconds=5
    )
    return GitHubAppAdapter.from_settings(settings, redis_settings)


@pytest.fixture
async def adapter(fake: FakeGitHub, redis_settings: RedisSettings) -> AsyncIterator[GitHubAppAdapter]:
    """The adapter pointed at the fake."""
    github = adapter_for(fake, fake.url, redis_settings)
    yield github
    await github.aclose()


def repo_ref(github: GitHubAppAdapter) -> RepoRef:
    return RepoRef(host=github.host, owner=OWNER, name=REPO)


def config_reads(fake: FakeGitHub) -> list[str]:
    """The refs the config file was requested at."""
    return [r.query.get("ref", "") for r in fake.requests_to(f"/contents/{CONFIG_PATH}", method="GET")]


async def test_config_is_read_at_the_default_branch_not_the_base_or_head(
    fake: FakeGitHub, adapter: GitHubAppAdapter
) -> None:
    """The PR targets ``release`` and changes the file: the settings come from ``main``, the default."""
    parsed = await RepoConfigCache(60).get(
        adapter.installation(INSTALLATION), INSTALLATION, repo_ref(adapter), "main"
    )
    assert parsed.config is not None
    assert parsed.config.max_comments == 3
    assert config_reads(fake) == ["main"]


async def test_a_job_without_a_default_branch_reads_nothing(
    fake: FakeGitHub, adapter: GitHubAppAdapter
) -> None:
    """A job from an older intake (no default branch) gets no in-repo config, never the PR's own."""
    parsed = await RepoConfigCache(60).get(
        adapter.installation(INSTALLATION), INSTALLATION, repo_ref(adapter), None
    )
    assert (parsed.config, parsed.note) == (None, None)
    assert config_reads(fake) == []


async def test_config_is_cached_for_its_ttl_then_read_again(
    fake: FakeGitHub, adapter: GitHubAppAdapter
) -> None:
    """Within the TTL one read serves every review; after it a changed file is picked up."""
    clock = Clock()
    cache = RepoConfigCache(60, clock=clock)
    gh, repo = adapter.installation(INSTALLATION), repo_ref(adapter)
    assert (await cache.get(gh, INSTALLATION, repo, "main")).config.max_comments == 3  # type: ignore[union-attr]
    fake.set_content(OWNER, REPO, "main", CONFIG_PATH, "minSeverity: critical\n")
    clock.now += 59
    assert (await cache.get(gh, INSTALLATION, repo, "main")).config.max_comments == 3  # type: ignore[union-attr]
    assert len(config_reads(fake)) == 1
    clock.now += 2
    fresh = (await cache.get(gh, INSTALLATION, repo, "main")).config
    assert fresh is not None
    assert fresh.min_severity is Severity.CRITICAL
    assert fresh.max_comments is None
    assert len(config_reads(fake)) == 2


async def test_cache_entries_are_per_installation_host_and_branch(
    fake: FakeGitHub, adapter: GitHubAppAdapter, redis_settings: RedisSettings
) -> None:
    """Another installation, GitHub host or branch never gets an entry cached for a different one."""
    cache = RepoConfigCache(60)
    gh, repo = adapter.installation(INSTALLATION), repo_ref(adapter)
    await cache.get(gh, INSTALLATION, repo, "main")
    await cache.get(gh, INSTALLATION, repo, "main")
    assert len(config_reads(fake)) == 1
    await cache.get(gh, INSTALLATION + 1, repo, "main")
    await cache.get(gh, INSTALLATION, repo, "release")
    assert len(config_reads(fake)) == 3
    # The same server under another name is another GitHub host (as for a GHES instance).
    other = adapter_for(fake, fake.url.replace("127.0.0.1", "localhost"), redis_settings)
    try:
        other_repo = repo_ref(other)
        assert other_repo.host != repo.host
        await cache.get(other.installation(INSTALLATION), INSTALLATION, other_repo, "main")
        assert len(config_reads(fake)) == 4
    finally:
        await other.aclose()


async def test_a_missing_file_is_no_config(fake: FakeGitHub, adapter: GitHubAppAdapter) -> None:
    """No file at the default branch: the cluster policy alone, no note."""
    fake.set_content(OWNER, REPO, "main", CONFIG_PATH, None)
    fake.set_content(OWNER, REPO, "main", "README.md", "hello\n")
    parsed = await RepoConfigCache(60).get(
        adapter.installation(INSTALLATION), INSTALLATION, repo_ref(adapter), "main"
    )
    assert (parsed.config, parsed.note) == (None, None)


async def test_ignore_flag_is_set_cleared_and_expires(redis_settings: RedisSettings) -> None:
    """The ignore flag lives per PR (host in its key), is cleared by a review command, and expires."""
    connection = RedisConnection.from_settings(redis_settings)
    try:
        state = RedisReviewState(connection, ttl_seconds=60)
        pr, other_host = "api.github.com/o/r#1", "ghe.example.com/o/r#1"
        assert await state.is_ignored(pr) is False
        await state.set_ignored(pr, True)
        assert await state.is_ignored(pr) is True
        assert await state.is_ignored(other_host) is False
        ttl = await connection.client.pttl(connection.key("pr", pr, "ignored"))
        assert 0 < ttl <= 60_000
        await state.set_ignored(pr, False)
        assert await state.is_ignored(pr) is False
    finally:
        await connection.aclose()
