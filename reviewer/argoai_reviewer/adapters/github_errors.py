"""The one place where githubkit's exceptions become ArgoAI's error tree.

``RateLimitedError`` carries how long GitHub asked us to wait, ``UnavailableError`` covers timeouts,
connection failures and 5xx, and every other 4xx is permanent (``InvalidInputError`` for a 422, which for a
review means GitHub refused one of its inline comments). The retry policy reads the same helpers, so "what
is a rate limit" is decided once.
"""

from __future__ import annotations

import httpx
from githubkit.exception import (
    AuthCredentialError,
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)

from argoai_core.errors import (
    ArgoAIError,
    ConfigError,
    InvalidInputError,
    PermanentError,
    RateLimitedError,
    UnavailableError,
)

# GitHub: "If you exceed a secondary rate limit and no retry-after header is sent, wait at least one minute."
SECONDARY_LIMIT_DEFAULT_DELAY = 60.0
# How long the job waits before trying again after GitHub answered 5xx or could not be reached.
UNAVAILABLE_DELAY = 15.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def unwrap(exc: GitHubException) -> GitHubException:
    """The real failure: the installation-token request fails inside httpx's auth flow, so githubkit wraps
    that request's ``RequestFailed`` in a plain ``RequestError``."""
    while type(exc) is RequestError and isinstance(exc.exc, GitHubException):
        exc = exc.exc
    return exc


def status_of(exc: GitHubException) -> int | None:
    """The HTTP status GitHub answered, or None when there was no answer."""
    exc = unwrap(exc)
    return exc.response.status_code if isinstance(exc, RequestFailed) else None


def message_of(exc: GitHubException) -> str:
    """GitHub's ``message`` (and ``errors``) from an error answer, for logs and error messages."""
    exc = unwrap(exc)
    if not isinstance(exc, RequestFailed):
        return repr(exc.exc) if isinstance(exc, RequestError) else type(exc).__name__
    try:
        body = exc.response.json()
    except ValueError:
        return exc.response.text[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    message = str(body.get("message", ""))
    if body.get("errors"):
        message += f" {body['errors']}"
    return message[:500]


def rate_limit_delay(exc: GitHubException) -> float | None:
    """Seconds GitHub asked us to wait, when ``exc`` is a primary or secondary rate limit; else None.

    githubkit recognises ``retry-after`` and ``x-ratelimit-remaining: 0`` (waiting until
    ``x-ratelimit-reset``); a 403/429 whose message names a rate limit without those headers waits a minute.
    """
    exc = unwrap(exc)
    if isinstance(exc, RateLimitExceeded):
        return max(0.0, exc.retry_after.total_seconds())
    if isinstance(exc, RequestFailed) and (
        exc.response.status_code == 429
        or (exc.response.status_code == 403 and "rate limit" in message_of(exc).lower())
    ):
        return SECONDARY_LIMIT_DEFAULT_DELAY
    return None


def request_method(exc: GitHubException) -> str | None:
    """The HTTP method of the failed request, when known."""
    exc = unwrap(exc)
    if isinstance(exc, RequestFailed):
        return exc.request.method
    if isinstance(exc, RequestError) and isinstance(exc.exc, httpx.RequestError):
        try:
            return exc.exc.request.method
        except RuntimeError:  # httpx raises this when the error has no request attached
            return None
    return None


def safe_to_repeat(exc: GitHubException) -> bool:
    """Whether repeating the failed request cannot do anything twice: a read, a new installation token, or a
    request that certainly never reached GitHub (connection refused or connect timeout)."""
    exc = unwrap(exc)
    if request_method(exc) in IDEMPOTENT_METHODS:
        return True
    if isinstance(exc, RequestFailed) and exc.request.url.path.endswith("/access_tokens"):
        return True
    return isinstance(exc, RequestError) and isinstance(exc.exc, (httpx.ConnectError, httpx.ConnectTimeout))


def to_argoai_error(exc: GitHubException, what: str) -> ArgoAIError:
    """ArgoAI's error for a failed GitHub call; ``what`` names the call for the message."""
    exc = unwrap(exc)
    delay = rate_limit_delay(exc)
    if delay is not None:
        return RateLimitedError(f"GitHub rate limit on {what}: retry in {delay:.0f}s", delay=delay)
    if isinstance(exc, AuthCredentialError):
        return ConfigError(f"GitHub App credentials: {exc}")
    if isinstance(exc, RequestTimeout):
        return UnavailableError(f"GitHub timed out on {what}", delay=UNAVAILABLE_DELAY)
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        detail = f"GitHub answered {status} to {what}: {message_of(exc)}"
        if status >= 500:
            return UnavailableError(detail, delay=UNAVAILABLE_DELAY)
        if status == 422:
            return InvalidInputError(detail)
        # 401 after a fresh token, 403 (missing permission), 404 (gone or not visible), 410...
        return PermanentError(detail)
    if isinstance(exc, RequestError):
        return UnavailableError(f"GitHub unreachable on {what}: {message_of(exc)}", delay=UNAVAILABLE_DELAY)
    return UnavailableError(f"GitHub client error on {what}: {type(exc).__name__}", delay=UNAVAILABLE_DELAY)
