"""A fake LLM server speaking the OpenAI chat completions and Anthropic Messages APIs, for tests and benches.

It is a real HTTP server (uvicorn in a background thread, or a process: ``python -m support.fake_llm``), so
the real SDKs talk to it exactly as to the real services:

* ``POST /v1/chat/completions`` (OpenAI-compatible; ``Authorization: Bearer <key>``)
* ``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` (Azure; ``api-key: <key>``)
* ``POST /v1/messages`` (Anthropic; ``x-api-key: <key>`` or ``Authorization: Bearer <key>``)

A wrong key gets 401. What each request is answered with is decided by, in order: replies queued with
:meth:`FakeLLM.enqueue` (one per request, FIFO), else the ``responder`` callback. The default responder,
:class:`MarkerResponder`, reports one finding for each prompt line containing a marker (``FIXME-BUG``), citing
that line's path and number and quoting its code, so end-to-end tests and benchmarks get checkable findings.
Every request is recorded (:attr:`FakeLLM.requests`) so tests can assert on what was sent.

Control endpoints for a fake in another process: ``GET /_fake/requests`` (recorded requests as JSON),
``POST /_fake/enqueue`` (a JSON list of :class:`Reply` fields), ``POST /_fake/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import math
import re
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from argoai_core.models.findings import Category, Finding, ReviewOutput, Severity

Api = Literal["openai", "azure", "anthropic"]

# --------------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods; ``delay`` seconds pass before it is sent.

    ``kind``: ``json`` (``value`` is the structured answer: OpenAI message content as JSON text, Anthropic
    tool-call input), ``text`` (``value`` is raw text: OpenAI content verbatim, Anthropic a text block and no
    tool call), ``refusal`` (OpenAI ``message.refusal``, Anthropic ``stop_reason: refusal``), ``error``.
    """

    kind: Literal["json", "text", "refusal", "error"]
    value: Any = None
    status: int = 200
    error_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncated: bool = False

    @classmethod
    def output(cls, output: ReviewOutput | dict[str, Any], *, delay: float = 0.0) -> Reply:
        """A valid (or, from a dict, possibly schema-violating) structured answer."""
        value = output.model_dump(mode="json") if isinstance(output, ReviewOutput) else output
        return cls(kind="json", value=value, delay=delay)

    @classmethod
    def json(cls, value: Any, *, delay: float = 0.0, truncated: bool = False) -> Reply:
        """Any JSON value as the structured answer (e.g. one that breaks the schema)."""
        return cls(kind="json", value=value, delay=delay, truncated=truncated)

    @classmethod
    def text(cls, text: str, *, delay: float = 0.0) -> Reply:
        """Raw text instead of structured output (OpenAI: e.g. invalid JSON; Anthropic: no tool call)."""
        return cls(kind="text", value=text, delay=delay)

    @classmethod
    def refusal(cls, text: str = "I can't help with that.") -> Reply:
        """The model refuses."""
        return cls(kind="refusal", value=text)

    @classmethod
    def error(
        cls, status: int, message: str, *, error_type: str = "", headers: dict[str, str] | None = None
    ) -> Reply:
        """An HTTP error with the API's error body (``error_type`` defaults by status)."""
        return cls(kind="error", value=message, status=status, error_type=error_type, headers=headers or {})

    @classmethod
    def rate_limited(cls, retry_after: float | None = 0.1) -> Reply:
        """429 with ``retry-after`` (whole seconds, rounded up) and ``retry-after-ms`` when given."""
        headers = {}
        if retry_after is not None:
            headers = {
                "retry-after": str(max(1, math.ceil(retry_after))),
                "retry-after-ms": str(int(retry_after * 1000)),
            }
        return cls.error(429, "Rate limit reached, please try again later", headers=headers)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        """A 5xx."""
        return cls.error(status, "The server had an error while processing your request")

    @classmethod
    def overloaded(cls) -> Reply:
        """Anthropic's 529 overloaded_error."""
        return cls.error(529, "Overloaded", error_type="overloaded_error")

    @classmethod
    def json_schema_unsupported(cls) -> Reply:
        """400 the way older vLLM/Ollama reject ``response_format: json_schema``."""
        return cls.error(400, "response_format type 'json_schema' is not supported by this server")

    @classmethod
    def slow(cls, seconds: float, then: Reply | None = None) -> Reply:
        """``then`` (default: an empty review) after ``seconds``."""
        return dataclasses.replace(
            then or cls.output(ReviewOutput(summary="slow", findings=[])), delay=seconds
        )


# ------------------------------------------------------------------------------------------------ requests


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    api: Api
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str:
        """The model asked for (Azure: the deployment from the path)."""
        if self.api == "azure":
            return self.path.split("/")[3]
        return str(self.body.get("model", ""))

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's messages (OpenAI: including the system message)."""
        return list(self.body.get("messages", []))

    @property
    def system(self) -> str:
        """The system instructions."""
        if self.api == "anthropic":
            return _text_of(self.body.get("system", ""))
        return "\n".join(
            _text_of(m.get("content")) for m in self.messages if m.get("role") in ("system", "developer")
        )

    @property
    def prompt(self) -> str:
        """The first user message: the review prompt (later user turns are corrections)."""
        for message in self.messages:
            if message.get("role") == "user":
                return _text_of(message.get("content"))
        return ""

    @property
    def text(self) -> str:
        """Everything sent as text (system and every message), e.g. to check that no secret was sent."""
        return "\n".join([self.system, *(_text_of(m.get("content")) for m in self.messages)])

    @property
    def structured_output(self) -> str | None:
        """How structured output was asked for: ``json_schema``, ``json_object``, ``tool`` or None."""
        if self.api == "anthropic":
            return "tool" if self.body.get("tool_choice", {}).get("type") == "tool" else None
        response_format = self.body.get("response_format")
        return response_format.get("type") if isinstance(response_format, dict) else None

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema sent (OpenAI json_schema.schema, or the forced Anthropic tool's input_schema)."""
        if self.api == "anthropic":
            name = self.body.get("tool_choice", {}).get("name")
            for tool in self.body.get("tools", []):
                if tool.get("name") == name:
                    return dict(tool.get("input_schema", {}))
            return None
        response_format = self.body.get("response_format") or {}
        schema = response_format.get("json_schema", {}).get("schema")
        return dict(schema) if isinstance(schema, dict) else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (for the control endpoint)."""
        return dataclasses.asdict(self)


def _text_of(content: Any) -> str:
    """The text of a message content: a string, or a list of blocks (text, tool_result…)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text_of(block) for block in content)
    if isinstance(content, dict):
        if "text" in content:
            return str(content["text"])
        if "content" in content:
            return _text_of(content["content"])
        if "input" in content:
            return json.dumps(content["input"])
    return ""


# ---------------------------------------------------------------------------------------- default responder


@dataclass(frozen=True)
class PromptLine:
    """One line of code in a prompt: its file, its line number in the new file, and its text."""

    path: str
    line: int
    code: str
    added: bool = True


PromptLineParser = Callable[[str], Iterable[PromptLine]]


@dataclass(frozen=True)
class RegexLineParser:
    """Parses prompts where a ``file`` regex line (group ``path``) starts each file and a ``line`` regex
    (groups ``line``, ``kind`` and ``code``) matches each numbered line of the new file.

    The defaults follow :mod:`argoai_reviewer.analysis.context`'s rendering: a header
    ``=== path (status) ===`` per file (or part of one) and rows ``<number right-aligned> <+ or space>
    <code>``; removed lines carry no number and are skipped (they cannot be commented on).
    """

    file: re.Pattern[str] = re.compile(r"^=== (?P<path>.+?) \([a-z]+[,)].* ===$")
    line: re.Pattern[str] = re.compile(r"^ *(?P<line>\d+) (?P<kind>[+ ]) (?P<code>.*)$")

    def __call__(self, prompt: str) -> Iterator[PromptLine]:
        """Every numbered code line, with the file it belongs to."""
        path = ""
        for text in prompt.splitlines():
            if found := self.file.match(text):
                path = found["path"]
                continue
            if path and (found := self.line.match(text)):
                yield PromptLine(
                    path=path, line=int(found["line"]), code=found["code"], added=found["kind"] == "+"
                )


@dataclass
class MarkerResponder:
    """Reports one finding per prompt line that contains ``marker``, citing and quoting that line.

    ``parse`` turns a prompt into lines (swap it when the prompt format differs); ``added_only`` ignores
    marked lines that are unchanged context.
    """

    marker: str = "FIXME-BUG"
    parse: PromptLineParser = field(default_factory=RegexLineParser)
    added_only: bool = False
    severity: Severity = Severity.MAJOR
    category: Category = Category.BUG

    def findings(self, prompt: str) -> list[Finding]:
        """The findings this responder reports for ``prompt``."""
        return [
            Finding(
                path=line.path,
                start_line=line.line,
                end_line=line.line,
                quote=line.code.rstrip() or line.code,
                severity=self.severity,
                category=self.category,
                title=f"Marked bug on line {line.line}",
                body=f"This line is marked {self.marker}: fix the bug it marks.",
                suggestion=None,
            )
            for line in self.parse(prompt)
            if self.marker in line.code and (line.added or not self.added_only)
        ][:100]

    def __call__(self, request: Recorded) -> Reply:
        """A review of the request's prompt."""
        findings = self.findings(request.prompt)
        return Reply.output(
            ReviewOutput(summary=f"Fake review: {len(findings)} marked line(s).", findings=findings)
        )


@dataclass
class EvidenceResponder:
    """Reports one finding (``path``, ``line``, ``quote``) only when the prompt shows both the quoted code and
    ``evidence``: a model that reports only what it was shown, so a test fails when the context is missing.

    ``seen`` records, for each request, whether the evidence was in it.
    """

    path: str
    line: int
    quote: str
    evidence: str
    title: str = "Wrong argument for the called function"
    body: str = "The called definition expects another unit than the one passed here."
    seen: list[bool] = field(default_factory=list)

    def __call__(self, request: Recorded) -> Reply:
        """The finding when the evidence and the code are in the prompt, else an empty review."""
        prompt = request.prompt
        shown = self.evidence in prompt and self.quote in prompt
        self.seen.append(self.evidence in prompt)
        findings = [
            Finding(
                path=self.path,
                start_line=self.line,
                end_line=self.line,
                quote=self.quote,
                severity=Severity.MAJOR,
                category=Category.BUG,
                title=self.title,
                body=self.body,
                suggestion=None,
            )
        ]
        return Reply.output(
            ReviewOutput(summary="Evidence-based review.", findings=findings if shown else [])
        )


Responder = Callable[[Recorded], Reply]

# --------------------------------------------------------------------------------------------------- server

_DEFAULT_ERROR_TYPES = {
    "openai": {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
               429: "requests", 500: "server_error"},
    "anthropic": {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                  404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                  529: "overloaded_error"},
}  # fmt: skip


def _tokens(text: str) -> int:
    """A deterministic token count (about 4 characters per token)."""
    return max(1, len(text) // 4)


class FakeLLM:
    """The fake server. Use as a (sync) context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        *,
        api_key: str | None = "test-llm-key",
        responder: Responder | None = None,
        delay: float = 0.0,
        json_schema_supported: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.responder: Responder = responder or MarkerResponder()
        self.delay = delay
        # False: behave like older vLLM/Ollama, answering every ``json_schema`` request with HTTP 400.
        self.json_schema_supported = json_schema_supported
        self._host = host
        self._port = port
        self._queue: deque[Reply] = deque()
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/chat/completions", self._openai, methods=["POST"]),
                Route("/openai/deployments/{deployment}/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/_fake/requests", self._control_requests, methods=["GET"]),
                Route("/_fake/enqueue", self._control_enqueue, methods=["POST"]),
                Route("/_fake/reset", self._control_reset, methods=["POST"]),
            ]
        )

    # ---- addresses

    @property
    def url(self) -> str:
        """``http://host:port``: the Anthropic base URL and the Azure endpoint."""
        return f"http://{self._host}:{self._port}"

    @property
    def openai_base_url(self) -> str:
        """The OpenAI-compatible base URL (``…/v1``)."""
        return f"{self.url}/v1"

    # ---- scripting and inspection

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, before falling back to the responder."""
        with self._lock:
            self._queue.extend(replies)

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far (a copy)."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget recorded requests and queued replies."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()

    # ---- lifecycle

    def start(self) -> Self:
        """Serve in a background thread; returns once the server accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving (in-flight slow answers are cut short)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- handling

    def _next_reply(self, request: Recorded) -> Reply:
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        return scripted or self.responder(request)

    async def _receive(self, request: Request, api: Api) -> tuple[Recorded, Response | None]:
        body = await request.json()
        recorded = Recorded(
            api=api,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self._requests.append(recorded)
        if self.api_key is not None:
            given = {
                "openai": recorded.headers.get("authorization", "").removeprefix("Bearer "),
                "azure": recorded.headers.get("api-key", ""),
                # Anthropic SDK 2.x sends the key as a Bearer token; older clients send x-api-key.
                "anthropic": recorded.headers.get("x-api-key")
                or recorded.headers.get("authorization", "").removeprefix("Bearer "),
            }[api]
            if given != self.api_key:
                return recorded, self._error(api, Reply.error(401, "Incorrect API key provided"))
        if api == "azure" and not recorded.query.get("api-version"):
            return recorded, self._error(api, Reply.error(404, "Resource not found"))
        if not self.json_schema_supported and recorded.structured_output == "json_schema":
            return recorded, self._error(api, Reply.json_schema_unsupported())
        return recorded, None

    async def _wait(self, request: Request, seconds: float) -> None:
        # Sleep in slices so a client that gave up (timeout) does not hold the server's shutdown.
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(0.05, left))
            if self._server is not None and self._server.should_exit:
                return

    def _error(self, api: Api, reply: Reply) -> Response:
        family = "anthropic" if api == "anthropic" else "openai"
        kind = reply.error_type or _DEFAULT_ERROR_TYPES[family].get(reply.status, "api_error")
        if family == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": reply.value}}
        else:
            code = "rate_limit_exceeded" if reply.status == 429 else None
            body = {"error": {"message": reply.value, "type": kind, "param": None, "code": code}}
        return JSONResponse(body, status_code=reply.status, headers=reply.headers)

    async def _openai(self, request: Request) -> Response:
        api: Api = "azure" if request.url.path.startswith("/openai/") else "openai"
        recorded, refused = await self._receive(request, api)
        if refused is not None:
            return refused
        reply = self._next_reply(recorded)
        await self._wait(request, self.delay + reply.delay)
        if reply.kind == "error":
            return self._error(api, reply)
        content: str | None = None
        refusal: str | None = None
        if reply.kind == "json":
            content = json.dumps(reply.value)
        elif reply.kind == "text":
            content = str(reply.value)
        else:
            refusal = str(reply.value)
        number = next(self._ids)
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{number}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": recorded.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": refusal},
                        "finish_reason": "length" if reply.truncated else "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": (prompt := _tokens(recorded.text)),
                    "completion_tokens": (completion := _tokens(content or refusal or "")),
                    "total_tokens": prompt + completion,
                },
            }
        )

    async def _anthropic(self, request: Request) -> Response:
        recorded, refused = await self._receive(request, "anthropic")
        if refused is not None:
            return refused
        reply = self._next_reply(recorded)
        await self._wait(request, self.delay + reply.delay)
        if reply.kind == "error":
            return self._error("anthropic", reply)
        number = next(self._ids)
        tool = recorded.body.get("tool_choice", {}).get("name") or "tool"
        if reply.kind == "json":
            content = [{"type": "tool_use", "id": f"toolu_fake_{number}", "name": tool, "input": reply.value}]
            stop = "max_tokens" if reply.truncated else "tool_use"
        else:
            content = [{"type": "text", "text": str(reply.value)}]
            stop = "refusal" if reply.kind == "refusal" else "end_turn"
        return JSONResponse(
            {
                "id": f"msg_fake_{number}",
                "type": "message",
                "role": "assistant",
                "model": recorded.model,
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": _tokens(recorded.text),
                    "output_tokens": _tokens(json.dumps(content)),
                },
            }
        )

    async def _control_requests(self, request: Request) -> Response:
        return JSONResponse([recorded.to_json() for recorded in self.requests])

    async def _control_enqueue(self, request: Request) -> Response:
        self.enqueue(*(Reply(**fields) for fields in await request.json()))
        return JSONResponse({"queued": True})

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({"reset": True})


def main(argv: list[str] | None = None) -> None:
    """Run the fake in the foreground: ``python -m support.fake_llm --port 8099 --delay 2``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-llm-key", help="empty: accept any key")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--marker", default="FIXME-BUG")
    args = parser.parse_args(argv)
    fake = FakeLLM(
        api_key=args.api_key or None,
        responder=MarkerResponder(marker=args.marker),
        delay=args.delay,
        host=args.host,
        port=args.port,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fake:
        # The first stdout line tells a parent process where to connect.
        print(f"FAKE_LLM_URL={fake.url}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
