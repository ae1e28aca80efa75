"""The provider-agnostic half of the LLM adapters: factory, retry policy, schema, validation loop, cost.

Who retries what (decided once, here):

* The SDKs' own retries are OFF (``max_retries=0``). Transient failures (429, 5xx, Anthropic's 529
  "overloaded", timeouts, dropped connections) are retried by :class:`StructuredReviewModel` with ``stamina``,
  at most ``LLMSettings.max_retries`` times, honouring ``retry-after``. A server asking us to wait longer than
  :attr:`RetryPolicy.max_in_process_wait` is not waited for in-process: the call fails at once with
  :class:`~argoai_core.errors.RateLimitedError` carrying that delay, so the queue redelivers the job later
  instead of a worker sleeping on it.
* A reply that does not validate against :class:`ReviewOutput` (invalid JSON, schema violation, refusal,
  truncation, no tool call) is ASKED AGAIN, telling the model what was wrong, at most
  :attr:`RetryPolicy.validation_attempts` times in all; then :class:`~argoai_core.errors.PermanentError`.
  Replies are never repaired.
* Exhausted transient retries surface as :class:`~argoai_core.errors.RetryableError`:
  :class:`ServerAskedDelay` (a ``RateLimitedError``) with the server's ``retry-after``, ``RateLimitedError``
  (429 without one) or ``UnavailableError`` (5xx, timeout, connection), both with
  :attr:`RetryPolicy.requeue_delay`. Client errors are permanent, because the same request cannot succeed:
  401/403/404 → ``ConfigError`` (key, model or URL), 413/context too long → ``InvalidInputError``, other 4xx
  and an exhausted quota → ``PermanentError``.

The factory imports the adapters lazily: only ``adapters`` modules may import the SDKs, the adapters build on
the base class defined here, and a process using one provider need not import the other's SDK.
"""

from __future__ import annotations

import abc
import asyncio
import copy
import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import stamina
from opentelemetry import trace
from opentelemetry.trace import Tracer
from pydantic import ValidationError

from argoai_core.errors import (
    ArgoAIError,
    ConfigError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    UnavailableError,
)
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import LLMSettings
from argoai_reviewer.metrics import LLM_CALLS, LLM_COST, LLM_SECONDS, LLM_TOKENS
from argoai_reviewer.ports import ModelReply, ReviewModel

PROMPTS = Path(__file__).parent / "prompts"

# The name of the schema (OpenAI ``json_schema.name``) and of the Anthropic tool that carries the answer.
SCHEMA_NAME = "submit_review"
SCHEMA_DESCRIPTION = "Submit the review of the change: a short summary and the findings."

# Keywords strict structured output (OpenAI, and Anthropic strict tools) rejects. They stay enforced: every
# reply is validated against the pydantic model, and a reply breaking them is asked again.
_UNSUPPORTED_IN_STRICT = frozenset({"minLength", "maxLength"})


def _prompt_file(name: str) -> str:
    return (PROMPTS / name).read_text(encoding="utf-8").rstrip("\n")


@dataclass(frozen=True)
class ReplyInstructions:
    """The texts the adapters themselves add to a conversation, from ``prompts/`` by default.

    ``correction`` (with ``{problem}``) follows a rejected reply; ``json_object`` (with ``{schema}``) is
    appended to the system prompt when a server only supports ``json_object``. Plain placeholders rather
    than Jinja2: the values are JSON and model-facing error text, which must be inserted verbatim.
    """

    correction: str = field(default_factory=lambda: _prompt_file("correction.txt"))
    json_object: str = field(default_factory=lambda: _prompt_file("json_object.txt"))

    def correct(self, problem: str) -> str:
        """The message telling the model what was wrong with its reply."""
        return self.correction.replace("{problem}", problem)

    def json_object_schema(self, schema: str) -> str:
        """The instructions that carry the schema when structured output is unavailable."""
        return self.json_object.replace("{schema}", schema)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: transient retries (stamina backoff) and how often to ask again for valid output."""

    attempts: int = 4
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 0.5
    # A retry-after longer than this is not slept on in-process: the job goes back to the queue.
    max_in_process_wait: float = 20.0
    # The delay suggested to the queue when transient retries are exhausted without a server hint.
    requeue_delay: float = 30.0
    # Total replies examined per review (1 + how often the model is asked again).
    validation_attempts: int = 3

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> RetryPolicy:
        """The default policy with ``settings.max_retries`` transient retries."""
        return cls(attempts=settings.max_retries + 1)


class LLMClient(ReviewModel, Protocol):
    """A :class:`ReviewModel` that holds connections and must be closed at shutdown."""

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool."""
        ...


class ConcurrencyLimitedModel:
    """A :class:`ReviewModel` letting at most ``limit`` calls run at once in this process.

    Every review shares it, so ``ARGOAI_REVIEWER_LLM_CONCURRENCY`` bounds what one pod asks of the provider
    however many reviews run, while a review alone may still use every slot.
    """

    def __init__(self, model: ReviewModel, limit: int) -> None:
        self._model = model
        self._gate = asyncio.Semaphore(limit)

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Wait for a free slot, then ask the wrapped model."""
        async with self._gate:
            return await self._model.review(system=system, prompt=prompt, model=model)


def build_model(
    settings: LLMSettings,
    *,
    retry: RetryPolicy | None = None,
    instructions: ReplyInstructions | None = None,
) -> LLMClient:
    """The review model for ``settings``: OpenAI-compatible (Azure, vLLM, Ollama, LiteLLM…) or Anthropic."""
    policy = retry or RetryPolicy.from_settings(settings)
    if settings.provider == "openai":
        from argoai_reviewer.adapters.llm_openai import OpenAIReviewModel

        return OpenAIReviewModel(settings, retry=policy, instructions=instructions)
    if settings.provider == "anthropic":
        from argoai_reviewer.adapters.llm_anthropic import AnthropicReviewModel

        return AnthropicReviewModel(settings, retry=policy, instructions=instructions)
    raise ConfigError("ARGOAI_LLM_PROVIDER: not set (openai or anthropic) — no LLM is configured")


@cache
def _schema() -> dict[str, Any]:
    return strict_schema(ReviewOutput.model_json_schema())


def review_schema() -> dict[str, Any]:
    """The JSON schema of :class:`ReviewOutput` as sent to the LLM (a fresh copy each call)."""
    return copy.deepcopy(_schema())


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` fit for strict structured output: objects closed and fully required, no unsupported keyword.

    Raises :class:`ValueError` when an object has an optional property: strict mode cannot express one, and
    silently making it required would change the model's meaning (use ``X | None`` without a default).
    """

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: walk(value) for key, value in node.items() if key not in _UNSUPPORTED_IN_STRICT}
        if node.get("type") == "object" and "properties" in node:
            # ``properties`` maps names to schemas: its keys are property names, never keywords.
            out["properties"] = {name: walk(sub) for name, sub in node["properties"].items()}
            missing = set(node["properties"]) - set(node.get("required", []))
            if missing:
                raise ValueError(f"strict schema: optional properties {sorted(missing)} are not allowed")
            out["additionalProperties"] = False
        return out

    result: dict[str, Any] = walk(schema)
    return result


def describe_invalid(exc: ValidationError) -> str:
    """What was wrong with a reply, for the model to fix (locations and messages, not the input echoed)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:20]:
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def parse_json_reply(text: str | None) -> ReviewOutput:
    """Validate a JSON text reply; raises :class:`InvalidReply` saying what is wrong."""
    if not text:
        raise InvalidReply("the answer was empty")
    try:
        return ReviewOutput.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidReply(f"it does not match the schema ({describe_invalid(exc)})") from None


def parse_object_reply(value: object) -> ReviewOutput:
    """Validate an already decoded reply (a tool call's input); raises :class:`InvalidReply`."""
    try:
        return ReviewOutput.model_validate(value)
    except ValidationError as exc:
        raise InvalidReply(f"it does not match the schema ({describe_invalid(exc)})") from None


class InvalidReply(Exception):  # a signal inside the review loop, never raised out of it
    """A reply that does not validate; ``problem`` is told to the model when it is asked again."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The delay a response asks for: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(delay) and delay >= 0:
            return delay
    date = headers.get("retry-after")
    if date:
        try:
            parsed = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())
    return None


def estimate_cost(settings: LLMSettings, input_tokens: int, output_tokens: int) -> float:
    """Estimated cost in US dollars from the configured prices per million tokens (unknown prices count 0)."""
    return (
        input_tokens * settings.input_price_per_mtok + output_tokens * settings.output_price_per_mtok
    ) / 1_000_000


class ServerAskedDelay(RateLimitedError):
    """A transient failure whose response said how long to wait (``retry-after``): ``delay`` is that wait."""


def transient_error(
    what: str, *, status: int | None, headers: Mapping[str, str] | None, policy: RetryPolicy
) -> RetryableError:
    """The error for a transient failure: the server's delay when it gave one, else the policy's."""
    asked = retry_after_seconds(headers)
    label = f"{what} (HTTP {status})" if status else what
    if asked is not None:
        return ServerAskedDelay(f"{label}; asked to retry after {asked:g}s", delay=asked)
    if status == 429:
        return RateLimitedError(f"{label}; no retry-after given", delay=policy.requeue_delay)
    return UnavailableError(label, delay=policy.requeue_delay)


@dataclass
class Answer:
    """One HTTP exchange's result: the reply as received (to validate) and what it cost."""

    reply: Any
    input_tokens: int
    output_tokens: int
    model: str


H = TypeVar("H")


class StructuredReviewModel(abc.ABC, Generic[H]):
    """The review loop all providers share: transient retries, asking again for valid output, metrics, spans.

    A provider adapter supplies the conversation (``H``), one HTTP exchange (:meth:`_send`, which maps the
    SDK's exceptions onto the error tree), the validation of its reply shape (:meth:`_validate`) and how a
    correction is appended (:meth:`_ask_again`).
    """

    provider: str

    def __init__(
        self,
        settings: LLMSettings,
        *,
        retry: RetryPolicy,
        instructions: ReplyInstructions | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        if not settings.model:
            raise ConfigError("ARGOAI_LLM_MODEL: required")
        self._settings = settings
        self._policy = retry
        self._default_model = settings.model
        self._tracer = tracer or trace.get_tracer(__name__)
        self._instructions = instructions or ReplyInstructions()

    @abc.abstractmethod
    def _begin(self, system: str, prompt: str) -> H:
        """A new conversation: the system instructions and the prompt."""

    @abc.abstractmethod
    async def _send(self, model: str, conversation: H) -> Answer:
        """One request; SDK exceptions mapped to RetryableError / PermanentError."""

    @abc.abstractmethod
    def _validate(self, answer: Answer) -> ReviewOutput:
        """The reply as a ReviewOutput, or :class:`InvalidReply`."""

    @abc.abstractmethod
    def _ask_again(self, conversation: H, answer: Answer, problem: str) -> None:
        """Append the rejected reply and the correction to ``conversation``."""

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Ask for a review of ``prompt``; retries on invalid output and transient errors are inside."""
        chosen = model or self._default_model
        with self._tracer.start_as_current_span(
            "llm.review",
            attributes={
                "gen_ai.system": self.provider,
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": chosen,
            },
        ) as span:
            conversation = self._begin(system, prompt)
            input_tokens = output_tokens = 0
            problem = ""
            for attempt in range(1, self._policy.validation_attempts + 1):
                answer = await self._send_with_retries(chosen, conversation)
                input_tokens += answer.input_tokens
                output_tokens += answer.output_tokens
                span.set_attributes(
                    {
                        "gen_ai.response.model": answer.model,
                        "gen_ai.usage.input_tokens": input_tokens,
                        "gen_ai.usage.output_tokens": output_tokens,
                        "argoai.llm.validation_attempts": attempt,
                    }
                )
                try:
                    output = self._validate(answer)
                except InvalidReply as invalid:
                    problem = invalid.problem
                    LLM_CALLS.labels(model=chosen, outcome="invalid_output").inc()
                    span.add_event("llm.invalid_output", {"problem": problem[:500]})
                    self._ask_again(conversation, answer, problem)
                    continue
                LLM_CALLS.labels(model=chosen, outcome="ok").inc()
                return ModelReply(
                    output=output, model=answer.model, input_tokens=input_tokens, output_tokens=output_tokens
                )
            raise PermanentError(
                f"LLM {chosen} gave no valid review in {self._policy.validation_attempts} answers; "
                f"last problem: {problem}"
            )

    async def _send_with_retries(self, model: str, conversation: H) -> Answer:
        policy = self._policy

        def backoff(exc: Exception) -> bool | float:
            if not isinstance(exc, RetryableError):
                return False
            if isinstance(exc, ServerAskedDelay):
                # The server's own delay replaces the exponential backoff, unless it is too long to wait here.
                return exc.delay if exc.delay <= policy.max_in_process_wait else False
            return True

        async for attempt in stamina.retry_context(
            on=backoff,
            attempts=policy.attempts,
            timeout=None,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        ):
            with attempt:
                return await self._timed_send(model, conversation)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _timed_send(self, model: str, conversation: H) -> Answer:
        started = time.perf_counter()
        try:
            with self._tracer.start_as_current_span(
                "llm.request", attributes={"gen_ai.system": self.provider, "gen_ai.request.model": model}
            ) as span:
                answer = await self._send(model, conversation)
                span.set_attributes(
                    {
                        "gen_ai.response.model": answer.model,
                        "gen_ai.usage.input_tokens": answer.input_tokens,
                        "gen_ai.usage.output_tokens": answer.output_tokens,
                    }
                )
        except RateLimitedError:
            LLM_CALLS.labels(model=model, outcome="rate_limited").inc()
            raise
        except RetryableError:
            LLM_CALLS.labels(model=model, outcome="unavailable").inc()
            raise
        except ArgoAIError:
            LLM_CALLS.labels(model=model, outcome="failed").inc()
            raise
        finally:
            LLM_SECONDS.labels(model=model).observe(time.perf_counter() - started)
        LLM_TOKENS.labels(model=model, direction="input").inc(answer.input_tokens)
        LLM_TOKENS.labels(model=model, direction="output").inc(answer.output_tokens)
        LLM_COST.labels(model=model).inc(
            estimate_cost(self._settings, answer.input_tokens, answer.output_tokens)
        )
        return answer
