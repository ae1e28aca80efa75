"""Review model over any OpenAI-compatible chat completions API: OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp
(``llama-server`` and llama-cpp-python), LiteLLM.

**Structured output.** The answer is requested as strict structured output (``response_format``
``json_schema``) built from the pydantic type asked for (:class:`ReviewOutput` for a review). A server that
refuses it is recognised by what its error says (it names ``response_format`` or ``json_schema``), whatever
the status: llama-cpp-python answers such a request with HTTP 500. The refusal is never retried as an
outage; the request is sent again at once one step down: ``json_object`` carrying the schema (llama.cpp
servers turn it into a grammar that constrains the output; other servers ignore the extra field), then plain
``json_object``, then no ``response_format`` at all. From ``json_object`` down, the schema is also in the
instructions. The step a server needed is remembered per base URL for the life of the process, as is any
optional parameter it refused (``stream_options``, one of the two output-limit parameters). Whatever the
step, the reply is validated against the pydantic model.

**Output limit.** ``max_completion_tokens`` is what OpenAI documents, but llama-cpp-python and Ollama ignore
it and read ``max_tokens`` only; OpenAI's reasoning models refuse ``max_tokens``. So ``max_tokens`` is sent
as well to every server except OpenAI's and Azure's.

**Streaming.** With ``ARGOAI_LLM_STREAM`` (the default) the answer streams (``stream_options.include_usage``
for the token counts in the last chunk) and is assembled before it is validated, exactly like a whole one;
:mod:`argoai_reviewer.llm.streaming` applies the idle timeout, the overall cap and the time-to-first-token
metric. :func:`_map_error` is the one place SDK and transport exceptions become the ArgoAI error tree.

**Tools (agent mode).** The read tools go in ``tools`` (functions, not strict: their arguments are checked by
the tools themselves) with ``tool_choice: auto`` beside the structured-output request; once the budget is
spent ``tool_choice: none`` asks for the final answer. Streamed ``tool_calls`` deltas are joined per index.
A server whose error names tools (vLLM without ``--enable-auto-tool-choice``, llama.cpp without ``--jinja``,
an Ollama model without tool support) is remembered per base URL as having none, logged once
(``llm_tools_unsupported``), and the call raises :class:`ToolsUnsupportedError` so the review falls back.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx2
import openai
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat
from opentelemetry.trace import Tracer
from pydantic import ValidationError

from argoai_core.errors import (
    ArgoAIError,
    ConfigError,
    InvalidInputError,
    PermanentError,
    UnavailableError,
)
from argoai_core.logs import get_logger
from argoai_core.settings import LLMSettings
from argoai_reviewer.adapters.llm_openai_chunks import ChunkJson
from argoai_reviewer.agent.calls import ToolCall, ToolResult, ToolSpec
from argoai_reviewer.analysis.model import ToolsUnsupportedError
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.retry import RetryPolicy, transient_error
from argoai_reviewer.llm.schema import OutputSpec
from argoai_reviewer.llm.streaming import CallLimits, FirstToken
from argoai_reviewer.llm.structured import Answer, InvalidReply, StructuredReviewModel, T, parse_json_reply

OPENAI_URL = "https://api.openai.com/v1"
_AZURE_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")

log = get_logger(__name__)


class Structured(enum.Enum):
    """How the answer's shape is asked for, strongest first (a refusal moves a server one step down)."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT_SCHEMA = "json_object with schema"
    JSON_OBJECT = "json_object"
    PROMPT = "schema in the instructions only"


# Optional request parameters a server may refuse; each is then left out for that server.
_OPTIONAL = ("stream_options", "max_tokens", "max_completion_tokens")
_LIMITS = ("max_tokens", "max_completion_tokens")
# Words with which servers say that a named parameter is not understood (OpenAI, vLLM, LiteLLM, pydantic).
_UNSUPPORTED = ("unsupported", "not supported", "unrecognized", "unknown", "not permitted", "not allowed")


@dataclass
class ServerQuirks:
    """What one server (base URL) refused earlier in this process: shared by every client of it."""

    structured: Structured = Structured.JSON_SCHEMA
    refused: set[str] = field(default_factory=set)
    tools: bool = True


# Process-wide, because it is a property of the server, and every client of it (one per worker) should skip
# the failing first request.
_SERVERS: dict[str, ServerQuirks] = {}


def server_quirks(base_url: str) -> ServerQuirks:
    """What the server at ``base_url`` refused earlier in this process."""
    return _SERVERS.setdefault(base_url, ServerQuirks())


def json_schema_refused(base_url: str) -> bool:
    """Whether the server at ``base_url`` refused ``json_schema`` earlier in this process."""
    return server_quirks(base_url).structured is not Structured.JSON_SCHEMA


def is_openai_or_azure(base_url: str, *, azure: bool) -> bool:
    """Whether ``base_url`` is OpenAI's or Azure OpenAI's API (they know ``max_completion_tokens``)."""
    host = (urlsplit(base_url).hostname or "").lower()
    return azure or host == "api.openai.com" or host.endswith(_AZURE_HOST_SUFFIXES)


@dataclass
class _Chat:
    system: str
    spec: OutputSpec[Any]
    messages: list[ChatCompletionMessageParam] = field(default_factory=list)
    tools: list[ToolSpec] | None = None
    tools_offered: bool = False


@dataclass(frozen=True)
class _Reply:
    content: str | None
    refusal: str | None
    finish_reason: str | None
    tool_calls: tuple[ToolCall, ...] = ()


@dataclass
class _Request:
    """One request's parameters, as sent (the refusal of one of them is recognised from the error)."""

    model: str
    messages: list[ChatCompletionMessageParam]
    response_format: ResponseFormat | None
    extra_body: dict[str, Any]
    limits: dict[str, int]
    stream_options: bool
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None

    def tool_arguments(self) -> dict[str, Any]:
        """``tools`` and ``tool_choice`` when tools are offered (nothing otherwise)."""
        if not self.tools:
            return {}
        return {"tools": self.tools, "tool_choice": self.tool_choice}

    def body(self, *, stream: bool) -> dict[str, Any]:
        """The JSON body ``chat.completions.create`` would send for these parameters (``extra_body`` merged
        in last, as the SDK merges it): the one place a request's parameters become JSON, streamed or not."""
        body: dict[str, Any] = {"model": self.model, "messages": self.messages, "stream": stream}
        if self.response_format is not None:
            body["response_format"] = self.response_format
        body.update(self.limits)
        if stream and self.stream_options:
            body["stream_options"] = {"include_usage": True}
        body.update(self.tool_arguments())
        body.update(self.extra_body)
        return body

    @property
    def optional(self) -> set[str]:
        """The optional parameters sent."""
        return set(self.limits) | ({"stream_options"} if self.stream_options else set())


class OpenAIReviewModel(StructuredReviewModel[_Chat]):
    """A :class:`~argoai_reviewer.analysis.model.ReviewModel` over an OpenAI-compatible API (Azure too)."""

    provider = "openai"

    def __init__(
        self,
        settings: LLMSettings,
        *,
        retry: RetryPolicy,
        instructions: ReplyInstructions | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        super().__init__(settings, retry=retry, instructions=instructions, tracer=tracer)
        self._limits = CallLimits.from_settings(settings, retry)
        # A key is only optional for self-hosted servers (vLLM, Ollama) that ignore it; the SDK insists on
        # one, and without it would read OPENAI_API_KEY from the environment, which we never rely on here.
        key = settings.api_key.get_secret_value() if settings.api_key else None
        if settings.api_version:
            if not settings.base_url or not key:
                raise ConfigError("ARGOAI_LLM_BASE_URL and ARGOAI_LLM_API_KEY: required for Azure OpenAI")
            self._base_url = settings.base_url
            self._client: openai.AsyncOpenAI = openai.AsyncAzureOpenAI(
                azure_endpoint=settings.base_url,
                api_version=settings.api_version,
                api_key=key,
                timeout=self._limits.client_timeout,
                max_retries=0,  # retries are ours (see llm/structured.py)
            )
        else:
            self._base_url = settings.base_url or OPENAI_URL
            if key is None and self._base_url == OPENAI_URL:
                raise ConfigError("ARGOAI_LLM_API_KEY: required for api.openai.com")
            self._client = openai.AsyncOpenAI(
                base_url=self._base_url,
                api_key=key or "unused",
                timeout=self._limits.client_timeout,
                max_retries=0,  # retries are ours (see llm/structured.py)
            )
        self._openai_like = is_openai_or_azure(self._base_url, azure=bool(settings.api_version))
        self._max_tokens = settings.max_output_tokens

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _begin(self, system: str, prompt: str, spec: OutputSpec[Any], tools: list[ToolSpec] | None) -> _Chat:
        return _Chat(
            system=system,
            spec=spec,
            messages=[{"role": "user", "content": prompt}],
            tools=tools,
            tools_offered=bool(tools),
        )

    def _supports_tools(self) -> bool:
        return server_quirks(self._base_url).tools

    def _offer_tools(self, conversation: _Chat, offered: bool) -> None:
        conversation.tools_offered = offered

    def _tool_calls(self, answer: Answer, spec: OutputSpec[Any]) -> list[ToolCall]:
        reply: _Reply = answer.reply
        return list(reply.tool_calls)

    def _answer_tools(self, conversation: _Chat, answer: Answer, results: list[ToolResult]) -> None:
        reply: _Reply = answer.reply
        conversation.messages.append(
            {
                "role": "assistant",
                "content": reply.content,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in reply.tool_calls
                ],
            }
        )
        for result in results:
            text = f"ERROR: {result.text}" if result.is_error else result.text
            conversation.messages.append({"role": "tool", "tool_call_id": result.call_id, "content": text})

    async def _send(self, model: str, conversation: _Chat) -> Answer:
        quirks = server_quirks(self._base_url)
        # Each refusal removes one parameter or one structured-output step, so this ends.
        for _ in range(len(Structured) + len(_OPTIONAL)):
            request = self._request(model, conversation, quirks)
            try:
                async with self._limits.capped():
                    if self._limits.stream:
                        return await self._streamed(request)
                    return await self._whole(request)
            except openai.APIStatusError as exc:
                if request.tools and _refuses_tools(exc):
                    quirks.tools = False
                    log.warning(
                        "llm_tools_unsupported",
                        base_url=self._base_url,
                        status=exc.status_code,
                        message=str(exc.message)[:300],
                        now="agent mode falls back to the related-code prompt for this server",
                    )
                    # Said in the summary: neither the server's words nor its address (both logged above).
                    raise ToolsUnsupportedError("the LLM server has no tool calling") from exc
                refused = _refused_parameter(exc, request)
                if refused is None or not self._give_up(quirks, refused):
                    raise _map_error(exc, self._limits) from exc
                log.warning(
                    "llm_parameter_refused",
                    base_url=self._base_url,
                    parameter=refused,
                    now=quirks.structured.value if refused == "response_format" else "left out",
                    status=exc.status_code,
                    message=str(exc.message)[:300],
                )
            except (openai.OpenAIError, httpx2.HTTPError) as exc:
                raise _map_error(exc, self._limits) from exc
        raise PermanentError(f"LLM server at {self._base_url} refused every form of the request")

    def _give_up(self, quirks: ServerQuirks, parameter: str) -> bool:
        """Record that the server refused ``parameter``; False when there is nothing left to fall back on."""
        if parameter == "response_format":
            steps = [
                step
                for step in Structured
                # OpenAI and Azure know json_schema; an older API version may still need json_object,
                # but they reject the llama.cpp-style extra ``schema`` field.
                if not (self._openai_like and step is Structured.JSON_OBJECT_SCHEMA)
            ]
            position = steps.index(quirks.structured) if quirks.structured in steps else 0
            if position + 1 >= len(steps):
                return False
            quirks.structured = steps[position + 1]
            return True
        if parameter in quirks.refused:
            return False
        if parameter in _LIMITS and set(_LIMITS) - quirks.refused == {parameter}:
            return False  # never left without an output limit
        quirks.refused.add(parameter)
        return True

    def _request(self, model: str, conversation: _Chat, quirks: ServerQuirks) -> _Request:
        spec = conversation.spec
        schema = spec.schema()
        system = conversation.system
        extra: dict[str, Any] = {}
        response_format: ResponseFormat | None = None
        if quirks.structured is Structured.JSON_SCHEMA:
            response_format = {
                "type": "json_schema",
                "json_schema": {
                    "name": spec.name,
                    "description": spec.description,
                    "schema": schema,
                    "strict": True,
                },
            }
        else:
            system = f"{system}\n\n{self._instructions.json_object_schema(json.dumps(schema))}"
            if quirks.structured is Structured.JSON_OBJECT_SCHEMA:
                # Not in the SDK's types: llama.cpp's servers read it (a grammar), others ignore it.
                extra["response_format"] = {"type": "json_object", "schema": schema}
            elif quirks.structured is Structured.JSON_OBJECT:
                response_format = {"type": "json_object"}
        names = ["max_completion_tokens"] if self._openai_like else ["max_completion_tokens", "max_tokens"]
        tools = None
        if conversation.tools:
            tools = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in conversation.tools
            ]
        return _Request(
            tools=tools,
            tool_choice=("auto" if conversation.tools_offered else "none") if tools else None,
            model=model,
            messages=[{"role": "system", "content": system}, *conversation.messages],
            response_format=response_format,
            extra_body=extra,
            limits={name: self._max_tokens for name in names if name not in quirks.refused},
            stream_options=self._limits.stream and "stream_options" not in quirks.refused,
        )

    async def _streamed(self, request: _Request) -> Answer:
        first = FirstToken(request.model)
        # The SDK's generic POST (its documented way to custom requests) with raw chunks: the SDK's typed
        # chunks cost 0.15-0.2 ms of CPU each, ~90 ms per answer of 500 tokens (llm_openai_chunks.py).
        # Same request, retries, server-sent-event decoding and errors as chat.completions.create.
        stream = await self._limits.first(
            self._client.post(
                "/chat/completions",
                body=request.body(stream=True),
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        )
        reply = _Assembly(model=request.model)
        # Leaving this block for any reason (the end, a timeout, a cancelled task) closes the connection.
        async with stream:
            async for data in self._limits.paced(stream):
                try:
                    chunk = ChunkJson.model_validate(data)
                except ValidationError as exc:
                    raise UnavailableError(
                        f"LLM {request.model} streamed a chunk that is not a chat completion chunk: "
                        f"{exc.error_count()} errors"
                    ) from None
                if reply.add(chunk):
                    first.output()
        return reply.answer()

    async def _whole(self, request: _Request) -> Answer:
        # The same generic POST and body as a stream (:meth:`_Request.body`), read as the SDK's own type.
        completion = await self._client.post(
            "/chat/completions", body=request.body(stream=False), cast_to=ChatCompletion
        )
        if not completion.choices:
            raise PermanentError(f"LLM {request.model} answered without any choice")
        choice = completion.choices[0]
        usage = completion.usage
        return Answer(
            reply=_Reply(
                content=choice.message.content,
                refusal=choice.message.refusal,
                finish_reason=choice.finish_reason,
                tool_calls=tuple(
                    ToolCall(call.id, call.function.name, call.function.arguments)
                    for call in choice.message.tool_calls or []
                    if call.type == "function"
                ),
            ),
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=completion.model or request.model,
            cached_tokens=_cached(usage),
        )

    def _validate(self, answer: Answer, spec: OutputSpec[T]) -> T:
        reply: _Reply = answer.reply
        if reply.refusal:
            raise InvalidReply(f"the model refused: {reply.refusal[:500]}")
        if reply.finish_reason == "length":
            raise InvalidReply("the answer was cut off at the output token limit; be more concise")
        if reply.finish_reason == "content_filter":
            raise InvalidReply("the answer was stopped by the content filter")
        return parse_json_reply(reply.content, spec.output)

    def _ask_again(self, conversation: _Chat, answer: Answer, problem: str) -> None:
        reply: _Reply = answer.reply
        conversation.messages.append({"role": "assistant", "content": reply.content or reply.refusal or ""})
        conversation.messages.append({"role": "user", "content": self._instructions.correct(problem)})


def _cached(usage: CompletionUsage | None) -> int:
    """Prompt tokens the server read from its prefix cache (OpenAI's ``prompt_tokens_details``; servers
    without prefix caching leave it out)."""
    details = usage.prompt_tokens_details if usage is not None else None
    return (details.cached_tokens or 0) if details is not None else 0


@dataclass
class _Assembly:
    """A streamed answer put back together: the text of the first choice, its finish reason, the usage."""

    model: str
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    # Streamed tool calls by index: [id, name, argument fragments].
    calls: dict[int, list[Any]] = field(default_factory=dict)

    def add(self, chunk: ChunkJson) -> bool:
        """Take one chunk; True when it carried output (text or refusal)."""
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:  # the last chunk with include_usage (choices empty)
            self.input_tokens = chunk.usage.prompt_tokens or 0
            self.output_tokens = chunk.usage.completion_tokens or 0
            self.cached_tokens = chunk.usage.cached_tokens
        carried = False
        for choice in chunk.choices or []:
            if choice.index != 0:
                continue
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            if delta.content:
                self.content.append(delta.content)
                carried = True
            if delta.refusal:
                self.refusal.append(delta.refusal)
                carried = True
            for call in delta.tool_calls or []:
                entry = self.calls.setdefault(call.index, ["", "", []])
                entry[0] = call.id or entry[0]
                if call.function is not None:
                    entry[1] = call.function.name or entry[1]
                    if call.function.arguments:
                        entry[2].append(call.function.arguments)
                carried = True
        return carried

    def answer(self) -> Answer:
        """The assembled reply, for validation exactly as a whole one."""
        return Answer(
            reply=_Reply(
                content="".join(self.content) if self.content else None,
                refusal="".join(self.refusal) or None,
                finish_reason=self.finish_reason,
                tool_calls=tuple(
                    ToolCall(entry[0] or f"call_{index}", entry[1], "".join(entry[2]))
                    for index, entry in sorted(self.calls.items())
                ),
            ),
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            model=self.model,
            cached_tokens=self.cached_tokens,
        )


def _refuses_tools(exc: openai.APIStatusError) -> bool:
    """Whether an error says the server (or model) cannot do tool calling, judged by what it says."""
    if exc.status_code in (401, 403, 404, 408, 409, 429):
        return False
    text = _error_text(exc)
    return "tool" in text and (
        any(word in text for word in _UNSUPPORTED)
        or "does not support" in text
        or "requires" in text
        or "--jinja" in text
        or "enable-auto-tool-choice" in text
    )


def _error_text(exc: openai.APIError) -> str:
    return f"{exc.message} {json.dumps(exc.body, default=str) if exc.body is not None else ''}".lower()


def _refused_parameter(exc: openai.APIStatusError, request: _Request) -> str | None:
    """The request parameter an error says the server does not support, judged by what the error says.

    Any status counts (llama-cpp-python refuses ``json_schema`` with HTTP 500), except those that mean
    something else whatever the text: authentication, not found, timeouts, conflicts, rate limits.
    """
    if exc.status_code in (401, 403, 404, 408, 409, 429):
        return None
    text = _error_text(exc)
    if "context length" in text or "context_length" in text:
        return None
    asked_format = request.response_format is not None or "response_format" in request.extra_body
    if asked_format and ("response_format" in text or "json_schema" in text):
        return "response_format"
    if any(word in text for word in _UNSUPPORTED):
        # ``max_tokens`` is not a substring of ``max_completion_tokens``, so the names cannot be confused.
        named = [name for name in request.optional if name in text]
        if len(named) == 1:
            return named[0]
    return None


def _map_error(exc: openai.OpenAIError | httpx2.HTTPError, limits: CallLimits) -> ArgoAIError:
    """The one mapping of OpenAI SDK (and mid-stream transport) exceptions onto the ArgoAI error tree."""
    policy = limits.policy
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return limits.client_timed_out()
    if isinstance(exc, openai.APIConnectionError):
        return transient_error(f"LLM unreachable: {exc}", status=None, headers=None, policy=policy)
    if isinstance(exc, httpx2.HTTPError):
        return transient_error(
            f"LLM connection lost mid-answer: {exc!r}", status=None, headers=None, policy=policy
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"LLM answered HTTP {status}: {str(exc.message)[:300]}"
        if status == 429 and exc.code == "insufficient_quota":
            # Out of credit: no backoff fixes billing, and redelivering would only burn attempts.
            return PermanentError(message)
        if status in (408, 409, 429) or status >= 500:
            return transient_error(message, status=status, headers=exc.response.headers, policy=policy)
        if status in (401, 403):
            return ConfigError(f"ARGOAI_LLM_API_KEY: rejected ({message})")
        if status == 404:
            return ConfigError(f"ARGOAI_LLM_MODEL / ARGOAI_LLM_BASE_URL: not found ({message})")
        # vLLM and llama.cpp name the context length in the message only, without OpenAI's code.
        if status == 413 or exc.code == "context_length_exceeded" or "context length" in _error_text(exc):
            return InvalidInputError(message)
        return PermanentError(message)
    if isinstance(exc, openai.APIError):
        # An error event inside a stream (the status was already 200): the server failed while answering.
        return UnavailableError(
            f"LLM failed mid-answer: {str(exc.message)[:300]}", delay=policy.requeue_delay
        )
    # Anything else the SDK raises (bad response shape, client misuse) will not change on a retry.
    return PermanentError(f"LLM client error: {exc}")
