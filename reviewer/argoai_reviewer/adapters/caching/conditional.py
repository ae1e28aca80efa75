"""Conditional GitHub reads: an httpx transport that revalidates cached answers with ``If-None-Match``.

GitHub answers a GET naming the current ETag with ``304 Not Modified`` and does not count it against the
installation's primary rate limit (5,000 requests an hour and up). So every cacheable answer (a 200 to a GET
with an ``ETag``, of a JSON or text media type, at most :data:`MAX_BODY_BYTES`) is kept with its ETag in an
:class:`EntryStore`, per installation; the next identical GET carries ``If-None-Match`` and a 304 is turned
back into the stored 200 (with the 304's fresh rate-limit headers). Nothing is served without asking GitHub:
a new pull request head is seen at once, unlike with ``Cache-Control: max-age`` caching.

The key holds the URL and the headers GitHub varies on (``Accept``, ``Accept-Encoding``, the API version)
plus the installation (``scope()``), never the token itself: installation tokens change every hour, the
installation's view of a resource does not. The body is kept as received (still compressed when it was),
with its headers, so the client decodes a revalidated answer exactly like a fresh one.

A store that fails makes the request unconditional (best effort: a read never fails because of the cache).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger
from argoai_reviewer.metrics import GITHUB_CONDITIONAL

log = get_logger(__name__)

# Larger answers are not kept (a 3,000-file pull request's pages are ~100 KB each; a file's content ≤ 1 MB).
MAX_BODY_BYTES = 2 * 1024 * 1024
# Media types whose answers are kept: the API's JSON and raw text, never archives.
_CACHEABLE_TYPES = ("application/json", "application/vnd.github", "text/")
# Headers of the stored 200 that a 304 refreshes (the quota left, the date, the tag itself).
_FRESH_PREFIXES = ("x-ratelimit-", "date", "etag", "x-github-request-id")


@dataclass(frozen=True)
class Entry:
    """A cached answer: its ETag, headers and body as received."""

    etag: str
    headers: list[tuple[str, str]]
    body: bytes

    def pack(self) -> bytes:
        """One Redis value: a JSON line of the ETag and headers, then the body."""
        head = json.dumps({"etag": self.etag, "headers": self.headers}, separators=(",", ":"))
        return head.encode() + b"\n" + self.body

    @classmethod
    def unpack(cls, value: bytes) -> Entry | None:
        """The entry, or None for a value this version cannot read."""
        head, _, body = value.partition(b"\n")
        try:
            meta = json.loads(head)
            return cls(
                etag=str(meta["etag"]), headers=[(str(k), str(v)) for k, v in meta["headers"]], body=body
            )
        except (ValueError, KeyError, TypeError):
            return None


class EntryStore(Protocol):
    """Where ETags and bodies are kept (Redis: :mod:`argoai_reviewer.adapters.caching.etags`)."""

    async def get(self, scope: str, key: str) -> bytes | None:
        """The packed entry, or None."""
        ...

    async def put(self, scope: str, key: str, value: bytes) -> None:
        """Keep the packed entry (the store chooses its lifetime)."""
        ...


def request_key(request: httpx.Request) -> str:
    """The cache key of a GET: its URL and the headers its representation varies on."""
    parts = [
        str(request.url),
        request.headers.get("accept", ""),
        request.headers.get("accept-encoding", ""),
        request.headers.get("x-github-api-version", ""),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class ConditionalTransport(httpx.AsyncBaseTransport):
    """Revalidate cacheable GETs with their stored ETag; see the module docstring.

    ``handles(request)`` picks the requests to cache (the API's, not the archive host's); ``scope()`` names
    the installation the current request acts for.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        store: EntryStore,
        *,
        scope: Callable[[], str],
        handles: Callable[[httpx.Request], bool],
    ) -> None:
        self._inner = inner
        self._store = store
        self._scope = scope
        self._handles = handles

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``, conditionally when an ETag is known; a 304 becomes the stored answer."""
        if request.method != "GET" or not self._handles(request) or "if-none-match" in request.headers:
            return await self._inner.handle_async_request(request)
        scope, key = self._scope(), request_key(request)
        entry = await self._lookup(scope, key)
        if entry is not None:
            request.headers["if-none-match"] = entry.etag
        response = await self._inner.handle_async_request(request)
        if response.status_code == 304 and entry is not None:
            await response.aclose()
            GITHUB_CONDITIONAL.labels(result="not_modified").inc()
            return _revalidated(entry, response, request)
        if entry is not None:
            del request.headers["if-none-match"]
        if not _cacheable(response):
            GITHUB_CONDITIONAL.labels(result="uncached").inc()
            return response
        # Read as received (compressed or not) so the stored copy decodes exactly like the original.
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        headers = list(response.headers.multi_items())
        GITHUB_CONDITIONAL.labels(result="modified" if entry is not None else "uncached").inc()
        if len(body) <= MAX_BODY_BYTES:
            await self._keep(scope, key, Entry(etag=response.headers["etag"], headers=headers, body=body))
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=httpx.ByteStream(body),
            request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the transport below."""
        await self._inner.aclose()

    async def _lookup(self, scope: str, key: str) -> Entry | None:
        try:
            value = await self._store.get(scope, key)
        except UnavailableError as exc:
            log.warning("GitHub ETag cache unavailable: unconditional request", error=str(exc))
            return None
        return None if value is None else Entry.unpack(value)

    async def _keep(self, scope: str, key: str, entry: Entry) -> None:
        try:
            await self._store.put(scope, key, entry.pack())
        except UnavailableError as exc:
            log.warning("could not keep a GitHub answer's ETag", error=str(exc))


def _cacheable(response: httpx.Response) -> bool:
    if response.status_code != 200 or "etag" not in response.headers:
        return False
    if "no-store" in response.headers.get("cache-control", ""):
        return False
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > MAX_BODY_BYTES:
        return False
    media = response.headers.get("content-type", "").lower()
    return bool(media.startswith(_CACHEABLE_TYPES))


def _revalidated(entry: Entry, fresh: httpx.Response, request: httpx.Request) -> httpx.Response:
    """The stored 200, with the 304's rate-limit headers (the quota left is the one GitHub just reported)."""
    kept = [(k, v) for k, v in entry.headers if not k.lower().startswith(_FRESH_PREFIXES)]
    refreshed = [(k, v) for k, v in fresh.headers.multi_items() if k.lower().startswith(_FRESH_PREFIXES)]
    return httpx.Response(200, headers=kept + refreshed, stream=httpx.ByteStream(entry.body), request=request)
