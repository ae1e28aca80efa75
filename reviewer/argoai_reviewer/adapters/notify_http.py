"""httpx adapter posting notifications to their targets (Slack, Discord, signed webhooks).

One client for the process, with the ``ARGOAI_NOTIFY_TIMEOUT_SECONDS`` timeout and no redirects followed (a
target answering 3xx is misconfigured, and following it could send the payload somewhere else). Errors say
what failed, never the URL: a Slack or Discord webhook URL is itself the credential. httpx logs every request
with its URL (``HTTP Request: POST <url> …``, at INFO): a filter on its logger rewrites those lines for the
targets' URLs, so the credential never reaches the logs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from argoai_core.errors import UnavailableError
from argoai_reviewer.runtime.notify_worker import PostResult

# Retry hint when a target does not answer at all.
NO_ANSWER_DELAY_SECONDS = 5.0


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), None when absent or odd."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HideTargetUrls(logging.Filter):
    """Rewrites log records that mention one of ``urls`` (httpx's request lines) to name no URL."""

    def __init__(self, urls: Iterable[str]) -> None:
        super().__init__()
        self._urls = tuple(url for url in urls if url)

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, with the URL taken out of it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        if any(url.rstrip("/") in message for url in self._urls):
            record.msg, record.args = "HTTP request to a notification target (URL not logged)", None
        return True


class HttpxPoster:
    """:class:`~argoai_reviewer.runtime.notify_worker.Poster` on one httpx client."""

    def __init__(self, timeout_seconds: float, urls: Iterable[str] = ()) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)
        self._filter = HideTargetUrls(urls)
        logging.getLogger("httpx").addFilter(self._filter)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        """POST ``body``; UnavailableError (without the URL) when the target does not answer."""
        try:
            response = await self._client.post(url, content=body, headers=dict(headers))
        except httpx.TimeoutException:
            raise UnavailableError(
                "the target did not answer in time", delay=NO_ANSWER_DELAY_SECONDS
            ) from None
        except httpx.HTTPError as exc:
            # The exception's text may contain the URL: only its kind is reported.
            raise UnavailableError(
                f"the target could not be reached ({type(exc).__name__})", delay=NO_ANSWER_DELAY_SECONDS
            ) from None
        return PostResult(response.status_code, retry_after(response.headers.get("retry-after")))

    async def aclose(self) -> None:
        """Close the client's connections."""
        logging.getLogger("httpx").removeFilter(self._filter)
        await self._client.aclose()
