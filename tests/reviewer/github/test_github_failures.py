"""How the GitHub adapter handles GitHub's refusals: short waits slept, long ones handed back, 5xx bounded."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from argoai_core.errors import PermanentError, RateLimitedError, UnavailableError
from argoai_core.models.job import RepoRef
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.domain import ReviewDraft
from support.fake_github import AppCredentials, FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
AdapterFactory = Callable[..., GitHubAppAdapter]


@pytest.fixture(autouse=True)
def pull(fake: FakeGitHub, app: AppCredentials) -> None:
    """Pull request #7 with one file."""
    fake.add_pull_request(
        OWNER,
        REPO,
        7,
        HEAD,
        BASE,
        [("a.py", "@@ -0,0 +1 @@\n+x", "x\n")],
        installation_id=app.installation_id,
    )


async def test_short_retry_after_is_slept(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A secondary limit with retry-after: 1 is waited out in place and the call then succeeds."""
    fake.rate_limit_next(1, status=403, retry_after=1, path_contains="/pulls/7")
    started = time.monotonic()
    pr = await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert pr.number == 7
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in fake.requests_to("/pulls/7")] == [403, 200]


@pytest.mark.parametrize("status", [403, 429])
async def test_long_retry_after_becomes_rate_limited_error(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef, status: int
) -> None:
    """A secondary limit asking for 120 s is not slept: RateLimitedError(delay=120) after one request."""
    fake.rate_limit_next(5, status=status, retry_after=120, path_contains="/pulls/7")
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert caught.value.delay == 120
    assert time.monotonic() - started < 1
    assert len(fake.requests_to("/pulls/7")) == 1


async def test_primary_limit_waits_until_reset(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """An exhausted primary limit (remaining 0) gives RateLimitedError with the time left until reset."""
    fake.rate_limit_next(
        1, status=403, retry_after=None, secondary=False, reset_in=900, path_contains="/pulls/7"
    )
    with pytest.raises(RateLimitedError) as caught:
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert 890 <= caught.value.delay <= 900


async def test_primary_limit_of_the_installation_is_honoured(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """When the installation's quota runs out (fake counts it), the reset time comes back as the delay."""
    inst = adapter.installation(app.installation_id)
    await inst.pull_request(repo, 7)
    fake.set_rate_limit(f"installation:{app.installation_id}", remaining=0, reset_in=1200)
    with pytest.raises(RateLimitedError) as caught:
        await inst.pull_request(repo, 7)
    assert 1190 <= caught.value.delay <= 1200


async def test_secondary_limit_message_without_headers(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A 403 saying "secondary rate limit" without retry-after waits GitHub's one minute, via the queue."""
    fake.rate_limit_next(1, status=403, retry_after=None, path_contains="/pulls/7")
    with pytest.raises(RateLimitedError) as caught:
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert caught.value.delay == 60


async def test_transient_5xx_retried(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """Two 502s on a read are retried with backoff and the third attempt succeeds."""
    fake.fail_next(2, status=502, path_contains="/pulls/7")
    files = await adapter.installation(app.installation_id).files(repo, 7)
    assert [f.path for f in files] == ["a.py"]
    assert [r.status for r in fake.requests_to("/pulls/7/files")] == [502, 502, 200]


async def test_persistent_5xx_gives_unavailable(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A read failing with 5xx is tried 1 + 3 times, then UnavailableError (a retryable error)."""
    fake.fail_next(50, status=503, path_contains="/pulls/7")
    with pytest.raises(UnavailableError, match="503"):
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert len(fake.requests_to("/pulls/7")) == 4


async def test_token_endpoint_5xx_retried(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A 5xx while fetching the installation token is retried like a read (a new token is harmless)."""
    fake.fail_next(1, status=500, path_contains="/access_tokens")
    pr = await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert pr.number == 7
    assert [r.status for r in fake.token_requests()] == [500, 201]


async def test_review_post_not_repeated_after_5xx(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A 502 on posting a review is not retried in place (GitHub may have created it): UnavailableError."""
    fake.fail_next(1, status=502, path_contains="/reviews", method="POST")
    with pytest.raises(UnavailableError):
        await adapter.installation(app.installation_id).post_review(
            repo, 7, ReviewDraft(commit_id=HEAD, body="x")
        )
    assert len(fake.requests_to("/pulls/7/reviews", "POST")) == 1


async def test_timeout_gives_unavailable(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """A GitHub slower than the configured timeout gives UnavailableError after bounded retries."""
    adapter = make_adapter(timeout=0.2)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    fake.delay_next(10, 1.0, path_contains="/pulls/7")
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out"):
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert time.monotonic() - started < 2.5
    assert len(fake.requests_to("/pulls/7")) == 4


async def test_unreachable_github_gives_unavailable(
    app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """Nothing listening at the API URL gives UnavailableError."""
    with FakeGitHub().serving() as gone:
        url = gone.url
    adapter = make_adapter(url=url)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    with pytest.raises(UnavailableError, match="unreachable"):
        await adapter.installation(app.installation_id).pull_request(repo, 7)


async def test_missing_permission_is_permanent(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A 403 that is not a rate limit (missing permission) is a PermanentError."""
    fake.fail_next(1, status=403, path_contains="/pulls/7")
    with pytest.raises(PermanentError) as caught:
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert not isinstance(caught.value, RateLimitedError)
    assert "403" in str(caught.value)


async def test_wrong_app_key_is_permanent(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """A private key GitHub does not know (JWT refused with 401, twice) is a PermanentError."""
    from support.keys import new_app_key

    impostor = AppCredentials(app.app_id, app.installation_id, new_app_key())
    adapter = make_adapter(credentials=impostor)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    with pytest.raises(PermanentError, match="401"):
        await adapter.installation(app.installation_id).pull_request(repo, 7)
    assert [r.status for r in fake.token_requests()] == [401, 401]
