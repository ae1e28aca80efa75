"""GitHub reads through the caching layers: ETag revalidation against the fake GitHub (real HTTP, real Redis)
and coalescing of identical concurrent GETs (a local HTTP server counting what reaches it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from argoai_core.models.job import RepoRef
from argoai_reviewer.adapters.caching.coalescing import CoalescingTransport
from argoai_reviewer.adapters.github import GitHubAppAdapter
from support.fake_github import AppCredentials, FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
PATCH = "@@ -1,2 +1,3 @@\n one\n+two\n three"
AdapterFactory = Callable[..., GitHubAppAdapter]


def add_pull(fake: FakeGitHub, app: AppCredentials) -> None:
    """PR 7 changing one file."""
    fake.add_pull_request(
        OWNER, REPO, 7, HEAD, BASE, [("src/app.py", PATCH, "one\ntwo\nthree\n")],
        installation_id=app.installation_id,
    )  # fmt: skip


def statuses(fake: FakeGitHub, path: str) -> list[int | None]:
    """The statuses the fake answered to GETs of ``path``, in order."""
    return [r.status for r in fake.requests if r.method == "GET" and r.path == path]


async def test_an_unchanged_read_is_answered_304_and_costs_no_quota(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """The second read of an unchanged pull request carries its ETag, is answered 304 (not counted against
    the installation's rate limit) and gives the same data; a changed one is read again in full — also by a
    new adapter (another pod), since the ETags are in Redis."""
    add_pull(fake, app)
    adapter = make_adapter()
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    installation = adapter.installation(app.installation_id)
    first = await installation.pull_request(repo, 7)
    files = await installation.files(repo, 7)
    principal = f"installation:{app.installation_id}"
    used = fake.quota_used(principal)

    other_pod = make_adapter().installation(app.installation_id)
    assert await other_pod.pull_request(repo, 7) == first
    assert await installation.files(repo, 7) == files
    assert statuses(fake, f"/repos/{OWNER}/{REPO}/pulls/7") == [200, 304]
    assert statuses(fake, f"/repos/{OWNER}/{REPO}/pulls/7/files") == [200, 304]
    assert fake.quota_used(principal) == used
    conditional = [r for r in fake.requests if r.status == 304]
    assert len(conditional) == 2

    fake.push(OWNER, REPO, 7, "c" * 40, [("src/app.py", PATCH, "one\ntwo\nthree\n")])
    moved = await installation.pull_request(repo, 7)
    assert moved.head_sha == "c" * 40
    assert statuses(fake, f"/repos/{OWNER}/{REPO}/pulls/7") == [200, 304, 200]
    assert fake.quota_used(principal) == used + 1


async def test_the_fake_answers_304_only_to_the_current_etag(fake: FakeGitHub, app: AppCredentials) -> None:
    """The fake GitHub, as GitHub: a 200 carries an ETag; If-None-Match with it gives an empty 304 with the
    rate-limit headers and the quota unchanged; a stale ETag gives the full answer, counted."""
    add_pull(fake, app)
    token = fake.issue_token(app.installation_id).value
    url = f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7"
    headers = {"authorization": f"token {token}", "accept": "application/vnd.github+json"}
    async with httpx.AsyncClient() as client:
        full = await client.get(url, headers=headers)
        etag = full.headers["etag"]
        same = await client.get(url, headers={**headers, "if-none-match": etag})
        stale = await client.get(url, headers={**headers, "if-none-match": 'W/"0000"'})
    assert (full.status_code, same.status_code, stale.status_code) == (200, 304, 200)
    assert same.content == b""
    assert same.headers["x-ratelimit-remaining"] == full.headers["x-ratelimit-remaining"]
    assert int(stale.headers["x-ratelimit-remaining"]) == int(full.headers["x-ratelimit-remaining"]) - 1


class CountingServer:
    """A local HTTP server whose one route answers slowly and counts the requests reaching it."""

    def __init__(self) -> None:
        self.hits = 0
        self.release = asyncio.Event()
        self.arrived = asyncio.Condition()

        async def slow(request: Request) -> JSONResponse:
            async with self.arrived:
                self.hits += 1
                self.arrived.notify_all()
            await self.release.wait()
            return JSONResponse({"path": request.url.path, "hit": self.hits}, headers={"etag": 'W/"x"'})

        self.app = Starlette(routes=[Route("/{name}", slow)])


@pytest.fixture
async def counting() -> Any:
    """A :class:`CountingServer` on a free port, in this event loop."""
    server = CountingServer()
    config = uvicorn.Config(server.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve())
    while not uv.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    yield server, f"http://127.0.0.1:{port}"
    server.release.set()
    uv.should_exit = True
    await task


async def test_identical_concurrent_gets_share_one_request(counting: Any) -> None:
    """Ten identical GETs in flight at once reach the server once and each gets the answer; a GET with other
    credentials, another URL, or one sent after the first finished, is its own request."""
    server, url = counting
    transport = CoalescingTransport(httpx.AsyncHTTPTransport(), handles=lambda _: True)
    async with httpx.AsyncClient(transport=transport) as client:
        same = [
            asyncio.create_task(client.get(f"{url}/pulls", headers={"authorization": "token a"}))
            for _ in range(10)
        ]
        other_auth = asyncio.create_task(client.get(f"{url}/pulls", headers={"authorization": "token b"}))
        other_url = asyncio.create_task(client.get(f"{url}/files", headers={"authorization": "token a"}))
        async with server.arrived:
            await server.arrived.wait_for(lambda: server.hits >= 3)
        server.release.set()
        answers = await asyncio.gather(*same)
        assert {r.json()["hit"] for r in answers} == {answers[0].json()["hit"]}
        assert all(r.status_code == 200 and r.json()["path"] == "/pulls" for r in answers)
        assert (await other_auth).json()["path"] == "/pulls"
        assert (await other_url).json()["path"] == "/files"
        assert server.hits == 3
        later = await client.get(f"{url}/pulls", headers={"authorization": "token a"})
        assert later.json()["hit"] == 4


async def test_a_cancelled_waiter_does_not_cancel_the_shared_request(counting: Any) -> None:
    """One of two callers sharing a request gives up; the other still gets the answer from the one request."""
    server, url = counting
    transport = CoalescingTransport(httpx.AsyncHTTPTransport(), handles=lambda _: True)
    async with httpx.AsyncClient(transport=transport) as client:
        leader = asyncio.create_task(client.get(f"{url}/pulls"))
        async with server.arrived:
            await server.arrived.wait_for(lambda: server.hits >= 1)
        follower = asyncio.create_task(client.get(f"{url}/pulls"))
        await asyncio.sleep(0.05)
        follower.cancel()
        server.release.set()
        assert (await leader).json()["hit"] == 1
        with pytest.raises(asyncio.CancelledError):
            await follower
        assert server.hits == 1
