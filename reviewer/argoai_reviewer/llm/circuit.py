"""The review model behind its circuit breaker, and the fallback model that answers while it is open.

:class:`CircuitModel` asks its circuit before every call (an open breaker fails the call at once with
:class:`~argoai_core.errors.CircuitOpenError`, sparing the provider and the job's deliveries) and tells it
how the call went. :class:`FallbackModel` sends a call the primary's breaker refuses to a second model
(``ARGOAI_FALLBACK_LLM_*``), and marks the reply so that the summary says which model reviewed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Protocol, TypeVar

from pydantic import BaseModel

from argoai_core.errors import CircuitOpenError, RetryableError
from argoai_core.logs import get_logger
from argoai_reviewer.analysis.model import ModelReply, Reply, ReviewModel, StructuredModel, Toolbox
from argoai_reviewer.metrics import LLM_FALLBACK_CALLS
from argoai_reviewer.resilience.breaker import Circuit

log = get_logger(__name__)


T = TypeVar("T", bound=BaseModel)
R = TypeVar("R", bound=Reply[BaseModel])


class AnyModel(ReviewModel, StructuredModel, Protocol):
    """A model that reviews and answers any structured output (what the guarded models wrap)."""


def circuit_name(provider: str, base_url: str | None) -> str:
    """The circuit of an LLM provider at a base URL (the provider's default URL when None)."""
    return f"llm:{provider}:{base_url or 'default'}"


class CircuitModel:
    """A model whose calls go through ``circuit``."""

    def __init__(self, model: AnyModel, circuit: Circuit) -> None:
        self._model = model
        self._circuit = circuit

    async def _call(self, call: Callable[[], Awaitable[R]]) -> R:
        await self._circuit.before_call()
        try:
            reply = await call()
        except RetryableError as exc:
            raise await self._circuit.failed(exc) from exc
        await self._circuit.succeeded()
        return reply

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: Toolbox | None = None
    ) -> ModelReply:
        """Ask for a review unless the breaker is open; count the outcome in the breaker."""
        return await self._call(
            lambda: self._model.review(system=system, prompt=prompt, model=model, tools=tools)
        )

    async def ask(
        self,
        *,
        system: str,
        prompt: str,
        output: type[T],
        model: str | None = None,
        tools: Toolbox | None = None,
    ) -> Reply[T]:
        """Ask for an ``output`` unless the breaker is open; count the outcome in the breaker."""
        return await self._call(
            lambda: self._model.ask(system=system, prompt=prompt, output=output, model=model, tools=tools)
        )


class FallbackModel:
    """The primary model, and ``fallback`` for the calls the primary's open breaker refuses.

    The fallback is asked for its own configured model (a policy's model name is the primary's). When the
    fallback cannot answer either, the primary's CircuitOpenError is raised: the job waits for the primary.
    """

    def __init__(self, primary: AnyModel, fallback: AnyModel, *, primary_label: str) -> None:
        self._primary = primary
        self._fallback = fallback
        self._primary_label = primary_label

    async def _call(self, primary: Callable[[], Awaitable[R]], fallback: Callable[[], Awaitable[R]]) -> R:
        try:
            return await primary()
        except CircuitOpenError as primary_down:
            try:
                reply = await fallback()
            except RetryableError as exc:
                log.warning("the fallback model cannot answer either", error=str(exc))
                raise primary_down from exc
        LLM_FALLBACK_CALLS.inc()
        note = (
            f"The configured model ({self._primary_label}) was unavailable, so the fallback model "
            f"{reply.model} reviewed this change."
        )
        return replace(reply, note=note)

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: Toolbox | None = None
    ) -> ModelReply:
        """The primary's review, or the fallback's while the primary's breaker is open."""
        return await self._call(
            lambda: self._primary.review(system=system, prompt=prompt, model=model, tools=tools),
            lambda: self._fallback.review(system=system, prompt=prompt, model=None, tools=tools),
        )

    async def ask(
        self,
        *,
        system: str,
        prompt: str,
        output: type[T],
        model: str | None = None,
        tools: Toolbox | None = None,
    ) -> Reply[T]:
        """The primary's answer, or the fallback's while the primary's breaker is open."""
        return await self._call(
            lambda: self._primary.ask(system=system, prompt=prompt, output=output, model=model, tools=tools),
            lambda: self._fallback.ask(system=system, prompt=prompt, output=output, model=None, tools=tools),
        )
