"""Request coalescing: identical GETs in flight at once in this process share one request to GitHub.

When several reviews of one pull request (or one review's parallel reads) ask for the same URL with the same
credentials and media type while a first request is still on its way, they wait for its answer instead of
sending their own; each gets its own copy of the status, headers and body. Only GETs the ``handles`` predicate
accepts are coalesced (the API's small JSON answers, not streamed archives), and the shared answer is read
whole. The key includes the ``Authorization`` header: two installations never share an answer.

This is the outer layer of the stack (above :mod:`.conditional`), so a burst of identical reads costs one
conditional request at most.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from argoai_reviewer.metrics import GITHUB_COALESCED


@dataclass(frozen=True)
class _Shared:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class CoalescingTransport(httpx.AsyncBaseTransport):
    """Identical concurrent GETs share one request to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, handles: Callable[[httpx.Request], bool]) -> None:
        self._inner = inner
        self._handles = handles
        self._in_flight: dict[str, asyncio.Future[_Shared]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, or wait for an identical one already in flight."""
        if request.method != "GET" or not self._handles(request):
            return await self._inner.handle_async_request(request)
        key = _key(request)
        pending = self._in_flight.get(key)
        if pending is not None:
            GITHUB_COALESCED.inc()
            # Shielded: a waiter that is cancelled must not cancel the leader's request for the others.
            return _response(await asyncio.shield(pending), request)
        future: asyncio.Future[_Shared] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            response = await self._inner.handle_async_request(request)
            try:
                body = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
            shared = _Shared(response.status_code, list(response.headers.multi_items()), body)
            future.set_result(shared)
        except BaseException as exc:
            # Waiters see the same failure (a cancelled leader counts as a failed request for them).
            future.set_exception(exc if isinstance(exc, Exception) else httpx.ReadError("request cancelled"))
            future.exception()  # retrieved here: no "exception never retrieved" warning without waiters
            raise
        finally:
            del self._in_flight[key]
        return _response(shared, request, extensions=response.extensions)

    async def aclose(self) -> None:
        """Close the transport below."""
        await self._inner.aclose()


def _key(request: httpx.Request) -> str:
    parts = [
        str(request.url),
        request.headers.get("authorization", ""),
        request.headers.get("accept", ""),
        request.headers.get("accept-encoding", ""),
        request.headers.get("x-github-api-version", ""),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _response(
    shared: _Shared, request: httpx.Request, extensions: dict[str, object] | None = None
) -> httpx.Response:
    return httpx.Response(
        shared.status,
        headers=shared.headers,
        stream=httpx.ByteStream(shared.body),
        request=request,
        extensions=extensions or {},
    )
