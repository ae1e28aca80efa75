"""The GitHub adapter against the fake GitHub over real HTTP: keys, base URLs, shared tokens, reads, and what
its calls import."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client import REGISTRY

from argoai_core.errors import PermanentError
from argoai_core.models.job import RepoRef
from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.domain import FileStatus
from support.fake_github import AppCredentials, FakeFile, FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
AdapterFactory = Callable[..., GitHubAppAdapter]
PATCH = "@@ -1,2 +1,3 @@\n one\n+two\n three"


def add_pull(fake: FakeGitHub, app: AppCredentials, files: list[Any] | None = None, **kwargs: Any) -> None:
    fake.add_pull_request(
        OWNER,
        REPO,
        7,
        HEAD,
        BASE,
        files or [("src/app.py", PATCH, "one\ntwo\nthree\n")],
        installation_id=app.installation_id,
        **kwargs,
    )


@pytest.mark.parametrize("pkcs8", [False, True], ids=["pkcs1", "pkcs8"])
async def test_pull_request_with_either_key_format(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory, pkcs8: bool
) -> None:
    """PKCS#1 and PKCS#8 App keys both authenticate; the PR maps to the domain (draft, bot author, refs)."""
    add_pull(fake, app, title="Add two", body=None, author="dependabot[bot]", author_type="Bot", draft=True)
    adapter: GitHubAppAdapter = make_adapter(pkcs8=pkcs8)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    pr = await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert (pr.number, pr.title, pr.body, pr.state) == (7, "Add two", "", "open")
    assert (pr.head_sha, pr.base_sha, pr.base_ref) == (HEAD, BASE, "main")
    assert pr.draft is True
    assert (pr.author, pr.author_is_bot) == ("dependabot[bot]", True)


async def test_enterprise_server_base_url(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """With a GHES-style api_url (…/api/v3) every request, token included, goes under that path."""
    add_pull(fake, app)
    adapter: GitHubAppAdapter = make_adapter(url=fake.ghes_url)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    files = await adapter.installation(app.installation_id).files(repo, 7)
    assert [f.path for f in files] == ["src/app.py"]
    assert fake.requests
    assert all(r.url_path.startswith("/api/v3/") for r in fake.requests)
    assert [r.path for r in fake.requests] == [
        f"/app/installations/{app.installation_id}/access_tokens",
        f"/repos/{OWNER}/{REPO}/pulls/7/files",
    ]


async def test_token_cached_in_redis_and_shared_by_instances(
    fake: FakeGitHub,
    app: AppCredentials,
    make_adapter: AdapterFactory,
    redis_client: aioredis.Redis,
    redis_settings: RedisSettings,
) -> None:
    """Two adapter instances (two pods) share one installation token through Redis: one token request."""
    add_pull(fake, app)
    first: GitHubAppAdapter = make_adapter()
    second: GitHubAppAdapter = make_adapter()
    repo = RepoRef(host=first.host, owner=OWNER, name=REPO)
    await first.installation(app.installation_id).pull_request(repo, 7)
    await second.installation(app.installation_id).files(repo, 7)
    assert len(fake.token_requests(app.installation_id)) == 1
    keys = [k.decode() async for k in redis_client.scan_iter(match=f"{redis_settings.key_prefix}:*")]
    token_keys = [k for k in keys if f":installation:{app.installation_id}:" in k]
    # Keyed by deployment prefix, GitHub host, App and installation.
    expected = f"{redis_settings.key_prefix}:github:{first.host}:githubkit:auth:app:{app.app_id}"
    assert token_keys == [f"{expected}:installation:{app.installation_id}:::"]
    ttl = await redis_client.ttl(token_keys[0])
    assert 3400 < ttl <= 3540  # an hour, minus the minute githubkit renews early


async def test_token_cache_is_per_host(app: AppCredentials, make_adapter: AdapterFactory) -> None:
    """Same App and installation ids on two GitHub hosts: each host gets its own token, none is reused."""
    with FakeGitHub().serving() as one, FakeGitHub().serving() as two:
        for fake in (one, two):
            fake.install_app(app.app_id, app.installation_id, key=app.key)
            add_pull(fake, app)
        for fake in (one, two):
            adapter: GitHubAppAdapter = make_adapter(url=fake.url)
            repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
            await adapter.installation(app.installation_id).pull_request(repo, 7)
        for fake in (one, two):
            assert len(fake.token_requests(app.installation_id)) == 1
            assert [r.status for r in fake.requests if r.status == 401] == []


async def test_revoked_token_replaced_after_401(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A cached token GitHub no longer accepts (401) is dropped and a new one fetched; the call succeeds."""
    add_pull(fake, app)
    inst = adapter.installation(app.installation_id)
    await inst.pull_request(repo, 7)
    fake.expire_tokens()
    pr = await inst.pull_request(repo, 7)
    assert pr.head_sha == HEAD
    assert len(fake.token_requests(app.installation_id)) == 2
    # The new token still revalidates the installation's cached answer: an unchanged pull request is a 304.
    assert [r.status for r in fake.requests_to("/pulls/7")] == [200, 401, 304]


async def test_token_renewed_before_it_expires(app: AppCredentials, make_adapter: AdapterFactory) -> None:
    """A token is renewed a minute before its expiry without ever being refused."""
    with FakeGitHub(token_lifetime=62).serving() as fake:
        fake.install_app(app.app_id, app.installation_id, key=app.key)
        add_pull(fake, app)
        adapter: GitHubAppAdapter = make_adapter(url=fake.url)
        repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
        inst = adapter.installation(app.installation_id)
        deadline = time.monotonic() + 5
        while len(fake.token_requests()) < 2 and time.monotonic() < deadline:
            await inst.pull_request(repo, 7)
            await asyncio.sleep(0.2)
        assert len(fake.token_requests()) == 2
        assert all(r.status != 401 for r in fake.requests)


async def test_files_all_pages(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """More than 100 files are read over several pages of 100; omitted patches become None."""
    files = [FakeFile(f"src/f{i:03}.py", "@@ -0,0 +1 @@\n+x", "x\n") for i in range(249)]
    files.append(FakeFile("assets/logo.png", None, b"\x89PNG", status="added"))
    files.append(FakeFile("new/name.py", "@@ -1 +1 @@\n-a\n+b", "b\n", previous_path="old/name.py"))
    add_pull(fake, app, files)
    result = await adapter.installation(app.installation_id).files(repo, 7)
    assert [f.path for f in result] == [f.path for f in files]
    assert [r.query.get("per_page") for r in fake.requests_to("/pulls/7/files")] == ["100", "100", "100"]
    assert result[0].status is FileStatus.ADDED
    assert result[0].additions == 1
    assert result[249].patch is None
    assert (result[250].status, result[250].previous_path) == (FileStatus.RENAMED, "old/name.py")


async def test_files_capped_at_3000(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A pull request with more files than GitHub lists yields GitHub's 3,000."""
    add_pull(fake, app, [FakeFile(f"f{i}", "@@ -0,0 +1 @@\n+x", "x") for i in range(3010)])
    result = await adapter.installation(app.installation_id).files(repo, 7)
    assert len(result) == 3000
    assert len(fake.requests_to("/pulls/7/files")) == 30


async def test_compare_after_force_push(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """compare(old, new) reports 'ahead' for a normal push and 'diverged' after a force-push."""
    add_pull(fake, app)
    fake.push(OWNER, REPO, 7, "c" * 40, compare_files=[("src/app.py", "@@ -3 +3,2 @@\n three\n+four", "x")])
    fake.push(OWNER, REPO, 7, "d" * 40, force=True)
    inst = adapter.installation(app.installation_id)
    normal = await inst.compare(repo, HEAD, "c" * 40)
    assert normal.status == "ahead"
    assert [(f.path, f.patch) for f in normal.files] == [("src/app.py", "@@ -3 +3,2 @@\n three\n+four")]
    forced = await inst.compare(repo, "c" * 40, "d" * 40)
    assert forced.status == "diverged"


async def test_file_text_cases(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """file_text: text decoded; None for a missing file (404), a directory, a binary and a file over 1 MB."""
    add_pull(fake, app)
    fake.set_content(OWNER, REPO, HEAD, "docs/read me #1.md", "héllo\n")
    fake.set_content(OWNER, REPO, HEAD, "img/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
    fake.set_content(OWNER, REPO, HEAD, "big.txt", "x" * (1024 * 1024 + 1))
    inst = adapter.installation(app.installation_id)
    assert await inst.file_text(repo, "src/app.py", HEAD) == "one\ntwo\nthree\n"
    assert await inst.file_text(repo, "docs/read me #1.md", HEAD) == "héllo\n"
    assert await inst.file_text(repo, "missing.py", HEAD) is None
    assert await inst.file_text(repo, "src", HEAD) is None
    assert await inst.file_text(repo, "img/logo.png", HEAD) is None
    assert await inst.file_text(repo, "big.txt", HEAD) is None
    assert [r.status for r in fake.requests_to("/contents/")] == [200, 200, 404, 200, 200, 200]


async def test_reviews_all_pages(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """reviews() reads every page and maps id, body, commit and author."""
    add_pull(fake, app)
    ids = [fake.add_review(OWNER, REPO, 7, f"review {i}", HEAD, author="alice") for i in range(120)]
    bot = fake.add_review(OWNER, REPO, 7, "<!-- argoai -->", None, author="argoai[bot]", author_type="Bot")
    reviews = await adapter.installation(app.installation_id).reviews(repo, 7)
    assert [r.id for r in reviews] == [*ids, bot]
    assert (reviews[0].body, reviews[0].commit_id, reviews[0].author) == ("review 0", HEAD, "alice")
    assert (reviews[-1].author, reviews[-1].commit_id) == ("argoai[bot]", None)


async def test_missing_pull_request_is_permanent(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A pull request GitHub does not know (404) is a PermanentError naming the call."""
    add_pull(fake, app)
    with pytest.raises(PermanentError, match="404 to pull_request"):
        await adapter.installation(app.installation_id).pull_request(repo, 99)


async def test_repository_of_another_host_is_refused(app: AppCredentials, adapter: GitHubAppAdapter) -> None:
    """A job for a repository on another GitHub host is refused before any request is made."""
    other = RepoRef(host="ghe.example.com", owner=OWNER, name=REPO)
    with pytest.raises(PermanentError, match=r"ghe\.example\.com"):
        await adapter.installation(app.installation_id).pull_request(other, 7)


async def test_calls_are_counted_in_metrics(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """Each GitHub answer counts in argoai_github_calls_total; remaining quota is kept per installation."""
    add_pull(fake, app)

    def calls(kind: str) -> float:
        return REGISTRY.get_sample_value("argoai_github_calls_total", {"kind": kind, "status": "200"}) or 0.0

    before = calls("pull_request"), calls("access_token")
    await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert calls("pull_request") == before[0] + 1
    assert calls("access_token") == before[1]  # access tokens answer 201
    remaining = REGISTRY.get_sample_value(
        "argoai_github_rate_limit_remaining", {"installation": str(app.installation_id)}
    )
    assert remaining == 4999


# Run in a fresh interpreter: what the adapter's first calls import shows in its sys.modules.
ADAPTER_CALLS = """
import asyncio, json, sys
import redis.asyncio as aioredis
from pydantic import SecretStr
from argoai_core.models.job import RepoRef
from argoai_core.settings import GitHubSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.domain import CheckRunOutput, InlineComment, ReviewDraft

config = json.load(sys.stdin)

async def main():
    redis = aioredis.from_url(config["redis_url"])
    settings = GitHubSettings(
        api_url=config["api_url"], app_id=config["app_id"], private_key=SecretStr(config["key"])
    )
    adapter = GitHubAppAdapter(settings, redis, key_prefix=config["key_prefix"])
    repo = RepoRef(host=adapter.host, owner=config["owner"], name=config["repo"])
    inst = adapter.installation(config["installation_id"])
    try:
        pr = await inst.pull_request(repo, 7)
        files = await inst.files(repo, 7)
        reviews = await inst.reviews(repo, 7)
        await inst.issue_comments(repo, 7)
        await inst.review_comments(repo, 7)
        draft = ReviewDraft(
            commit_id=pr.head_sha, body="Summary", event="COMMENT",
            comments=[InlineComment(path="src/app.py", line=2, body="inline")],
        )
        await inst.post_review(repo, 7, draft)
        await inst.post_comment(repo, 7, "hello")
        output = CheckRunOutput(title="ArgoAI", summary="done")
        run = await inst.create_check_run(repo, pr.head_sha, "ArgoAI", output)
        await inst.update_check_run(repo, run, output, conclusion="success")
        installation = await adapter.repo_installation(config["owner"], config["repo"])
    finally:
        await adapter.aclose()
        await redis.aclose()
    versioned = sorted(name for name in sys.modules if name.startswith("githubkit_schemas.v"))
    print(json.dumps({"files": len(files), "reviews": len(reviews), "installation": installation,
                      "versioned": versioned}))

asyncio.run(main())
"""


async def test_adapter_calls_load_no_generated_githubkit_models(
    fake: FakeGitHub, app: AppCredentials, redis_settings: RedisSettings
) -> None:
    """The adapter's REST reads and writes, and its installation tokens, import none of githubkit's generated
    versioned models."""
    add_pull(fake, app)
    config = {
        "api_url": fake.url,
        "app_id": app.app_id,
        "installation_id": app.installation_id,
        "key": app.key.pkcs1,
        "redis_url": redis_settings.url,
        "key_prefix": redis_settings.key_prefix,
        "owner": OWNER,
        "repo": REPO,
    }
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", ADAPTER_CALLS],
        input=json.dumps(config),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["files"], answer["reviews"], answer["installation"]) == (1, 0, app.installation_id)
    assert len(fake.requests_to("/pulls/7/reviews", "POST")) == 1
    assert answer["versioned"] == []
