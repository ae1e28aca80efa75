"""How the githubkit client is built: base URL, explicit timeouts, capped retries, a token cache in Redis
shared by every pod (keyed by host), one connection pool, and metrics on every HTTP answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import jwt
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub
from githubkit.auth.app import AppAuth
from githubkit.cache import AsyncRedisCacheStrategy
from githubkit.exception import AuthCredentialError
from githubkit.utils import UNSET, Unset
from jwt.algorithms import RSAAlgorithm
from pydantic import BaseModel
from redis.asyncio import Redis

from argoai_core.settings import GitHubSettings
from argoai_reviewer.adapters.github_retry import CappedRetry, GitHubPolicy
from argoai_reviewer.metrics import GITHUB_CALLS, GITHUB_RATE_REMAINING

# Which adapter call and installation the HTTP answers being recorded belong to (set around each call).
CALL_KIND: ContextVar[str] = ContextVar("github_call_kind", default="other")
CALL_INSTALLATION: ContextVar[str] = ContextVar("github_call_installation", default="app")

USER_AGENT = "argoai-reviewer"


class SharedTransport(httpx.AsyncBaseTransport):
    """A connection pool that outlives githubkit's per-request clients.

    githubkit opens and closes an ``httpx.AsyncClient`` for every request made outside ``async with github``;
    closing the client closes its transport. Wrapping the pool makes those closes no-ops, so connections are
    kept alive across calls; :meth:`close` really closes it.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the shared pool."""
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Ignored: githubkit closes its client after every request."""

    async def close(self) -> None:
        """Close the pool (when the adapter shuts down)."""
        await self._inner.aclose()


@cache
def _signing_key(pem: str) -> Any:
    """The App's private key, parsed once per process (PyJWT's own parsing)."""
    return RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(pem)


class _InstallationToken(BaseModel):
    """What the installation-token answer is read for (githubkit's auth flow reads these two attributes)."""

    token: str
    expires_at: str


class _AppAuth(AppAuth):
    """githubkit's App auth flow, able to request paths that contain ``#`` or ``?`` (e.g. ``C#/x.cs``), and
    signing its JWTs with a key parsed once.

    githubkit 0.16.1 decides between JWT and token auth by rebuilding the URL from its *decoded* path, which
    httpx refuses when the path holds ``#`` or ``?``; this reads the still-encoded path instead. It also hands
    PyJWT the PEM text for every JWT, which parses and checks the RSA key each time: 36 ms of CPU per JWT on
    this machine, against 0.3 ms with the parsed key. A pod starting 200 reviews of new installations at
    once signed 200 JWTs (the cached one is only there once the first is stored).
    """

    def _create_jwt(self) -> str:
        # As githubkit's own: issued a minute in the past (clock drift), valid ten minutes.
        issued = datetime.now(UTC) - timedelta(minutes=1)
        claims = {"iss": self.issuer, "iat": issued, "exp": issued + timedelta(minutes=10)}
        return jwt.encode(claims, _signing_key(self.private_key), algorithm="RS256")

    def _get_api_route(self, url: httpx.URL) -> httpx.URL:
        path = url.raw_path.decode("ascii").partition("?")[0]
        base = self.github.config.base_url.raw_path.decode("ascii")
        if path.startswith(base):
            path = "/" + path[len(base) :]
        return httpx.URL(path=path)

    def _build_installation_auth_request(self) -> httpx.Request:
        # githubkit's own validates the body with its generated models (githubkit_schemas.v*: 11 modules,
        # ~2.5 MB); the request is the same: the non-default restrictions as JSON, ``{}`` without any.
        if self.installation_id is UNSET:
            raise AuthCredentialError("GitHub App installation_id must be provided to act as an installation")
        restrictions = {
            "repositories": self.repositories,
            "repository_ids": self.repository_ids,
            "permissions": self.permissions,
        }
        body = {key: value for key, value in restrictions.items() if value is not UNSET}
        base_url = self.github.config.base_url
        path = f"app/installations/{self.installation_id}/access_tokens".encode("ascii")
        return httpx.Request(
            "POST",
            base_url.copy_with(raw_path=base_url.raw_path + path),
            json=body,
            headers={"User-Agent": self.github.config.user_agent, "Accept": self.github.config.accept},
        )

    def _parse_installation_auth_response(self, response: httpx.Response) -> Any:
        return self.github._check(response, response_model=_InstallationToken)


class _InstallationAuthStrategy(AppInstallationAuthStrategy):
    """An installation's auth strategy using :class:`_AppAuth`."""

    def get_auth_flow(self, github: Any) -> httpx.Auth:
        """The auth flow for one client."""
        return _AppAuth(
            github,
            self.app_id,
            self.private_key,
            self.client_id,
            self.client_secret,
            self.installation_id,
            self.repositories,
            self.repository_ids,
            self.permissions,
        )


class PathSafeAppAuthStrategy(AppAuthStrategy):
    """The App's auth strategy using :class:`_AppAuth` (see there), for itself and its installations."""

    def as_installation(
        self,
        installation_id: int,
        repositories: Unset | Sequence[str] = UNSET,
        repository_ids: Unset | Sequence[int] = UNSET,
        permissions: Any = UNSET,
    ) -> AppInstallationAuthStrategy:
        """The strategy acting as ``installation_id``."""
        return _InstallationAuthStrategy(
            self.app_id,
            self.private_key,
            installation_id,
            self.client_id,
            self.client_secret,
            repositories,
            repository_ids,
            permissions,
        )

    def get_auth_flow(self, github: Any) -> httpx.Auth:
        """The auth flow for one client."""
        return _AppAuth(github, self.app_id, self.private_key, self.client_id, self.client_secret)


async def record_response(response: httpx.Response) -> None:
    """httpx response hook: count the call and remember the installation's remaining primary quota."""
    path = response.request.url.path
    kind = "access_token" if path.endswith("/access_tokens") else CALL_KIND.get()
    GITHUB_CALLS.labels(kind=kind, status=str(response.status_code)).inc()
    remaining = response.headers.get("x-ratelimit-remaining")
    if remaining is not None and remaining.isdigit() and kind != "access_token":
        GITHUB_RATE_REMAINING.labels(installation=CALL_INSTALLATION.get()).set(int(remaining))


def cache_prefix(key_prefix: str, host: str) -> str:
    """Redis prefix of the token cache: githubkit's keys hold the App and installation ids but not the host,
    so two GitHub hosts with the same ids would otherwise share (wrong) tokens."""
    return f"{key_prefix}:github:{host}"


def build_github(
    settings: GitHubSettings,
    redis: Redis,
    *,
    key_prefix: str,
    policy: GitHubPolicy,
    transport: SharedTransport,
) -> GitHub[AppAuthStrategy]:
    """The App-authenticated githubkit client for ``settings.api_url``."""
    app_id, private_key = settings.app_credentials()
    timeout = settings.timeout_seconds
    return GitHub(
        PathSafeAppAuthStrategy(app_id, private_key.get_secret_value()),
        base_url=settings.api_url,
        user_agent=USER_AGENT,
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        async_transport=transport,
        async_event_hooks={"response": [record_response]},
        cache_strategy=AsyncRedisCacheStrategy(redis, prefix=cache_prefix(key_prefix, settings.host)),
        # No HTTP response cache: a cached pull request (GitHub says max-age=60) would hide a new head.
        http_cache=False,
        auto_retry=CappedRetry(policy),
    )


def token_cache_keys(key_prefix: str, host: str, app_id: int, installation_id: int | None) -> list[str]:
    """The Redis keys of githubkit's cached App JWT and installation token (to drop them on a 401)."""
    prefix = cache_prefix(key_prefix, host)
    keys = [f"{prefix}:{AppAuth.JWT_CACHE_KEY.format(issuer=app_id)}"]
    if installation_id is not None:
        keys.append(
            prefix
            + ":"
            + AppAuth.INSTALLATION_CACHE_KEY.format(
                issuer=app_id,
                installation_id=installation_id,
                permissions="",
                repositories="",
                repository_ids="",
            )
        )
    return keys
