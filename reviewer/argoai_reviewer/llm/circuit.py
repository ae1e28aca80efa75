"""The review model behind its circuit breaker, and the fallback model that answers while it is open.

:class:`CircuitModel` asks its circuit before every call (an open breaker fails the call at once with
:class:`~argoai_core.errors.CircuitOpenError`, sparing the provider and the job's deliveries) and tells it
how the call went. :class:`FallbackModel` sends a call the primary's breaker refuses to a second model
(``ARGOAI_FALLBACK_LLM_*``), and marks the reply so that the summary says which model reviewed.
"""

from __future__ import annotations

from dataclasses import replace

from argoai_core.errors import CircuitOpenError, RetryableError
from argoai_core.logs import get_logger
from argoai_reviewer.analysis.model import ModelReply, ReviewModel
from argoai_reviewer.metrics import LLM_FALLBACK_CALLS
from argoai_reviewer.resilience.breaker import Circuit

log = get_logger(__name__)


def circuit_name(provider: str, base_url: str | None) -> str:
    """The circuit of an LLM provider at a base URL (the provider's default URL when None)."""
    return f"llm:{provider}:{base_url or 'default'}"


class CircuitModel:
    """A :class:`ReviewModel` whose calls go through ``circuit``."""

    def __init__(self, model: ReviewModel, circuit: Circuit) -> None:
        self._model = model
        self._circuit = circuit

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Ask the model unless its breaker is open; count the outcome in the breaker."""
        await self._circuit.before_call()
        try:
            reply = await self._model.review(system=system, prompt=prompt, model=model)
        except RetryableError as exc:
            raise await self._circuit.failed(exc) from exc
        await self._circuit.succeeded()
        return reply


class FallbackModel:
    """The primary model, and ``fallback`` for the calls the primary's open breaker refuses.

    The fallback is asked for its own configured model (a policy's model name is the primary's). When the
    fallback cannot answer either, the primary's CircuitOpenError is raised: the job waits for the primary.
    """

    def __init__(self, primary: ReviewModel, fallback: ReviewModel, *, primary_label: str) -> None:
        self._primary = primary
        self._fallback = fallback
        self._primary_label = primary_label

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """The primary's reply, or the fallback's while the primary's breaker is open."""
        try:
            return await self._primary.review(system=system, prompt=prompt, model=model)
        except CircuitOpenError as primary_down:
            try:
                reply = await self._fallback.review(system=system, prompt=prompt, model=None)
            except RetryableError as exc:
                log.warning("the fallback model cannot answer either", error=str(exc))
                raise primary_down from exc
        LLM_FALLBACK_CALLS.inc()
        note = (
            f"The configured model ({self._primary_label}) was unavailable, so the fallback model "
            f"{reply.model} reviewed this change."
        )
        return replace(reply, note=note)
