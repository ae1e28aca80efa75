"""Review model over any OpenAI-compatible chat completions API: OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM.

The answer is requested as strict structured output (``response_format`` ``json_schema``) built from
:class:`ReviewOutput`. Servers that refuse ``json_schema`` (older vLLM, Ollama…: HTTP 400/422 naming
``response_format``/``json_schema``) get ``json_object`` with the schema in the instructions instead, and
that is remembered per base URL for the life of the process. Either way the reply is validated against the
pydantic model; :func:`_map_error` is the one place SDK exceptions become the ArgoAI error tree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat
from opentelemetry.trace import Tracer

from argoai_core.errors import ArgoAIError, ConfigError, InvalidInputError, PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import LLMSettings
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.retry import RetryPolicy, transient_error
from argoai_reviewer.llm.schema import SCHEMA_DESCRIPTION, SCHEMA_NAME, review_schema
from argoai_reviewer.llm.structured import Answer, InvalidReply, StructuredReviewModel, parse_json_reply

OPENAI_URL = "https://api.openai.com/v1"

log = get_logger(__name__)

# Base URLs whose server refused ``json_schema``: process-wide, because it is a property of the server, and
# every client of it (one per worker) should skip the failing first request.
_JSON_OBJECT_ONLY: set[str] = set()


def json_schema_refused(base_url: str) -> bool:
    """Whether the server at ``base_url`` refused ``json_schema`` earlier in this process."""
    return base_url in _JSON_OBJECT_ONLY


@dataclass
class _Chat:
    system: str
    messages: list[ChatCompletionMessageParam] = field(default_factory=list)


@dataclass(frozen=True)
class _Reply:
    content: str | None
    refusal: str | None
    finish_reason: str


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
                timeout=settings.timeout_seconds,
                max_retries=0,  # retries are ours (see llm.py)
            )
        else:
            self._base_url = settings.base_url or OPENAI_URL
            if key is None and self._base_url == OPENAI_URL:
                raise ConfigError("ARGOAI_LLM_API_KEY: required for api.openai.com")
            self._client = openai.AsyncOpenAI(
                base_url=self._base_url,
                api_key=key or "unused",
                timeout=settings.timeout_seconds,
                max_retries=0,  # retries are ours (see llm.py)
            )
        self._max_tokens = settings.max_output_tokens

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _begin(self, system: str, prompt: str) -> _Chat:
        return _Chat(system=system, messages=[{"role": "user", "content": prompt}])

    async def _send(self, model: str, conversation: _Chat) -> Answer:
        if not json_schema_refused(self._base_url):
            try:
                return await self._create(model, conversation, json_object=False)
            except openai.APIStatusError as exc:
                if not _refuses_json_schema(exc):
                    raise _map_error(exc, self._policy) from exc
                _JSON_OBJECT_ONLY.add(self._base_url)
                log.warning(
                    "llm_json_schema_refused",
                    base_url=self._base_url,
                    status=exc.status_code,
                    message=str(exc.message)[:300],
                )
            except openai.OpenAIError as exc:
                raise _map_error(exc, self._policy) from exc
        try:
            return await self._create(model, conversation, json_object=True)
        except openai.OpenAIError as exc:
            raise _map_error(exc, self._policy) from exc

    async def _create(self, model: str, conversation: _Chat, *, json_object: bool) -> Answer:
        schema = review_schema()
        system = conversation.system
        response_format: ResponseFormat
        if json_object:
            system = f"{system}\n\n{self._instructions.json_object_schema(json.dumps(schema))}"
            response_format = {"type": "json_object"}
        else:
            response_format = {
                "type": "json_schema",
                "json_schema": {
                    "name": SCHEMA_NAME,
                    "description": SCHEMA_DESCRIPTION,
                    "schema": schema,
                    "strict": True,
                },
            }
        completion: ChatCompletion = await self._client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, *conversation.messages],
            response_format=response_format,
            max_completion_tokens=self._max_tokens,
            stream=False,
        )
        if not completion.choices:
            raise PermanentError(f"LLM {model} answered without any choice")
        choice = completion.choices[0]
        usage = completion.usage
        return Answer(
            reply=_Reply(
                content=choice.message.content,
                refusal=choice.message.refusal,
                finish_reason=choice.finish_reason,
            ),
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=completion.model or model,
        )

    def _validate(self, answer: Answer) -> ReviewOutput:
        reply: _Reply = answer.reply
        if reply.refusal:
            raise InvalidReply(f"the model refused: {reply.refusal[:500]}")
        if reply.finish_reason == "length":
            raise InvalidReply("the answer was cut off at the output token limit; be more concise")
        if reply.finish_reason == "content_filter":
            raise InvalidReply("the answer was stopped by the content filter")
        return parse_json_reply(reply.content)

    def _ask_again(self, conversation: _Chat, answer: Answer, problem: str) -> None:
        reply: _Reply = answer.reply
        conversation.messages.append({"role": "assistant", "content": reply.content or reply.refusal or ""})
        conversation.messages.append({"role": "user", "content": self._instructions.correct(problem)})


def _refuses_json_schema(exc: openai.APIStatusError) -> bool:
    """Whether a 400/422 says the server does not support ``json_schema`` response formats."""
    if exc.status_code not in (400, 422):
        return False
    text = f"{exc.message} {exc.body}".lower()
    return "json_schema" in text or "response_format" in text


def _map_error(exc: openai.OpenAIError, policy: RetryPolicy) -> ArgoAIError:
    """The one mapping of OpenAI SDK exceptions onto the ArgoAI error tree."""
    if isinstance(exc, openai.APITimeoutError):
        return transient_error("LLM request timed out", status=None, headers=None, policy=policy)
    if isinstance(exc, openai.APIConnectionError):
        return transient_error(f"LLM unreachable: {exc}", status=None, headers=None, policy=policy)
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
        if status == 413 or exc.code == "context_length_exceeded":
            return InvalidInputError(message)
        return PermanentError(message)
    # Anything else the SDK raises (bad response shape, client misuse) will not change on a retry.
    return PermanentError(f"LLM client error: {exc}")
