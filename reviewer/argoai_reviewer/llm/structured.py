"""The provider-agnostic half of the LLM adapters: the structured-output loop every provider shares.

Who retries what (decided once, here):

* The SDKs' own retries are OFF (``max_retries=0``). Transient failures (429, 5xx, Anthropic's 529
  "overloaded", dropped connections) are retried by :class:`StructuredReviewModel` with ``stamina``,
  at most ``LLMSettings.max_retries`` times, honouring ``retry-after``. A call that timed out
  (:class:`~argoai_reviewer.llm.retry.TimedOut`, see :mod:`argoai_reviewer.llm.streaming`) is tried once more
  at most, after :attr:`RetryPolicy.timeout_retry_wait`: an identical request sent at once would queue
  behind the abandoned one on a server that keeps generating after its client left. A server asking us to
  wait longer than :attr:`RetryPolicy.max_in_process_wait` is not waited for in-process: the call fails at
  once with :class:`~argoai_core.errors.RateLimitedError` carrying that delay, so the queue redelivers the
  job later instead of a worker sleeping on it. A server refusing a structured-output form is not an outage
  either: the OpenAI-compatible adapter asks again at once in a form it supports.
* A reply that does not validate against the output type asked for (:class:`ReviewOutput` for a review; any
  pydantic model through :meth:`StructuredReviewModel.ask`) (invalid JSON, schema violation, refusal,
  truncation, no tool call) is ASKED AGAIN, telling the model what was wrong, at most
  :attr:`RetryPolicy.validation_attempts` times in all; then :class:`~argoai_core.errors.PermanentError`.
  Replies are never repaired.
* Exhausted transient retries surface as :class:`~argoai_core.errors.RetryableError`:
  :class:`ServerAskedDelay` (a ``RateLimitedError``) with the server's ``retry-after``, ``RateLimitedError``
  (429 without one) or ``UnavailableError`` (5xx, timeout, connection), both with
  :attr:`RetryPolicy.requeue_delay`. Client errors are permanent, because the same request cannot succeed:
  401/403/404 → ``ConfigError`` (key, model or URL), 413/context too long → ``InvalidInputError``, other 4xx
  and an exhausted quota → ``PermanentError``.

The adapters (``argoai_reviewer.adapters.llm_*``, the only modules importing the SDKs) build on the base
class defined here; ``argoai_reviewer.wiring`` chooses one from the settings.
"""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import stamina
from opentelemetry import trace
from opentelemetry.trace import Tracer
from pydantic import BaseModel, ValidationError

from argoai_core.errors import (
    ArgoAIError,
    ConfigError,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import LLMSettings
from argoai_reviewer.agent.calls import ToolCall, ToolResult, ToolSpec
from argoai_reviewer.analysis.model import (
    ModelReply,
    Reply,
    ReviewModel,
    StructuredModel,
    Toolbox,
    ToolsUnsupportedError,
)
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.retry import RetryPolicy, ServerAskedDelay, TimedOut
from argoai_reviewer.llm.schema import OutputSpec, describe_invalid
from argoai_reviewer.metrics import LLM_CALLS, LLM_COST, LLM_SECONDS, LLM_TOKENS, variant

T = TypeVar("T", bound=BaseModel)


class LLMClient(ReviewModel, StructuredModel, Protocol):
    """A :class:`ReviewModel` (and :class:`StructuredModel`) that holds connections and must be closed."""

    async def aclose(self) -> None:
        """Close the underlying HTTP connection pool."""
        ...


def parse_json_reply(text: str | None, output: type[T]) -> T:
    """Validate a JSON text reply as ``output``; raises :class:`InvalidReply` saying what is wrong."""
    if not text:
        raise InvalidReply("the answer was empty")
    try:
        return output.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidReply(f"it does not match the schema ({describe_invalid(exc)})") from None


def parse_object_reply(value: object, output: type[T]) -> T:
    """Validate an already decoded reply (a tool call's input) as ``output``; raises :class:`InvalidReply`."""
    try:
        return output.model_validate(value)
    except ValidationError as exc:
        raise InvalidReply(f"it does not match the schema ({describe_invalid(exc)})") from None


class InvalidReply(Exception):  # a signal inside the review loop, never raised out of it
    """A reply that does not validate; ``problem`` is told to the model when it is asked again."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass
class Answer:
    """One HTTP exchange's result: the reply as received (to validate) and what it cost."""

    reply: Any
    input_tokens: int
    output_tokens: int
    model: str
    # The part of ``input_tokens`` the provider served from its prompt (prefix) cache.
    cached_tokens: int = 0


H = TypeVar("H")


class StructuredReviewModel(abc.ABC, Generic[H]):
    """The structured-output loop all providers share: transient retries, asking again for valid output,
    metrics, spans; for any pydantic output type (:meth:`ask`), a review being one (:meth:`review`).

    A provider adapter supplies the conversation (``H``, which carries the :class:`OutputSpec` asked for),
    one HTTP exchange (:meth:`_send`, which maps the SDK's exceptions onto the error tree), the extraction of
    the answer's JSON from its reply shape (:meth:`_validate`) and how a correction is appended
    (:meth:`_ask_again`).
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
    def _begin(self, system: str, prompt: str, spec: OutputSpec[Any], tools: list[ToolSpec] | None) -> H:
        """A new conversation: the system instructions, the prompt, the output asked for and the read tools
        offered (agent mode; None: none)."""

    @abc.abstractmethod
    async def _send(self, model: str, conversation: H) -> Answer:
        """One request; SDK exceptions mapped to RetryableError / PermanentError."""

    @abc.abstractmethod
    def _validate(self, answer: Answer, spec: OutputSpec[T]) -> T:
        """The reply as an instance of ``spec.output``, or :class:`InvalidReply`."""

    @abc.abstractmethod
    def _ask_again(self, conversation: H, answer: Answer, problem: str) -> None:
        """Append the rejected reply and the correction to ``conversation``."""

    def _supports_tools(self) -> bool:
        """False when the server is known to refuse tool calling (remembered per base URL)."""
        return True

    def _tool_calls(self, answer: Answer, spec: OutputSpec[Any]) -> list[ToolCall]:
        """The calls of read tools in ``answer`` (none when it carries the final answer)."""
        return []

    def _answer_tools(self, conversation: H, answer: Answer, results: list[ToolResult]) -> None:
        """Append the model's tool calls and their results to ``conversation``."""
        raise NotImplementedError

    def _offer_tools(self, conversation: H, offered: bool) -> None:
        """Offer the read tools in the next request, or (the budget spent) ask for the final answer only."""

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: Toolbox | None = None
    ) -> ModelReply:
        """Ask for a review of ``prompt``; retries on invalid output and transient errors are inside."""
        return await self.ask(system=system, prompt=prompt, output=ReviewOutput, model=model, tools=tools)

    async def ask(
        self,
        *,
        system: str,
        prompt: str,
        output: type[T],
        model: str | None = None,
        tools: Toolbox | None = None,
    ) -> Reply[T]:
        """Ask ``prompt`` for an ``output``; retries on invalid output and transient errors are inside.

        With ``tools`` (agent mode) the model may call them, round after round, until it gives its answer
        or the toolbox's budget closes; then it is asked for the answer without tools. Rounds of tool calls
        are not validation attempts. :class:`ToolsUnsupportedError` when the server has no tool calling.
        """
        spec: OutputSpec[T] = OutputSpec.of(output)
        chosen = model or self._default_model
        if tools is not None and not self._supports_tools():
            # The same words as the first refusal: the summary of every review says why in one way.
            raise ToolsUnsupportedError("the LLM server has no tool calling")
        with self._tracer.start_as_current_span(
            "llm.review" if output is ReviewOutput else "llm.ask",
            attributes={
                "gen_ai.system": self.provider,
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": chosen,
                "argoai.llm.output": spec.name,
            },
        ) as span:
            conversation = self._begin(system, prompt, spec, tools.specs() if tools is not None else None)
            input_tokens = output_tokens = rounds = attempt = 0
            problem = ""
            while attempt < self._policy.validation_attempts:
                offered = tools is not None and not tools.closed()
                if tools is not None:
                    self._offer_tools(conversation, offered)
                answer = await self._send_with_retries(chosen, conversation)
                input_tokens += answer.input_tokens
                output_tokens += answer.output_tokens
                span.set_attributes(
                    {
                        "gen_ai.response.model": answer.model,
                        "gen_ai.usage.input_tokens": input_tokens,
                        "gen_ai.usage.output_tokens": output_tokens,
                        "argoai.llm.validation_attempts": attempt + 1,
                        "argoai.llm.tool_rounds": rounds,
                    }
                )
                calls = self._tool_calls(answer, spec) if tools is not None else []
                if tools is not None:
                    tools.spend(answer.input_tokens + answer.output_tokens)
                if calls and offered and tools is not None:
                    rounds += 1
                    self._answer_tools(conversation, answer, await tools.run(calls))
                    continue
                attempt += 1
                try:
                    if calls:
                        raise InvalidReply("no tools are left to call; give the final answer now")
                    value = self._validate(answer, spec)
                except InvalidReply as invalid:
                    problem = invalid.problem
                    LLM_CALLS.labels(model=chosen, outcome="invalid_output").inc()
                    span.add_event("llm.invalid_output", {"problem": problem[:500]})
                    if calls and tools is not None:
                        self._answer_tools(conversation, answer, await tools.run(calls))
                    else:
                        self._ask_again(conversation, answer, problem)
                    continue
                LLM_CALLS.labels(model=chosen, outcome="ok").inc()
                return Reply(
                    output=value, model=answer.model, input_tokens=input_tokens, output_tokens=output_tokens
                )
            raise PermanentError(
                f"LLM {chosen} gave no valid {spec.label} in {self._policy.validation_attempts} answers; "
                f"last problem: {problem}"
            )

    async def _send_with_retries(self, model: str, conversation: H) -> Answer:
        policy = self._policy
        timeouts = 0

        def backoff(exc: Exception) -> bool | float:
            nonlocal timeouts
            if not isinstance(exc, RetryableError):
                return False
            if isinstance(exc, TimedOut):
                # The server may still be generating the abandoned answer: one more try, after a pause.
                timeouts += 1
                return policy.timeout_retry_wait if timeouts < policy.timeout_attempts else False
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
        arm = variant()
        LLM_TOKENS.labels(model=model, direction="input", variant=arm).inc(answer.input_tokens)
        LLM_TOKENS.labels(model=model, direction="output", variant=arm).inc(answer.output_tokens)
        LLM_TOKENS.labels(model=model, direction="cached_input", variant=arm).inc(answer.cached_tokens)
        LLM_COST.labels(model=model, variant=arm).inc(
            self._settings.estimate_cost(
                answer.input_tokens, answer.output_tokens, cached=answer.cached_tokens
            )
        )
        return answer
