"""Review model over Anthropic's Messages API: the answer is the input of one forced tool call.

The tool's ``input_schema`` is the same JSON schema as OpenAI's structured output (built from
:class:`ReviewOutput`), ``tool_choice`` forces that tool, and the tool input is validated with the pydantic
model. A rejected call is answered with a ``tool_result`` marked ``is_error`` that says what was wrong, which
is how the Messages API expects a tool failure to be reported. :func:`_map_error` is the one place SDK
exceptions become the ArgoAI error tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import anthropic
from anthropic.types import Message, MessageParam, ToolParam
from opentelemetry.trace import Tracer

from argoai_core.errors import ArgoAIError, ConfigError, InvalidInputError, PermanentError
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import LLMSettings
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.retry import RetryPolicy, transient_error
from argoai_reviewer.llm.schema import SCHEMA_DESCRIPTION, SCHEMA_NAME, review_schema
from argoai_reviewer.llm.structured import Answer, InvalidReply, StructuredReviewModel, parse_object_reply

ANTHROPIC_URL = "https://api.anthropic.com"


@dataclass
class _Conversation:
    system: str
    messages: list[MessageParam] = field(default_factory=list)


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
        self._client = anthropic.AsyncAnthropic(
            api_key=settings.api_key.get_secret_value(),
            # Explicit, so the SDK never falls back to ANTHROPIC_BASE_URL from the environment.
            base_url=settings.base_url or ANTHROPIC_URL,
            timeout=settings.timeout_seconds,
            max_retries=0,  # retries are ours (see llm.py)
        )
        # Not ``strict``: strict tools reject the schema's numeric and array bounds; the pydantic validation
        # enforces every bound instead and a violating answer is asked again.
        self._tool: ToolParam = {
            "name": SCHEMA_NAME,
            "description": SCHEMA_DESCRIPTION,
            "input_schema": review_schema(),
        }
        self._max_tokens = settings.max_output_tokens

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _begin(self, system: str, prompt: str) -> _Conversation:
        return _Conversation(system=system, messages=[{"role": "user", "content": prompt}])

    async def _send(self, model: str, conversation: _Conversation) -> Answer:
        try:
            message: Message = await self._client.messages.create(
                model=model,
                max_tokens=self._max_tokens,
                system=conversation.system,
                messages=conversation.messages,
                tools=[self._tool],
                tool_choice={"type": "tool", "name": SCHEMA_NAME},
            )
        except anthropic.AnthropicError as exc:
            raise _map_error(exc, self._policy) from exc
        usage = message.usage
        # Cached prompt tokens are still prompt tokens; they are reported apart from ``input_tokens``.
        input_tokens = (
            usage.input_tokens
            + (usage.cache_creation_input_tokens or 0)
            + (usage.cache_read_input_tokens or 0)
        )
        return Answer(
            reply=message, input_tokens=input_tokens, output_tokens=usage.output_tokens, model=message.model
        )

    def _validate(self, answer: Answer) -> ReviewOutput:
        message: Message = answer.reply
        if message.stop_reason == "max_tokens":
            raise InvalidReply("the answer was cut off at the output token limit; be more concise")
        if message.stop_reason == "refusal":
            raise InvalidReply("the model refused to answer")
        calls = [block for block in message.content if block.type == "tool_use" and block.name == SCHEMA_NAME]
        if not calls:
            raise InvalidReply(f"there was no call of the {SCHEMA_NAME} tool")
        return parse_object_reply(calls[0].input)

    def _ask_again(self, conversation: _Conversation, answer: Answer, problem: str) -> None:
        message: Message = answer.reply
        correction = self._instructions.correct(problem)
        conversation.messages.append({"role": "assistant", "content": message.content})
        calls = [block for block in message.content if block.type == "tool_use"]
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


def _map_error(exc: anthropic.AnthropicError, policy: RetryPolicy) -> ArgoAIError:
    """The one mapping of Anthropic SDK exceptions onto the ArgoAI error tree."""
    if isinstance(exc, anthropic.APITimeoutError):
        return transient_error("LLM request timed out", status=None, headers=None, policy=policy)
    if isinstance(exc, anthropic.APIConnectionError):
        return transient_error(f"LLM unreachable: {exc}", status=None, headers=None, policy=policy)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        message = f"LLM answered HTTP {status}: {str(exc.api_message or exc.message)[:300]}"
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
