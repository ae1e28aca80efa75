"""A fake LLM server speaking the OpenAI chat completions and Anthropic Messages APIs, for tests and benches.

It is a real HTTP server (uvicorn in a background thread, or a process: ``python -m support.fake_llm``), so
the real SDKs talk to it exactly as to the real services:

* ``POST /v1/chat/completions`` (OpenAI-compatible; ``Authorization: Bearer <key>``)
* ``POST /openai/deployments/{deployment}/chat/completions?api-version=…`` (Azure; ``api-key: <key>``)
* ``POST /v1/messages`` (Anthropic; ``x-api-key: <key>`` or ``Authorization: Bearer <key>``)

A wrong key gets 401. Requests with ``stream: true`` are answered with server-sent events the way the
real APIs stream (OpenAI chunks ending in ``data: [DONE]``, with the usage in a last chunk when
``stream_options.include_usage`` is asked for; Anthropic's ``message_start`` … ``message_stop`` events with
the tool input in ``input_json_delta`` fragments). A client that leaves a stream early is seen and recorded
(:meth:`FakeLLM.outcome`).

A :class:`Personality` makes the OpenAI-compatible endpoint answer as one kind of server does where servers
differ: which ``response_format`` types it takes and how it refuses the others (llama-cpp-python: HTTP 500),
which output-limit parameter it honours (llama-cpp-python and Ollama ignore ``max_completion_tokens``),
whether it reports usage in a stream, whether a non-streaming answer keeps being generated after its client
left and whether it serves one request at a time. See :data:`PERSONALITIES`.

What each request is answered with is decided by, in order: :attr:`FakeLLM.outage` while it is set (a
provider that is down answers every request alike, e.g. ``Reply.overloaded()``), replies queued with
:meth:`FakeLLM.enqueue` (one per request, FIFO), else the ``responder`` callback. The default responder,
:class:`MarkerResponder`, reports one finding for each prompt line containing a marker (``FIXME-BUG``), citing
that line's path and number and quoting its code, so end-to-end tests and benchmarks get checkable findings.
Every request is recorded (:attr:`FakeLLM.requests`) so tests can assert on what was sent.

**Tool calling** (agent mode): a :meth:`Reply.tools` answer calls tools (OpenAI ``tool_calls``, streamed as
``tool_calls`` deltas; Anthropic ``tool_use`` blocks with ``stop_reason: tool_use``); :attr:`Recorded.tools`
lists the tools a request offered and :attr:`Recorded.tool_results` the results sent back. A personality
without ``tools`` refuses a request carrying ``tools`` as that server does (``vllm-no-tools``: vLLM started
without ``--enable-auto-tool-choice``). :class:`AgentResponder` explores with tools first and reports a
finding only when its evidence came back in a tool result.

Control endpoints for a fake in another process: ``GET /_fake/requests`` (recorded requests as JSON),
``POST /_fake/enqueue`` (a JSON list of :class:`Reply` fields), ``POST /_fake/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import itertools
import json
import math
import re
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from argoai_core.models.findings import Category, FileNote, Finding, ReviewOutput, Severity

Api = Literal["openai", "azure", "anthropic"]

# --------------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with the class methods; ``delay`` seconds pass before it is sent.

    ``kind``: ``json`` (``value`` is the structured answer: OpenAI message content as JSON text, Anthropic
    tool-call input), ``text`` (``value`` is raw text: OpenAI content verbatim, Anthropic a text block and no
    tool call), ``refusal`` (OpenAI ``message.refusal``, Anthropic ``stop_reason: refusal``), ``error``.
    ``delay`` passes before the answer (a stream: before its first chunk); ``stall`` is a pause in the middle
    of a streamed answer (a non-streamed answer just takes that much longer).
    """

    kind: Literal["json", "text", "refusal", "error", "tools"]
    value: Any = None
    status: int = 200
    error_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncated: bool = False
    stall: float = 0.0
    # A stream that fails half-way with an error event of this type (the status was already 200).
    breaks_with: str = ""

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
    def tools(cls, *calls: tuple[str, dict[str, Any]]) -> Reply:
        """The model calls tools: ``(name, arguments)`` pairs, in order."""
        return cls(kind="tools", value=[{"name": name, "arguments": args} for name, args in calls])

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
    def breaking(cls, error_type: str = "overloaded_error", then: Reply | None = None) -> Reply:
        """``then`` (default: an empty review) streamed half-way, then an error event of ``error_type``."""
        return dataclasses.replace(
            then or cls.output(ReviewOutput(summary="breaks half-way", findings=[])), breaks_with=error_type
        )

    @classmethod
    def stalling(cls, seconds: float, then: Reply | None = None) -> Reply:
        """``then`` (default: an empty review) with a pause of ``seconds`` in the middle of the stream."""
        return dataclasses.replace(
            then or cls.output(ReviewOutput(summary="stalls half-way", findings=[])), stall=seconds
        )

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
    number: int = 0
    # The output limit the server applied (from the parameter its personality honours; None: unlimited).
    output_limit: int | None = None

    @property
    def stream(self) -> bool:
        """Whether the answer was asked for as a stream."""
        return bool(self.body.get("stream"))

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
    def output_name(self) -> str | None:
        """The name of the structured output asked for (``submit_review``, ``submit_verdict``…)."""
        if self.api == "anthropic":
            choice = self.body.get("tool_choice", {})
            offered = self.body.get("tools") or [{}]
            return choice.get("name") or offered[0].get("name")
        response_format = self.body.get("response_format") or {}
        name = response_format.get("json_schema", {}).get("name")
        return str(name) if name else None

    @property
    def tools(self) -> list[str]:
        """The names of the tools offered besides the answer (OpenAI functions; Anthropic's other tools)."""
        forced = self.body.get("tool_choice", {})
        answer = forced.get("name") if isinstance(forced, dict) else None
        names = [
            str(tool.get("function", {}).get("name") or tool.get("name"))
            for tool in self.body.get("tools", [])
        ]
        return [name for name in names if name != answer and not name.startswith("submit_")]

    @property
    def tools_open(self) -> bool:
        """Whether the model may call a read tool in this request (offered, and not ruled out)."""
        choice = self.body.get("tool_choice")
        if not self.tools:
            return False
        if self.api == "anthropic":
            return isinstance(choice, dict) and choice.get("type") in ("any", "auto")
        return choice in (None, "auto", "required")

    @property
    def tool_results(self) -> list[str]:
        """The text of every tool result sent back (OpenAI ``tool`` messages, Anthropic ``tool_result``)."""
        found = []
        for message in self.messages:
            if message.get("role") == "tool":
                found.append(_text_of(message.get("content")))
            content = message.get("content")
            if message.get("role") == "user" and isinstance(content, list):
                found += [_text_of(b.get("content")) for b in content if b.get("type") == "tool_result"]
        return found

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
        # json_schema carries it in json_schema.schema; llama.cpp's json_object in ``schema``.
        schema = response_format.get("json_schema", {}).get("schema") or response_format.get("schema")
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


# A file's header line in a review prompt (see RegexLineParser).
FILE_HEADER = re.compile(r"^=== (?P<path>.+?) \([a-z]+[,)].* ===$")


@dataclass(frozen=True)
class RegexLineParser:
    """Parses prompts where a ``file`` regex line (group ``path``) starts each file and a ``line`` regex
    (groups ``line``, ``kind`` and ``code``) matches each numbered line of the new file.

    The defaults follow :mod:`argoai_reviewer.analysis.context`'s rendering: a header
    ``=== path (status) ===`` per file (or part of one) and rows ``<number right-aligned> <+ or space>
    <code>``; removed lines carry no number and are skipped (they cannot be commented on).
    """

    file: re.Pattern[str] = FILE_HEADER
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


def is_question(request: Recorded) -> bool:
    """Whether the request asks for an answer to a question (its schema's one property is ``answer``)."""
    schema = request.schema or {}
    return set(schema.get("properties", {})) == {"answer"}


def answer_reply(request: Recorded) -> Reply:
    """A fake answer naming how much of the prompt it saw (the last line of its question block)."""
    question = ""
    lines = request.prompt.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("<<<BEGIN ") and line.endswith(" question>>>") and number + 1 < len(lines):
            question = lines[number + 1]
    return Reply.json({"answer": f"Fake answer to: {question[:200]}"})


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

    def files(self, prompt: str) -> list[FileNote]:
        """One description per file the prompt shows (its ``===`` headers), in order."""
        paths = dict.fromkeys(
            found["path"] for text in prompt.splitlines() if (found := FILE_HEADER.match(text))
        )
        return [FileNote(path=path, description=f"Fake description of {path}") for path in paths][:300]

    def __call__(self, request: Recorded) -> Reply:
        """A review of the request's prompt; an answer when the request asks for one (a question)."""
        if is_question(request):
            return answer_reply(request)
        findings = self.findings(request.prompt)
        return Reply.output(
            ReviewOutput(
                summary=f"Fake review: {len(findings)} marked line(s).",
                files=self.files(request.prompt),
                findings=findings,
            )
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


@dataclass
class AgentResponder:
    """A model exploring with tools: while tools are offered and it has no results yet, it makes ``calls``;
    then it reports the finding only when ``evidence`` came back in a tool result (never from the prompt),
    and ``quote`` is in the prompt. Without tools offered it reports nothing it was not shown either:
    ``evidence`` in the prompt counts then (the related-code fallback).

    ``seen`` records, per final answer, where the evidence was found: ``tools``, ``prompt`` or ``""``.
    """

    path: str
    line: int
    quote: str
    evidence: str
    calls: list[tuple[str, dict[str, Any]]]
    title: str = "Wrong argument for the called function"
    body: str = "The called definition expects another unit than the one passed here."
    seen: list[str] = field(default_factory=list)

    def __call__(self, request: Recorded) -> Reply:
        """Tool calls first, then the finding only with its evidence."""
        results = request.tool_results
        if request.tools_open and not results:
            return Reply.tools(*self.calls)
        via = ""
        if any(self.evidence in result for result in results):
            via = "tools"
        elif not request.tools and self.evidence in request.prompt:
            via = "prompt"
        self.seen.append(via)
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
        shown = bool(via) and self.quote in request.prompt
        return Reply.output(ReviewOutput(summary="Agent review.", findings=findings if shown else []))


@dataclass
class VerifyingResponder:
    """Answers verification calls (``submit_verdict``): drops a finding whose anchored lines (those marked
    ``>`` in the code shown) contain ``drop``, keeps the others; other requests go to ``base``.

    ``verdicts`` records each verdict given, as ``(keep, prompt)``.
    """

    base: Callable[[Recorded], Reply]
    drop: str = "FIXME-NOISE"
    verdicts: list[tuple[bool, str]] = field(default_factory=list)

    def __call__(self, request: Recorded) -> Reply:
        """A verdict for a verification call, else the base responder's answer."""
        if request.output_name != "submit_verdict":
            return self.base(request)
        prompt = request.prompt
        anchored = [line for line in prompt.splitlines() if re.match(r"^ *\d+ > ", line)]
        keep = not any(self.drop in line for line in anchored)
        self.verdicts.append((keep, prompt))
        reason = "The code shown supports it." if keep else "The marked line is intentional, not a bug."
        return Reply.json({"keep": keep, "reason": reason})


@dataclass(frozen=True)
class EvidenceRule:
    """A bug the fake can report: on the changed line of ``path`` containing ``contains``, but only when every
    ``evidence`` string is somewhere in the prompt (e.g. the unchanged definition that proves the bug)."""

    path: str
    contains: str
    evidence: tuple[str, ...] = ()
    title: str = "Bug"
    body: str = ""
    severity: Severity = Severity.MAJOR


@dataclass
class RulesResponder:
    """A model that reports a rule's bug only when it was shown the bug's line and its evidence.

    For ``argoai eval`` of the shipped dataset (``--eval-rules tests/fixtures/eval_fake_model.yaml``): a
    cross-file bug is found only when related context put the other file's code in the prompt, so the eval
    test checks the scoring and the context together. Rules without evidence stand for in-diff bugs (and,
    on a clean case, for a false positive every real model makes now and then).
    """

    rules: list[EvidenceRule]
    parse: PromptLineParser = field(default_factory=RegexLineParser)

    @classmethod
    def from_file(cls, path: str) -> RulesResponder:
        """The rules of a YAML file: a list of :class:`EvidenceRule` fields."""
        import yaml

        with open(path, encoding="utf-8") as file:
            raw = yaml.safe_load(file) or []
        return cls(
            rules=[EvidenceRule(**{**item, "evidence": tuple(item.get("evidence", ()))}) for item in raw]
        )

    def findings(self, prompt: str) -> list[Finding]:
        """One finding per rule whose line and evidence are in ``prompt``."""
        lines = [line for line in self.parse(prompt) if line.added]
        found = []
        for rule in self.rules:
            if not all(piece in prompt for piece in rule.evidence):
                continue
            for line in lines:
                if line.path == rule.path and rule.contains in line.code:
                    found.append(
                        Finding(
                            path=line.path,
                            start_line=line.line,
                            end_line=line.line,
                            quote=line.code.rstrip() or line.code,
                            severity=rule.severity,
                            category=Category.BUG,
                            title=rule.title,
                            body=rule.body or rule.title,
                            suggestion=None,
                        )
                    )
                    break
        return found

    @staticmethod
    def verdict(prompt: str) -> dict[str, Any]:
        """``argoai eval``'s judge: the findings whose path the golden comment names."""
        golden = re.search(r"<<<BEGIN (\S+) golden>>>\n(.*?)<<<END \1>>>", prompt, re.DOTALL)
        text = golden.group(2) if golden else ""
        numbers = [
            int(found["number"])
            for found in re.finditer(r"^\[(?P<number>\d+)\] (?P<path>\S+?):\d+", prompt, re.MULTILINE)
            if found["path"] in text
        ]
        return {"matches": numbers, "reason": "The finding is in the file the known problem names."}

    def __call__(self, request: Recorded) -> Reply:
        """A review of the request's prompt, or a verdict when the judge asks."""
        if request.schema is not None and "matches" in request.schema.get("properties", {}):
            return Reply.json(self.verdict(request.prompt))
        findings = self.findings(request.prompt)
        return Reply.output(
            ReviewOutput(summary=f"Rules review: {len(findings)} finding(s).", findings=findings)
        )


Responder = Callable[[Recorded], Reply]

# ------------------------------------------------------------------------------------------- personalities

# What FastAPI's RequestValidationError reads like inside llama-cpp-python's HTTP 500 body (its route handler
# turns every exception into ``{"error": {"message": str(exc), "type": "internal_server_error", …}}``).
LLAMA_CPP_PYTHON_REFUSAL = (
    "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}\n"
)


@dataclass(frozen=True)
class Personality:
    """How one kind of OpenAI-compatible server answers where servers differ (see :data:`PERSONALITIES`).

    ``formats``: the ``response_format`` types it accepts; another is refused with ``refusal_status`` and
    ``refusal_message`` in its error body style (``error_style``: ``openai`` nests ``{"error": {…}}``,
    ``vllm`` is flat ``{"object": "error", "message": …}``). ``schema_in_json_object``: a ``json_object``
    request carrying ``schema`` is constrained by it (llama.cpp turns it into a grammar). ``limit_params``:
    the output-limit parameters it honours, first found wins; the others are ignored (no limit).
    ``stream_usage``: it honours ``stream_options.include_usage``. ``cancels_on_disconnect``: a non-streamed
    answer stops when its client leaves (llama-cpp-python keeps generating). ``one_at_a_time``: requests are
    served one after another, so an abandoned one delays the next.
    """

    name: str
    formats: frozenset[str] = frozenset({"json_schema", "json_object", "text"})
    refusal_status: int = 400
    refusal_message: str = "response_format type 'json_schema' is not supported by this server"
    refusal_type: str = "invalid_request_error"
    error_style: Literal["openai", "vllm"] = "openai"
    schema_in_json_object: bool = False
    limit_params: tuple[str, ...] = ("max_completion_tokens", "max_tokens")
    stream_usage: bool = True
    cancels_on_disconnect: bool = True
    one_at_a_time: bool = False
    # OpenAI caches prompt prefixes by itself and reports ``prompt_tokens_details.cached_tokens``.
    prefix_cache: bool = False
    # Tool calling; a server without it refuses a request carrying ``tools`` with this status and message.
    tools: bool = True
    tools_refusal: str = ""

    def refusal(self, body: dict[str, Any]) -> Reply | None:
        """The error for a ``response_format`` it does not accept, else None."""
        response_format = body.get("response_format")
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind is None or kind in self.formats:
            return None
        return Reply.error(self.refusal_status, self.refusal_message, error_type=self.refusal_type)

    def output_limit(self, body: dict[str, Any]) -> int | None:
        """The output limit it applies to ``body`` (None: it generates until it is done)."""
        for name in self.limit_params:
            if isinstance(body.get(name), int):
                return int(body[name])
        return None

    def constrained(self, body: dict[str, Any]) -> bool:
        """Whether the answer to ``body`` is constrained by a JSON schema (grammar) on this server."""
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return "json_schema" in self.formats
        if response_format.get("type") == "json_object" and "schema" in response_format:
            return self.schema_in_json_object
        # vLLM's own parameters (older ``guided_json``, newer ``structured_outputs``).
        return self.error_style == "vllm" and bool(body.get("guided_json") or body.get("structured_outputs"))


PERSONALITIES: dict[str, Personality] = {
    personality.name: personality
    for personality in (
        # api.openai.com (and Azure): json_schema; max_completion_tokens (reasoning models refuse max_tokens).
        Personality("openai", limit_params=("max_completion_tokens", "max_tokens"), prefix_cache=True),
        # vLLM ≥ 0.6: json_schema through its guided decoding; both limits; flat error bodies.
        Personality("vllm", error_style="vllm", schema_in_json_object=False),
        # vLLM before json_schema support: pydantic refuses the literal, 400 in vLLM's flat error body.
        Personality(
            "vllm-old",
            formats=frozenset({"json_object", "text"}),
            refusal_message=(
                "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]"
            ),
            refusal_type="BadRequestError",
            error_style="vllm",
        ),
        # Ollama's OpenAI-compatible API: json_schema (as its ``format``); only max_tokens (num_predict).
        Personality("ollama", limit_params=("max_tokens",)),
        # llama.cpp's own llama-server: json_schema and json_object+schema become a grammar; both limits.
        Personality("llama-server", schema_in_json_object=True),
        # llama-cpp-python's server: only text/json_object (+schema), refused with HTTP 500; only max_tokens;
        # no usage in streams; one request at a time, and a non-streamed answer outlives its client.
        Personality(
            "llama-cpp-python",
            formats=frozenset({"json_object", "text"}),
            refusal_status=500,
            refusal_message=LLAMA_CPP_PYTHON_REFUSAL,
            refusal_type="internal_server_error",
            schema_in_json_object=True,
            limit_params=("max_tokens",),
            stream_usage=False,
            cancels_on_disconnect=False,
            one_at_a_time=True,
        ),
        # LiteLLM proxy: forwards to its backend; OpenAI-style errors.
        Personality("litellm"),
        # vLLM started without --enable-auto-tool-choice: a request with tools and tool_choice "auto" gets 400
        # (the message of vLLM's serving_chat.py), in vLLM's flat error body.
        Personality(
            "vllm-no-tools",
            error_style="vllm",
            tools=False,
            tools_refusal=(
                '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
            ),
        ),
    )
}

# --------------------------------------------------------------------------------------------------- server

_DEFAULT_ERROR_TYPES = {
    "openai": {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
               429: "requests", 500: "server_error"},
    "anthropic": {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                  404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
                  529: "overloaded_error"},
}  # fmt: skip

# Characters of answer per streamed chunk by default (the real APIs send about a token, ~4 characters).
PIECE_CHARS = 48

Outcome = Literal["answered", "client left", "generated for nobody"]


PREFIX_CACHE_MIN_TOKENS = 1024


def _tokens(text: str) -> int:
    """A deterministic token count (about 4 characters per token)."""
    return max(1, len(text) // 4)


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class FakeLLM:
    """The fake server. Use as a (sync) context manager, or :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        *,
        api_key: str | None = "test-llm-key",
        responder: Responder | None = None,
        delay: float = 0.0,
        json_schema_supported: bool = True,
        personality: Personality | str = "openai",
        host: str = "127.0.0.1",
        port: int = 0,
        piece_chars: int = PIECE_CHARS,
    ) -> None:
        self.api_key = api_key
        # Characters per streamed chunk: 4 makes a stream as long as a real one (benchmarks).
        self.piece_chars = piece_chars
        self.responder: Responder = responder or MarkerResponder()
        self.delay = delay
        # False: behave like older vLLM/Ollama, answering every ``json_schema`` request with HTTP 400.
        self.json_schema_supported = json_schema_supported
        self.personality = PERSONALITIES[personality] if isinstance(personality, str) else personality
        self._host = host
        self._port = port
        self._queue: deque[Reply] = deque()
        # While set, every request is answered with this (an outage), before queued replies and the responder.
        self.outage: Reply | None = None
        self._requests: list[Recorded] = []
        self._outcomes: dict[int, Outcome] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        # The providers' prompt caches: Anthropic's marked prefixes; hashes of OpenAI's prompt prefixes.
        self._prefixes: set[str] = set()
        self._prefix_hashes: set[bytes] = set()
        self._numbers = itertools.count(1)
        self._slot: asyncio.Lock | None = None  # created in the server's loop
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

    def outcome(self, number: int) -> Outcome | None:
        """How request ``number`` (``Recorded.number``) ended: None while it is still being answered."""
        with self._lock:
            return self._outcomes.get(number)

    def wait_outcome(self, number: int, timeout: float = 5.0) -> Outcome | None:
        """:meth:`outcome`, waiting up to ``timeout`` seconds for the request to end."""
        deadline = time.monotonic() + timeout
        while (found := self.outcome(number)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    def reset(self) -> None:
        """Forget recorded requests, outcomes, queued replies and the prompt cache."""
        with self._lock:
            self._prefixes.clear()
            self._prefix_hashes.clear()
            self._queue.clear()
            self._requests.clear()
            self._outcomes.clear()

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
        outage = self.outage
        if outage is not None:
            return outage
        with self._lock:
            scripted = self._queue.popleft() if self._queue else None
        return scripted or self.responder(request)

    def _ended(self, recorded: Recorded, outcome: Outcome) -> None:
        with self._lock:
            self._outcomes.setdefault(recorded.number, outcome)

    @property
    def _exiting(self) -> bool:
        return self._server is not None and self._server.should_exit

    async def _receive(self, request: Request, api: Api) -> tuple[Recorded, Response | None]:
        body = await request.json()
        openai_like = api != "anthropic"
        recorded = Recorded(
            api=api,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            number=next(self._numbers),
            output_limit=self.personality.output_limit(body) if openai_like else body.get("max_tokens"),
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
                return recorded, self._refuse(recorded, Reply.error(401, "Incorrect API key provided"))
        if api == "azure" and not recorded.query.get("api-version"):
            return recorded, self._refuse(recorded, Reply.error(404, "Resource not found"))
        if openai_like and not self.json_schema_supported and recorded.structured_output == "json_schema":
            return recorded, self._refuse(recorded, Reply.json_schema_unsupported())
        if openai_like and (refusal := self.personality.refusal(body)) is not None:
            return recorded, self._refuse(recorded, refusal)
        if openai_like and body.get("tools") and not self.personality.tools:
            refusal = Reply.error(400, self.personality.tools_refusal, error_type="BadRequestError")
            return recorded, self._refuse(recorded, refusal)
        return recorded, None

    def _refuse(self, recorded: Recorded, reply: Reply) -> Response:
        self._ended(recorded, "answered")
        return self._error(recorded.api, reply)

    def _one_at_a_time(self) -> asyncio.Lock | None:
        if not self.personality.one_at_a_time:
            return None
        if self._slot is None:
            self._slot = asyncio.Lock()
        return self._slot

    async def _sleep(self, seconds: float) -> None:
        # Sleep in slices so a client that gave up does not hold the server's shutdown.
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self._exiting:  # noqa: ASYNC110
            await asyncio.sleep(min(0.02, left))

    async def _generate(self, request: Request, recorded: Recorded, seconds: float) -> bool:
        """Spend ``seconds`` "generating" a whole answer; False when nobody is left to receive it."""
        slot = self._one_at_a_time()
        if slot is not None:
            await slot.acquire()
        try:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0 and not self._exiting:
                await asyncio.sleep(min(0.02, left))
                if self.personality.cancels_on_disconnect and await request.is_disconnected():
                    self._ended(recorded, "client left")
                    return False
            if await request.is_disconnected():
                self._ended(recorded, "generated for nobody")
                return False
            return True
        finally:
            if slot is not None:
                slot.release()

    def _error(self, api: Api, reply: Reply) -> Response:
        family = "anthropic" if api == "anthropic" else "openai"
        kind = reply.error_type or _DEFAULT_ERROR_TYPES[family].get(reply.status, "api_error")
        if family == "anthropic":
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": reply.value}}
        elif self.personality.error_style == "vllm":
            body = {
                "object": "error",
                "message": reply.value,
                "type": kind,
                "param": None,
                "code": reply.status,
            }
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
        if reply.kind == "error":
            await self._sleep(self.delay + reply.delay)
            self._ended(recorded, "answered")
            return self._error(api, reply)
        content: str | None = None
        refusal: str | None = None
        calls: list[dict[str, Any]] = []
        if reply.kind == "tools":
            calls = [
                {
                    "id": f"call_fake_{next(self._ids)}",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in reply.value
            ]
        elif reply.kind == "json":
            content = json.dumps(reply.value)
        elif reply.kind == "text":
            content = str(reply.value)
        else:
            refusal = str(reply.value)
        truncated = reply.truncated
        if content and recorded.output_limit is not None and _tokens(content) > recorded.output_limit:
            content, truncated = content[: recorded.output_limit * 4], True
        if recorded.stream:
            events = self._openai_events(request, recorded, reply, content, refusal, truncated, calls)
            return StreamingResponse(events, media_type="text/event-stream")
        if not await self._generate(request, recorded, self.delay + reply.delay + reply.stall):
            return Response(status_code=499)  # nobody reads it
        self._ended(recorded, "answered")
        return JSONResponse(
            {
                "id": f"chatcmpl-fake-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": recorded.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": content,
                            "refusal": refusal,
                            **({"tool_calls": calls} if calls else {}),
                        },
                        "finish_reason": "tool_calls" if calls else ("length" if truncated else "stop"),
                        "logprobs": None,
                    }
                ],
                "usage": self._openai_usage(recorded, content or refusal or json.dumps(calls)),
            }
        )

    def _openai_usage(self, recorded: Recorded, output: str) -> dict[str, Any]:
        prompt, completion = _tokens(recorded.text), _tokens(output)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if self.personality.prefix_cache:
            usage["prompt_tokens_details"] = {"cached_tokens": self._openai_cached(recorded.text)}
        return usage

    def _openai_cached(self, text: str) -> int:
        """OpenAI's prompt caching: the longest prefix shared with an earlier prompt, from 1,024 tokens, in
        steps of 128 tokens."""
        # Prefixes are remembered in whole steps of 128 tokens (512 characters at 4 per token), by hash.
        step = 128 * 4
        prefixes = [hashlib.sha256(text[:end].encode()).digest() for end in range(step, len(text) + 1, step)]
        with self._lock:
            hits = [digest in self._prefix_hashes for digest in prefixes]
            self._prefix_hashes.update(prefixes)
        steps = hits.index(False) if False in hits else len(hits)
        tokens = steps * 128
        return 0 if tokens < PREFIX_CACHE_MIN_TOKENS else tokens

    def _anthropic_usage(self, recorded: Recorded, output: Any) -> dict[str, int]:
        """Anthropic's usage: a system prompt marked ``cache_control`` (with the tools before it) is written
        to the cache the first time and read from it afterwards, from 1,024 tokens; ``input_tokens`` counts
        the rest of the prompt only."""
        total = _tokens(recorded.text)
        system = recorded.body.get("system")
        marked = isinstance(system, list) and any(
            isinstance(block, dict) and block.get("cache_control") for block in system
        )
        prefix = _tokens(json.dumps(recorded.body.get("tools", [])) + recorded.system) if marked else 0
        usage = {"input_tokens": total, "output_tokens": _tokens(json.dumps(output))}
        if prefix < PREFIX_CACHE_MIN_TOKENS:
            return usage
        key = json.dumps([recorded.body.get("tools", []), system], sort_keys=True)
        with self._lock:
            seen = key in self._prefixes
            self._prefixes.add(key)
        # The tools are part of the prompt too (counted here, where they are part of the cached prefix).
        total = _tokens(json.dumps(recorded.body.get("tools", [])) + recorded.text)
        usage["input_tokens"] = max(0, total - prefix)
        usage["cache_read_input_tokens" if seen else "cache_creation_input_tokens"] = prefix
        return usage

    async def _openai_events(
        self,
        request: Request,
        recorded: Recorded,
        reply: Reply,
        content: str | None,
        refusal: str | None,
        truncated: bool,
        calls: list[dict[str, Any]] | None = None,
    ) -> AsyncIterator[bytes]:
        number = next(self._ids)

        def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return _sse(
                {
                    "id": f"chatcmpl-fake-{number}",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": recorded.model,
                    "choices": choices,
                    **extra,
                }
            )

        slot = self._one_at_a_time()
        finished = False
        try:
            if slot is not None:
                await slot.acquire()
            await self._sleep(self.delay + reply.delay)
            yield chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            if calls:
                # OpenAI streams each call: its id, type and name first, then its arguments in fragments.
                for index, call in enumerate(calls):
                    opening = {**call, "index": index, "function": {**call["function"], "arguments": ""}}
                    yield chunk([{"index": 0, "delta": {"tool_calls": [opening]}, "finish_reason": None}])
                    for piece in _pieces(call["function"]["arguments"], self.piece_chars):
                        fragment = {"index": index, "function": {"arguments": piece}}
                        yield chunk(
                            [{"index": 0, "delta": {"tool_calls": [fragment]}, "finish_reason": None}]
                        )
                yield chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
                if (recorded.body.get("stream_options") or {}).get("include_usage"):
                    yield chunk([], usage=self._openai_usage(recorded, json.dumps(calls)))
                yield b"data: [DONE]\n\n"
                finished = True
                return
            field_name, text = ("refusal", refusal) if refusal is not None else ("content", content or "")
            pieces = _pieces(text, self.piece_chars)
            for index, piece in enumerate(pieces):
                if reply.stall and index == len(pieces) // 2:
                    await self._sleep(reply.stall)
                if reply.breaks_with and index == len(pieces) // 2:
                    # How OpenAI-compatible servers report a failure once the stream has started.
                    error = {"message": "The server had an error while streaming", "type": reply.breaks_with}
                    yield _sse({"error": {**error, "param": None, "code": None}})
                    finished = True
                    return
                yield chunk([{"index": 0, "delta": {field_name: piece}, "finish_reason": None}])
                await asyncio.sleep(0)
            finish = "length" if truncated else "stop"
            yield chunk([{"index": 0, "delta": {}, "finish_reason": finish}])
            options = recorded.body.get("stream_options") or {}
            if options.get("include_usage") and self.personality.stream_usage:
                yield chunk([], usage=self._openai_usage(recorded, text))
            yield b"data: [DONE]\n\n"
            finished = True
        finally:
            if slot is not None:
                slot.release()
            self._ended(recorded, "answered" if finished else "client left")

    async def _anthropic(self, request: Request) -> Response:
        recorded, refused = await self._receive(request, "anthropic")
        if refused is not None:
            return refused
        reply = self._next_reply(recorded)
        if reply.kind == "error":
            await self._sleep(self.delay + reply.delay)
            self._ended(recorded, "answered")
            return self._error("anthropic", reply)
        number = next(self._ids)
        # The forced tool, or (tool_choice "any", agent mode) the answer tool, which ArgoAI lists first.
        offered = recorded.body.get("tools") or [{}]
        tool = recorded.body.get("tool_choice", {}).get("name") or offered[0].get("name") or "tool"
        if reply.kind == "tools":
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_fake_{number}_{i}",
                    "name": c["name"],
                    "input": c["arguments"],
                }
                for i, c in enumerate(reply.value)
            ]
            stop = "tool_use"
        elif reply.kind == "json":
            content = [{"type": "tool_use", "id": f"toolu_fake_{number}", "name": tool, "input": reply.value}]
            stop = "max_tokens" if reply.truncated else "tool_use"
        else:
            content = [{"type": "text", "text": str(reply.value)}]
            stop = "refusal" if reply.kind == "refusal" else "end_turn"
        usage = self._anthropic_usage(recorded, content)
        message = {
            "id": f"msg_fake_{number}",
            "type": "message",
            "role": "assistant",
            "model": recorded.model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if recorded.stream:
            events = self._anthropic_events(recorded, reply, message)
            return StreamingResponse(events, media_type="text/event-stream")
        if not await self._generate(request, recorded, self.delay + reply.delay + reply.stall):
            return Response(status_code=499)
        self._ended(recorded, "answered")
        return JSONResponse(message)

    async def _anthropic_events(
        self, recorded: Recorded, reply: Reply, message: dict[str, Any]
    ) -> AsyncIterator[bytes]:
        finished = False
        try:
            await self._sleep(self.delay + reply.delay)
            start = {
                **message,
                "content": [],
                "stop_reason": None,
                "usage": {**message["usage"], "output_tokens": 1},
            }
            yield _sse({"type": "message_start", "message": start}, "message_start")
            for index, block in enumerate(message["content"]):
                if block["type"] == "tool_use":
                    opening = {**block, "input": {}}
                    text, delta_type, key = json.dumps(block["input"]), "input_json_delta", "partial_json"
                else:
                    opening, text, delta_type, key = (
                        {"type": "text", "text": ""},
                        block["text"],
                        "text_delta",
                        "text",
                    )
                yield _sse(
                    {"type": "content_block_start", "index": index, "content_block": opening},
                    "content_block_start",
                )
                yield _sse({"type": "ping"}, "ping")
                pieces = _pieces(text, self.piece_chars)
                for position, piece in enumerate(pieces):
                    if reply.stall and position == len(pieces) // 2:
                        await self._sleep(reply.stall)
                    if reply.breaks_with and position == len(pieces) // 2:
                        error = {"type": reply.breaks_with, "message": "Overloaded"}
                        yield _sse({"type": "error", "error": error}, "error")
                        finished = True
                        return
                    delta = {"type": delta_type, key: piece}
                    yield _sse(
                        {"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta"
                    )
                    await asyncio.sleep(0)
                yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            yield _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                    "usage": {"output_tokens": message["usage"]["output_tokens"]},
                },
                "message_delta",
            )
            yield _sse({"type": "message_stop"}, "message_stop")
            finished = True
        finally:
            self._ended(recorded, "answered" if finished else "client left")

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
    parser.add_argument("--eval-rules", default="", help="answer with the RulesResponder of this YAML file")
    parser.add_argument(
        "--personality", default="openai", choices=sorted(PERSONALITIES), help="which server to answer as"
    )
    parser.add_argument(
        "--piece-chars", type=int, default=PIECE_CHARS, help="characters of answer per streamed chunk"
    )
    args = parser.parse_args(argv)
    fake = FakeLLM(
        api_key=args.api_key or None,
        responder=RulesResponder.from_file(args.eval_rules)
        if args.eval_rules
        else MarkerResponder(marker=args.marker),
        delay=args.delay,
        personality=args.personality,
        host=args.host,
        port=args.port,
        piece_chars=args.piece_chars,
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
