"""The reviewer's GitHub adapter: ``GitHubApp`` and ``GitHubInstallation`` (see ``ports.py``) over githubkit.

* Base URL from ``GitHubSettings.api_url`` (github.com, Enterprise Server ``.../api/v3``, or a local fake).
* The App JWT and installation tokens are cached in Redis, shared by every pod, under a prefix holding
  ``RedisSettings.key_prefix`` and the GitHub host; githubkit renews a token a minute before it expires, and
  a 401 on a cached credential drops it from Redis and retries once with a fresh one.
* Explicit timeouts; capped retries (``github_retry``); every failure leaves as ArgoAI's error tree through
  ``github_errors.to_argoai_error`` in :meth:`_Calls.call`, the one place that maps them.
* Every call goes through the GitHub host's circuit breaker when one is given: a storm of 5xx, timeouts or
  unreachable answers opens it, and calls then fail at once with ``CircuitOpenError`` (the job waits for the
  breaker instead of spending its deliveries). Rate limits are per installation and never open it.
* Reviews and comments go through ``github_writes.WriteGate``: one at a time per installation, across pods.
* Every REST call is githubkit's generic ``arequest`` through :func:`_rest`, which sends the API version
  (:data:`GITHUB_API_VERSION`); none goes through githubkit's generated methods, which import the versioned
  models (``githubkit_schemas.v*``: ~40 modules, ~5 MB) and validate every request body with pydantic.
  Answers are read from ``response.json()`` into ``github_json``'s own models.
* The conversation's endpoints (comments, threads, reactions, permissions, check runs, GraphQL) are in
  ``github_conversation``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, TypeVar, cast
from urllib.parse import quote

import httpx
from githubkit import GitHub, Response
from githubkit.exception import GitHubException
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from argoai_core.errors import PermanentError, RateLimitedError, UnavailableError
from argoai_core.models.job import RepoRef
from argoai_core.settings import GitHubSettings, RedisSettings
from argoai_reviewer.adapters.caching.coalescing import CoalescingTransport
from argoai_reviewer.adapters.caching.conditional import ConditionalTransport
from argoai_reviewer.adapters.caching.etags import RedisEtagStore
from argoai_reviewer.adapters.github_client import (
    CALL_INSTALLATION,
    CALL_KIND,
    SharedTransport,
    build_github,
    cache_prefix,
    token_cache_keys,
)
from argoai_reviewer.adapters.github_conversation import ConversationEndpoints
from argoai_reviewer.adapters.github_errors import status_of, to_argoai_error
from argoai_reviewer.adapters.github_json import (
    CompareJson,
    ContentJson,
    DeliveryJson,
    FileJson,
    PullJson,
    ReviewJson,
)
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.github_writes import WriteGate
from argoai_reviewer.domain import (
    ChangedFile,
    Comparison,
    ExistingReview,
    InlineComment,
    PullRequest,
    ReviewDraft,
)
from argoai_reviewer.metrics import GITHUB_CALLS
from argoai_reviewer.redeliver.job import HookDelivery
from argoai_reviewer.resilience.breaker import Circuit
from argoai_reviewer.workspace.archive import OverLimitError

T = TypeVar("T")
ReviewEvent = Literal["APPROVE", "REQUEST_CHANGES", "COMMENT"]
_EVENTS = frozenset({"APPROVE", "REQUEST_CHANGES", "COMMENT"})

# The REST API version every call asks for: the one githubkit's generated methods sent (``_REST_API_VERSION``
# of githubkit_schemas v2026_03_10), so GitHub's answers keep the shapes ``github_json`` reads.
GITHUB_API_VERSION = "2026-03-10"
# Also handed to githubkit's paginator, which sends it again with each later page's ``Link`` URL.
_API_HEADERS: Mapping[str, str] = {"X-GitHub-Api-Version": GITHUB_API_VERSION}

PER_PAGE = 100
MAX_PR_FILES = 3000  # GitHub lists no more; stop there even if a server kept paging
# Lease of an installation's write turn, renewed every third of it while the write runs.
WRITE_LOCK_SECONDS = 6.0


class ReviewCommentBody(TypedDict):
    """One inline comment of ``POST /repos/{o}/{r}/pulls/{n}/reviews`` (keys in GitHub's documented order)."""

    path: str
    body: str
    line: int
    side: Literal["RIGHT"]
    start_line: NotRequired[int]
    start_side: NotRequired[Literal["RIGHT"]]


async def _rest(
    github: GitHub[Any],
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    stream: bool = False,
) -> Response[Any]:
    """One REST request to ``path`` (under the API's base URL), with the API version header."""
    return await github.arequest(method, path, params=params, json=json, headers=_API_HEADERS, stream=stream)


def _repo_path(owner: str, name: str) -> str:
    """``/repos/{owner}/{name}``, each part percent-encoded (a stray ``/`` or ``?`` cannot alter the path)."""
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def github_transport(settings: GitHubSettings, redis: Redis, key_prefix: str) -> httpx.AsyncBaseTransport:
    """The layers under githubkit, as Prow's ghproxy stacks them: identical concurrent GETs coalesced, then
    revalidated with their ETag (kept in Redis per installation), then the connection pool."""
    api = httpx.URL(settings.api_url)

    def handles(request: httpx.Request) -> bool:
        # The API's answers only: the archive host (another origin) streams large tarballs.
        url = request.url
        return url.host == api.host and url.port == api.port and "/tarball/" not in url.path

    below: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=50))
    if settings.conditional_requests:
        store = RedisEtagStore(redis, prefix=f"{cache_prefix(key_prefix, settings.host)}:etag")
        below = ConditionalTransport(below, store, scope=CALL_INSTALLATION.get, handles=handles)
    return CoalescingTransport(below, handles=handles)


class _Calls:
    """What the App and its installations share: the client, the Redis token cache and the write gate."""

    def __init__(
        self,
        settings: GitHubSettings,
        redis: Redis,
        key_prefix: str,
        policy: GitHubPolicy,
        circuit: Circuit | None = None,
    ) -> None:
        self.host = settings.host
        self.circuit = circuit
        self.app_id, _ = settings.app_credentials()
        self.redis = redis
        self.key_prefix = key_prefix
        self.transport = SharedTransport(github_transport(settings, redis, key_prefix))
        self.github = build_github(
            settings, redis, key_prefix=key_prefix, policy=policy, transport=self.transport
        )
        # A short lease, renewed while a write runs (retries and sleeps included): a dead pod frees it soon.
        self.writes = WriteGate(
            redis,
            prefix=cache_prefix(key_prefix, self.host),
            policy=policy,
            lock_ttl_seconds=WRITE_LOCK_SECONDS,
        )

    async def call(
        self,
        kind: str,
        installation_id: int | None,
        operation: Callable[[], Awaitable[T]],
        *,
        absent_on: frozenset[int] = frozenset(),
    ) -> T | None:
        """Run one GitHub operation (all its pages); map its failure to ArgoAI's error tree.

        A 401 means the cached token (or JWT) was revoked or expired early: it is dropped from Redis for every
        pod and the operation runs once more. A status in ``absent_on`` returns None (e.g. 404 for a file).
        """
        if self.circuit is not None:
            await self.circuit.before_call()
        kind_token = CALL_KIND.set(kind)
        inst_token = CALL_INSTALLATION.set(str(installation_id) if installation_id is not None else "app")
        try:
            for attempt in range(2):
                try:
                    result = await operation()
                except GitHubException as exc:
                    status = status_of(exc)
                    if status is None:
                        GITHUB_CALLS.labels(kind=kind, status="error").inc()
                    if status in absent_on:
                        await self._answered()
                        return None
                    if status == 401 and attempt == 0:
                        await self.forget_credentials(installation_id)
                        continue
                    error = to_argoai_error(exc, kind)
                    outage = isinstance(error, UnavailableError) and not isinstance(error, RateLimitedError)
                    if outage and self.circuit is not None:
                        raise await self.circuit.failed(error) from exc
                    raise error from exc
                except ValidationError as exc:
                    raise UnavailableError(
                        f"unexpected answer from GitHub to {kind}: {exc.error_count()} errors"
                    ) from exc
                except RedisError as exc:
                    raise UnavailableError(f"Redis unavailable for the GitHub token cache: {exc}") from exc
                await self._answered()
                return result
            raise AssertionError("unreachable: the second attempt returns or raises")
        finally:
            CALL_KIND.reset(kind_token)
            CALL_INSTALLATION.reset(inst_token)

    async def _answered(self) -> None:
        if self.circuit is not None:
            await self.circuit.succeeded()

    async def required(
        self, kind: str, installation_id: int | None, operation: Callable[[], Awaitable[T]]
    ) -> T:
        """:meth:`call` for an operation that always has a result."""
        result = await self.call(kind, installation_id, operation)
        if result is None:
            raise AssertionError(f"{kind} returned nothing")
        return result

    async def forget_credentials(self, installation_id: int | None) -> None:
        """Drop the cached JWT and installation token so the next request fetches new ones."""
        await self.redis.delete(*token_cache_keys(self.key_prefix, self.host, self.app_id, installation_id))


class GitHubInstallationAdapter(ConversationEndpoints):
    """Reads and writes pull requests as one installation of the App (``ports.GitHubInstallation``).

    The conversation's endpoints come from :class:`.github_conversation.ConversationEndpoints`.
    """

    def __init__(self, calls: _Calls, installation_id: int) -> None:
        self._calls = calls
        self.installation_id = installation_id
        app = calls.github
        self._gh: GitHub[Any] = app.with_auth(app.auth.as_installation(installation_id))

    def _check_host(self, repo: RepoRef) -> None:
        if repo.host != self._calls.host:
            raise PermanentError(
                f"repository on {repo.host}, but this GitHub client talks to {self._calls.host}"
            )

    def _repo(self, repo: RepoRef) -> str:
        """The REST path of ``repo``: ``/repos/{owner}/{name}``, percent-encoded."""
        return _repo_path(repo.owner, repo.name)

    async def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Response[Any]:
        """One REST request as this installation (see :func:`_rest`)."""
        return await _rest(self._gh, method, path, params=params, json=json)

    async def _get(self, path: str, headers: Mapping[str, str] | None = None, **params: Any) -> Response[Any]:
        """The first page of a list, for githubkit's paginator (which calls it with its own keywords).

        ``headers`` is only there for the paginator, which sends it with the later pages' ``Link`` URLs;
        this page gets the API version from :func:`_rest`.
        """
        return await _rest(self._gh, "GET", path, params=params)

    async def _all_pages(self, path: str, *, limit: int | None = None, **params: Any) -> list[Any]:
        """Every item of the ``Link``-paginated list at ``path``, 100 a page (stopping at ``limit`` items)."""
        items: list[Any] = []
        # ``params`` before ``per_page``: the query keeps the order githubkit's generated methods sent.
        paginator = self._gh.rest.paginate(
            self._get, map_func=_json_list, path=path, headers=_API_HEADERS, **params, per_page=PER_PAGE
        )
        async for item in paginator:
            items.append(item)
            if limit is not None and len(items) >= limit:
                break
        return items

    async def _listed(
        self, kind: str, path: str, parse: Callable[[Any], T], *, limit: int | None = None, **params: Any
    ) -> list[T]:
        """The paginated list at ``path`` read as one ``kind`` of call, each item parsed by ``parse``."""

        async def get() -> list[T]:
            return [parse(item) for item in await self._all_pages(path, limit=limit, **params)]

        return await self._calls.required(kind, self.installation_id, get)

    async def pull_request(self, repo: RepoRef, number: int) -> PullRequest:
        """The pull request as it is now."""
        self._check_host(repo)

        async def get() -> PullRequest:
            response = await self._request("GET", f"{self._repo(repo)}/pulls/{number}")
            return PullJson.model_validate(response.json()).to_domain()

        return await self._calls.required("pull_request", self.installation_id, get)

    async def files(self, repo: RepoRef, number: int) -> list[ChangedFile]:
        """Every changed file, all pages (GitHub lists at most 3,000); ``patch`` None when GitHub omits it."""
        self._check_host(repo)
        return await self._listed(
            "pull_files",
            f"{self._repo(repo)}/pulls/{number}/files",
            lambda item: FileJson.model_validate(item).to_domain(),
            limit=MAX_PR_FILES,
        )

    async def compare(self, repo: RepoRef, base: str, head: str) -> Comparison:
        """``base...head``: GitHub's status (``diverged``/``behind`` after a force-push) and changed files."""
        self._check_host(repo)

        async def get() -> Comparison:
            # Files (at most 300) come with the first page; one commit per page keeps the answer small.
            response = await self._request(
                "GET", f"{self._repo(repo)}/compare/{base}...{head}", params={"per_page": 1}
            )
            return CompareJson.model_validate(response.json()).to_domain()

        return await self._calls.required("compare", self.installation_id, get)

    async def file_text(self, repo: RepoRef, path: str, ref: str) -> str | None:
        """A file's UTF-8 text at ``ref``; None when missing (404), a directory, binary or over 1 MB."""
        self._check_host(repo)

        async def get() -> str | None:
            # Default (object) media type, decoded here: it tells files from directories and gives the size.
            response = await self._request(
                "GET", f"{self._repo(repo)}/contents/{quote(path, safe='/')}", params={"ref": ref}
            )
            body = response.json()
            if not isinstance(body, dict):
                return None  # a directory
            return ContentJson.model_validate(body).text()

        return await self._calls.call("file_text", self.installation_id, get, absent_on=frozenset({404}))

    async def download_archive(self, repo: RepoRef, sha: str, destination: Path, max_bytes: int) -> None:
        """Stream the repository's tarball at ``sha`` to ``destination`` (one request and its redirect).

        ``GET /repos/{o}/{r}/tarball/{sha}`` answers 302 to the archive host (codeload on github.com,
        ``/_codeload`` on Enterprise Server) with a short-lived token in the link; httpx follows it and drops
        the ``Authorization`` header when the origin changes, so the installation token stays with the API.
        Past ``max_bytes`` (announced or received) the download stops with ``OverLimitError``.
        """
        self._check_host(repo)
        path = f"{self._repo(repo)}/tarball/{quote(sha, safe='')}"

        async def get() -> bool:
            response = await _rest(self._gh, "GET", path, stream=True)
            raw = response.raw_response
            try:
                announced = raw.headers.get("content-length", "")
                if announced.isdigit() and int(announced) > max_bytes:
                    raise OverLimitError(f"archive of {int(announced):,} bytes, over {max_bytes:,}")
                received = 0
                with destination.open("wb") as out:
                    async for chunk in raw.aiter_bytes():
                        received += len(chunk)
                        if received > max_bytes:
                            raise OverLimitError(f"archive over {max_bytes:,} bytes")
                        out.write(chunk)
            except httpx.HTTPError as exc:
                raise UnavailableError(f"repository archive download broke off: {exc}") from exc
            finally:
                await raw.aclose()
            return True

        await self._calls.required("archive", self.installation_id, get)

    async def reviews(self, repo: RepoRef, number: int) -> list[ExistingReview]:
        """Reviews already posted on the pull request, all pages."""
        self._check_host(repo)
        return await self._listed(
            "reviews",
            f"{self._repo(repo)}/pulls/{number}/reviews",
            lambda item: ReviewJson.model_validate(item).to_domain(),
        )

    async def post_review(self, repo: RepoRef, number: int, review: ReviewDraft) -> int:
        """Post one review with its inline comments (side RIGHT); return its id.

        GitHub rejects the whole review with 422 when any comment is off the diff: that is an
        ``InvalidInputError`` here, so the caller can fall back to a review without inline comments.
        """
        self._check_host(repo)
        if review.event not in _EVENTS:
            raise PermanentError(f"review event {review.event!r} is not one of {sorted(_EVENTS)}")
        event = cast(ReviewEvent, review.event)
        data = {
            "commit_id": review.commit_id,
            "body": review.body,
            "event": event,
            "comments": [_comment_json(c) for c in review.comments],
        }

        async def post() -> int:
            response = await self._request("POST", f"{self._repo(repo)}/pulls/{number}/reviews", json=data)
            return int(response.json()["id"])

        async with self._calls.writes.turn(self.installation_id):
            return await self._calls.required("post_review", self.installation_id, post)

    async def post_comment(self, repo: RepoRef, number: int, body: str) -> None:
        """Post a conversation comment on the pull request (:meth:`create_comment`, its id not needed)."""
        await self.create_comment(repo, number, body)


class GitHubAppAdapter:
    """The GitHub App (``ports.GitHubApp``): installation clients, and App-level calls made with its JWT."""

    def __init__(
        self,
        settings: GitHubSettings,
        redis: Redis,
        *,
        key_prefix: str,
        policy: GitHubPolicy | None = None,
        owns_redis: bool = False,
        circuit: Circuit | None = None,
    ) -> None:
        """``redis`` holds the token cache and write pacing under ``key_prefix`` (RedisSettings.key_prefix).

        Raises ``ConfigError`` when the App id or private key is missing.
        """
        self._calls = _Calls(settings, redis, key_prefix, policy or GitHubPolicy(), circuit)
        self._owns_redis = owns_redis

    @classmethod
    def from_settings(
        cls, github: GitHubSettings, redis: RedisSettings, *, policy: GitHubPolicy | None = None
    ) -> GitHubAppAdapter:
        """An adapter with its own Redis connection (closed by :meth:`aclose`)."""
        client: Redis = Redis.from_url(redis.url)
        return cls(github, client, key_prefix=redis.key_prefix, policy=policy, owns_redis=True)

    @property
    def host(self) -> str:
        """The GitHub API host this adapter talks to."""
        return self._calls.host

    def installation(self, installation_id: int) -> GitHubInstallationAdapter:
        """A client acting as ``installation_id`` (cheap: tokens are fetched lazily and cached in Redis)."""
        return GitHubInstallationAdapter(self._calls, installation_id)

    async def repo_installation(self, owner: str, repo: str) -> int:
        """The id of the App's installation that covers ``owner/repo``."""

        async def get() -> int:
            response = await _rest(self._calls.github, "GET", f"{_repo_path(owner, repo)}/installation")
            return int(response.json()["id"])

        return await self._calls.required("repo_installation", None, get)

    async def list_hook_deliveries(
        self, *, per_page: int = PER_PAGE, cursor: str | None = None
    ) -> tuple[list[HookDelivery], str | None]:
        """One page of the App's webhook deliveries, newest first, and the next page's cursor (or None)."""

        async def get() -> tuple[list[HookDelivery], str | None]:
            params: dict[str, Any] = {"per_page": per_page}
            if cursor:
                params["cursor"] = cursor
            response = await _rest(self._calls.github, "GET", "/app/hook/deliveries", params=params)
            items = [DeliveryJson.model_validate(item).to_domain() for item in _json_list(response)]
            next_url = response.raw_response.links.get("next", {}).get("url")
            return items, httpx.URL(next_url).params.get("cursor") if next_url else None

        return await self._calls.required("hook_deliveries", None, get)

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to deliver ``delivery_id`` again (it never redelivers failed deliveries by itself)."""

        async def post() -> bool:
            await _rest(self._calls.github, "POST", f"/app/hook/deliveries/{delivery_id}/attempts")
            return True

        await self._calls.required("redeliver", None, post)

    async def aclose(self) -> None:
        """Close the connection pool (and the Redis client when this adapter created it)."""
        await self._calls.transport.close()
        if self._owns_redis:
            await self._calls.redis.aclose()


def _json_list(response: Response[Any]) -> list[Any]:
    """A page of a list answer (githubkit's paginator maps each page's response through this)."""
    body = response.json()
    if not isinstance(body, list):
        raise UnavailableError(f"GitHub answered {type(body).__name__} where a list was expected")
    return body


def _comment_json(comment: InlineComment) -> ReviewCommentBody:
    """An inline comment as GitHub takes it: on the new side of the diff, a range when it spans lines."""
    data: ReviewCommentBody = {
        "path": comment.path,
        "body": comment.body,
        "line": comment.line,
        "side": "RIGHT",
    }
    if comment.start_line is not None and comment.start_line != comment.line:
        # GitHub refuses a range whose start equals its end; a one-line range is a plain comment.
        data["start_line"] = comment.start_line
        data["start_side"] = "RIGHT"
    return data
