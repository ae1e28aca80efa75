"""A recording HTTP proxy between ``argoai review`` and a real LLM server, for the compatibility run.

It forwards every request unchanged and relays the answer as it arrives (streams stay streams), and records
what the protocol check needs: the parameters that matter (``response_format``, the output-limit parameters,
``stream``), the status, the time to the first byte and in all, and from the answer its finish reason and
how many tokens it carried (the usage when the server reports it, else one per streamed content chunk, as
llama.cpp streams a token per chunk).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "content-encoding"}


@dataclass
class Exchange:
    """One request through the proxy and what came back."""

    number: int
    path: str
    response_format: str | None
    response_schema: bool
    max_tokens: int | None
    max_completion_tokens: int | None
    stream: bool
    status: int = 0
    first_byte_s: float | None = None
    seconds: float = 0.0
    finish_reason: str | None = None
    output_tokens: int | None = None
    usage_reported: bool = False
    error: str | None = None
    body_bytes: int = 0
    content: str = field(default="", repr=False)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary (the answer's text cut short)."""
        data = asdict(self)
        data["content"] = self.content[:300]
        return data


def _analyse(exchange: Exchange, raw: bytes) -> None:
    """Fill in the finish reason, tokens and text from a whole JSON answer or an SSE stream."""
    text = raw.decode("utf-8", "replace")
    exchange.body_bytes = len(raw)
    if exchange.status >= 400:
        exchange.error = text[:2000]
        return
    if not exchange.stream:
        try:
            data = json.loads(text)
        except ValueError:
            exchange.error = f"not JSON: {text[:300]}"
            return
        choice = (data.get("choices") or [{}])[0]
        exchange.finish_reason = choice.get("finish_reason")
        exchange.content = (choice.get("message") or {}).get("content") or ""
        usage = data.get("usage") or {}
        exchange.usage_reported = "completion_tokens" in usage
        exchange.output_tokens = usage.get("completion_tokens")
        return
    chunks, parts = 0, []
    for line in text.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        try:
            data = json.loads(line.removeprefix("data: "))
        except ValueError:
            continue
        if data.get("usage"):
            exchange.usage_reported = True
            exchange.output_tokens = data["usage"].get("completion_tokens")
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                chunks += 1
                parts.append(delta["content"])
            if choice.get("finish_reason"):
                exchange.finish_reason = choice["finish_reason"]
    exchange.content = "".join(parts)
    if not exchange.usage_reported:
        exchange.output_tokens = chunks


class RecordingProxy:
    """Forward ``/…`` to ``upstream`` and record each exchange (:attr:`exchanges`)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(routes=[Route("/{path:path}", self._forward, methods=["GET", "POST"])])

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingProxy:
        """Serve in a background thread."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)

    async def _forward(self, request: Request) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(3600.0))
        body = await request.body()
        try:
            sent = json.loads(body) if body else {}
        except ValueError:
            sent = {}
        response_format = (
            sent.get("response_format") if isinstance(sent.get("response_format"), dict) else None
        )
        with self._lock:
            exchange = Exchange(
                number=len(self.exchanges) + 1,
                path=request.url.path,
                response_format=response_format.get("type") if response_format else None,
                response_schema=bool(
                    response_format
                    and (
                        response_format.get("schema")
                        or (response_format.get("json_schema") or {}).get("schema")
                    )
                ),
                max_tokens=sent.get("max_tokens"),
                max_completion_tokens=sent.get("max_completion_tokens"),
                stream=bool(sent.get("stream")),
            )
            self.exchanges.append(exchange)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        started = time.perf_counter()
        upstream = self._client.build_request(
            request.method, f"{self.upstream}{request.url.path}", content=body, headers=headers
        )
        answer = await self._client.send(upstream, stream=True)
        exchange.status = answer.status_code

        async def relay() -> AsyncIterator[bytes]:
            received = bytearray()
            try:
                async for part in answer.aiter_raw():
                    if exchange.first_byte_s is None:
                        exchange.first_byte_s = round(time.perf_counter() - started, 3)
                    received.extend(part)
                    yield part
            finally:
                await answer.aclose()
                exchange.seconds = round(time.perf_counter() - started, 3)
                _analyse(exchange, bytes(received))

        out_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(relay(), status_code=answer.status_code, headers=out_headers)
