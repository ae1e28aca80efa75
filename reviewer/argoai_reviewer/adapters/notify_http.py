"""httpx adapter posting notifications to their targets (Slack, Discord, signed webhooks).

One client for the process, with the ``ARGOAI_NOTIFY_TIMEOUT_SECONDS`` timeout and no redirects followed (a
target answering 3xx is misconfigured, and following it could send the payload somewhere else). Errors say
what failed, never the URL: a Slack or Discord webhook URL is itself the credential.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class HttpxPoster:
    """:class:`~argoai_reviewer.runtime.notify_worker.Poster` on one httpx client."""

    def __init__(self, timeout_seconds: float) -> None:
        self._client = httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)

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
        await self._client.aclose()
