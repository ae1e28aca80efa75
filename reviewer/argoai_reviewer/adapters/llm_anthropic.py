"""Review model over Anthropic's Messages API: the answer is the input of one forced tool call.

The tool's ``input_schema`` is the same JSON schema as OpenAI's structured output (built from the pydantic
type asked for, :class:`ReviewOutput` for a review: the ``submit_review`` tool), ``tool_choice`` forces that
tool, and the tool input is validated with the pydantic
model. A rejected call is answered with a ``tool_result`` marked ``is_error`` that says what was wrong, which
is how the Messages API expects a tool failure to be reported.

With ``ARGOAI_LLM_STREAM`` (the default) the answer streams as raw server-sent events; the tool input arrives
as ``input_json_delta`` fragments, which are joined into one JSON text and validated exactly as a whole
answer's input (the SDK's own accumulator parses partial JSON leniently, so it is not used: a cut answer must
fail validation, never be completed). :mod:`argoai_reviewer.llm.streaming` applies the idle timeout, the
overall cap and the time-to-first-token metric. :func:`_map_error` is the one place SDK and transport
exceptions become the ArgoAI error tree.

**Tools (agent mode).** The read tools are offered beside the answer tool with ``tool_choice: any`` (the
model must call one of them: a read tool, or the answer tool to finish); each ``tool_use`` of a read tool is
answered by a ``tool_result`` (``is_error`` for a refused call) in the next user turn. Once the budget is
spent, ``tool_choice`` forces the answer tool again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
from anthropic.types import (
    Message,
    MessageParam,
    RawMessageStreamEvent,
    TextBlockParam,
    ToolChoiceParam,
    ToolParam,
)
from opentelemetry.trace import Tracer

from argoai_core.errors import ArgoAIError, ConfigError, InvalidInputError, PermanentError
from argoai_core.settings import LLMSettings
from argoai_reviewer.agent.calls import ToolCall, ToolResult, ToolSpec
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.retry import RetryPolicy, transient_error
from argoai_reviewer.llm.schema import OutputSpec
from argoai_reviewer.llm.streaming import CallLimits, FirstToken
from argoai_reviewer.llm.structured import Answer, InvalidReply, StructuredReviewModel, T, parse_json_reply

ANTHROPIC_URL = "https://api.anthropic.com"
# Error types Anthropic sends inside a stream that started well: transient, like their HTTP counterparts.
_TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


@dataclass
class _Conversation:
    system: str
    spec: OutputSpec[Any]
    messages: list[MessageParam] = field(default_factory=list)
    tools: list[ToolSpec] | None = None
    tools_offered: bool = False

    def tool_params(self) -> list[ToolParam]:
        """The answer tool, and the read tools when agent mode offers them."""
        extra: list[ToolParam] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in self.tools or []
        ]
        return [self.tool(), *extra]

    def tool_choice(self) -> ToolChoiceParam:
        """Any tool while the read tools are offered (the answer tool ends the turn), else the answer tool."""
        if self.tools and self.tools_offered:
            return {"type": "any"}
        return {"type": "tool", "name": self.spec.name}

    def tool(self) -> ToolParam:
        """The tool whose input is the answer."""
        # Not ``strict``: strict tools reject the schema's numeric and array bounds; the pydantic validation
        # enforces every bound instead and a violating answer is asked again.
        return {
            "name": self.spec.name,
            "description": self.spec.description,
            "input_schema": self.spec.schema(),
        }


@dataclass
class _Block:
    """One content block of the answer: text, or a tool call whose input is kept as the JSON text received."""

    type: str
    text: list[str] = field(default_factory=list)
    id: str = ""
    name: str = ""

    def param(self) -> dict[str, Any]:
        """The block as it is sent back in the assistant turn of a correction."""
        if self.type == "tool_use":
            try:
                value = json.loads("".join(self.text) or "{}")
            except ValueError:
                value = None
            # The API wants an object: a cut or broken input is sent back empty (the tool_result says why).
            return {
                "type": "tool_use",
                "id": self.id,
                "name": self.name,
                "input": value if isinstance(value, dict) else {},
            }
        return {"type": "text", "text": "".join(self.text)}


@dataclass
class _Turn:
    """The model's answer: its blocks and why it stopped."""

    blocks: list[_Block]
    stop_reason: str | None

    @classmethod
    def of(cls, message: Message) -> _Turn:
        """A whole (not streamed) answer."""
        blocks = []
        for block in message.content:
            if block.type == "tool_use":
                blocks.append(_Block("tool_use", [json.dumps(block.input)], id=block.id, name=block.name))
            elif block.type == "text":
                blocks.append(_Block("text", [block.text]))
        return cls(blocks=blocks, stop_reason=message.stop_reason)


@dataclass
class _Assembly:
    """A streamed answer put back together from its raw events."""

    model: str
    blocks: dict[int, _Block] = field(default_factory=dict)
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0

    def add(self, event: RawMessageStreamEvent) -> bool:
        """Take one event; True when it carried output (text or tool input)."""
        if event.type == "message_start":
            self.model = event.message.model or self.model
            usage = event.message.usage
            # Cached prompt tokens are still prompt tokens; they are reported apart from ``input_tokens``.
            self.input_tokens = (
                usage.input_tokens
                + (usage.cache_creation_input_tokens or 0)
                + (usage.cache_read_input_tokens or 0)
            )
            self.output_tokens = usage.output_tokens
            self.cached_tokens = usage.cache_read_input_tokens or 0
        elif event.type == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                # The input arrives in deltas; a non-empty start value (not sent by the API today) counts too.
                start = [json.dumps(block.input)] if block.input else []
                self.blocks[event.index] = _Block("tool_use", start, id=block.id, name=block.name)
            elif block.type == "text":
                self.blocks[event.index] = _Block("text", [block.text] if block.text else [])
        elif event.type == "content_block_delta":
            delta, target = event.delta, self.blocks.get(event.index)
            if target is not None and delta.type == "input_json_delta":
                target.text.append(delta.partial_json)
                return True
            if target is not None and delta.type == "text_delta":
                target.text.append(delta.text)
                return True
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            # Cumulative counts; the output count is always given, the input count by newer API versions.
            self.output_tokens = max(self.output_tokens, event.usage.output_tokens)
            if event.usage.input_tokens:
                self.input_tokens = max(self.input_tokens, event.usage.input_tokens)
        return False

    def answer(self) -> Answer:
        """The assembled answer, for validation exactly as a whole one."""
        turn = _Turn(blocks=[self.blocks[i] for i in sorted(self.blocks)], stop_reason=self.stop_reason)
        return Answer(
            reply=turn,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            model=self.model,
            cached_tokens=self.cached_tokens,
        )


class AnthropicReviewModel(StructuredReviewModel[_Conversation]):
    """A :class:`~argoai_reviewer.analysis.model.ReviewModel` over Anthropic's Messages API (forced tool)."""

    provider = "anthropic"

    def __init__(
        self,
        settings: LLMSettings,
        *,
        retry: RetryPolicy,
        instructions: ReplyInstructions | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        super().__init__(settings, retry=retry, instructions=instructions, tracer=tracer)
        if settings.api_key is None:
            raise ConfigError("ARGOAI_LLM_API_KEY: required for Anthropic")
        self._limits = CallLimits.from_settings(settings, retry)
        self._client = anthropic.AsyncAnthropic(
            api_key=settings.api_key.get_secret_value(),
            # Explicit, so the SDK never falls back to ANTHROPIC_BASE_URL from the environment.
            base_url=settings.base_url or ANTHROPIC_URL,
            timeout=self._limits.client_timeout,
            max_retries=0,  # retries are ours (see llm/structured.py)
        )
        self._max_tokens = settings.max_output_tokens

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _begin(
        self, system: str, prompt: str, spec: OutputSpec[Any], tools: list[ToolSpec] | None
    ) -> _Conversation:
        return _Conversation(
            system=system,
            spec=spec,
            messages=[{"role": "user", "content": prompt}],
            tools=tools,
            tools_offered=bool(tools),
        )

    def _offer_tools(self, conversation: _Conversation, offered: bool) -> None:
        conversation.tools_offered = offered

    def _tool_calls(self, answer: Answer, spec: OutputSpec[Any]) -> list[ToolCall]:
        turn: _Turn = answer.reply
        uses = [block for block in turn.blocks if block.type == "tool_use"]
        if any(block.name == spec.name for block in uses):
            return []  # the final answer is there: read calls beside it are not run
        return [ToolCall(block.id, block.name, "".join(block.text)) for block in uses]

    def _answer_tools(self, conversation: _Conversation, answer: Answer, results: list[ToolResult]) -> None:
        turn: _Turn = answer.reply
        content: Any = [block.param() for block in turn.blocks if block.type in ("text", "tool_use")]
        content = [b for b in content if b["type"] != "text" or b["text"]]
        conversation.messages.append({"role": "assistant", "content": content})
        conversation.messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": result.call_id,
                        "is_error": result.is_error,
                        "content": result.text,
                    }
                    for result in results
                ],
            }
        )

    async def _send(self, model: str, conversation: _Conversation) -> Answer:
        try:
            async with self._limits.capped():
                if self._limits.stream:
                    return await self._streamed(model, conversation)
                return await self._whole(model, conversation)
        except (anthropic.AnthropicError, httpx2.HTTPError) as exc:
            raise _map_error(exc, self._limits) from exc

    async def _streamed(self, model: str, conversation: _Conversation) -> Answer:
        first = FirstToken(model)
        stream = await self._limits.first(
            self._client.messages.create(
                model=model,
                max_tokens=self._max_tokens,
                system=_cached_system(conversation.system),
                messages=conversation.messages,
                tools=conversation.tool_params(),
                tool_choice=conversation.tool_choice(),
                stream=True,
            )
        )
        reply = _Assembly(model=model)
        # Leaving this block for any reason (the end, a timeout, a cancelled task) closes the connection.
        async with stream:
            async for event in self._limits.paced(stream):
                if reply.add(event):
                    first.output()
        return reply.answer()

    async def _whole(self, model: str, conversation: _Conversation) -> Answer:
        message: Message = await self._client.messages.create(
            model=model,
            max_tokens=self._max_tokens,
            system=_cached_system(conversation.system),
            messages=conversation.messages,
            tools=conversation.tool_params(),
            tool_choice=conversation.tool_choice(),
        )
        usage = message.usage
        # Cached prompt tokens are still prompt tokens; they are reported apart from ``input_tokens``.
        input_tokens = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        return Answer(
            reply=_Turn.of(message),
            input_tokens=input_tokens,
            output_tokens=usage.output_tokens,
            model=message.model,
            cached_tokens=usage.cache_read_input_tokens or 0,
        )

    def _validate(self, answer: Answer, spec: OutputSpec[T]) -> T:
        turn: _Turn = answer.reply
        if turn.stop_reason == "max_tokens":
            raise InvalidReply("the answer was cut off at the output token limit; be more concise")
        if turn.stop_reason == "refusal":
            raise InvalidReply("the model refused to answer")
        calls = [block for block in turn.blocks if block.type == "tool_use" and block.name == spec.name]
        if not calls:
            raise InvalidReply(f"there was no call of the {spec.name} tool")
        return parse_json_reply("".join(calls[0].text), spec.output)

    def _ask_again(self, conversation: _Conversation, answer: Answer, problem: str) -> None:
        turn: _Turn = answer.reply
        correction = self._instructions.correct(problem)
        content: Any = [block.param() for block in turn.blocks if block.type in ("text", "tool_use")]
        # The API refuses an empty text block; an answer with no content at all is sent back as such.
        content = [b for b in content if b["type"] != "text" or b["text"]] or [
            {"type": "text", "text": "(no answer)"}
        ]
        conversation.messages.append({"role": "assistant", "content": content})
        calls = [block for block in turn.blocks if block.type == "tool_use"]
        if calls:
            # Every tool_use must be answered by a tool_result in the next user turn.
            conversation.messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": call.id,
                            "is_error": True,
                            "content": correction,
                        }
                        for call in calls
                    ],
                }
            )
        else:
            conversation.messages.append({"role": "user", "content": correction})


def _cached_system(system: str) -> list[TextBlockParam]:
    """The system prompt as one block marked ``cache_control``: the tool definition and the system prompt
    (the same for every call) are the prompt prefix Anthropic caches, read back at a tenth of the price.
    Below the model's minimum cacheable length the mark is simply ignored."""
    return [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]


def _map_error(exc: anthropic.AnthropicError | httpx2.HTTPError, limits: CallLimits) -> ArgoAIError:
    """The one mapping of Anthropic SDK (and mid-stream transport) exceptions onto the ArgoAI error tree."""
    policy = limits.policy
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return limits.client_timed_out()
    if isinstance(exc, anthropic.APIConnectionError):
        return transient_error(f"LLM unreachable: {exc}", status=None, headers=None, policy=policy)
    if isinstance(exc, httpx2.HTTPError):
        return transient_error(
            f"LLM connection lost mid-answer: {exc!r}", status=None, headers=None, policy=policy
        )
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        message = f"LLM answered HTTP {status}: {str(exc.api_message or exc.message)[:300]}"
        if status < 400:
            # An ``error`` event inside a stream that had started well (HTTP 200): judged by its type.
            message = f"LLM failed mid-answer ({exc.type}): {str(exc.api_message or exc.message)[:300]}"
            if exc.type in _TRANSIENT_TYPES:
                return transient_error(message, status=None, headers=None, policy=policy)
            return PermanentError(message)
        # 529 is Anthropic's "overloaded": transient, like 5xx.
        if status in (408, 409, 429) or status >= 500:
            return transient_error(message, status=status, headers=exc.response.headers, policy=policy)
        if status in (401, 403):
            return ConfigError(f"ARGOAI_LLM_API_KEY: rejected ({message})")
        if status == 404:
            return ConfigError(f"ARGOAI_LLM_MODEL / ARGOAI_LLM_BASE_URL: not found ({message})")
        if status == 413:
            return InvalidInputError(message)
        return PermanentError(message)
    # Anything else the SDK raises (bad response shape, missing credentials) will not change on a retry.
    return PermanentError(f"LLM client error: {exc}")
