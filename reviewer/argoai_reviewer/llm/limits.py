"""The process-wide limit on concurrent LLM calls, shared by every review of one reviewer process."""

from __future__ import annotations

import asyncio
from typing import Protocol, TypeVar

from pydantic import BaseModel

from argoai_reviewer.analysis.model import ModelReply, Reply, ReviewModel, StructuredModel, Toolbox

T = TypeVar("T", bound=BaseModel)


class ConcurrencyLimitedModel:
    """A :class:`ReviewModel` letting at most ``limit`` calls run at once in this process.

    Every review shares it, so ``ARGOAI_REVIEWER_LLM_CONCURRENCY`` bounds what one pod asks of the provider
    however many reviews run, while a review alone may still use every slot.
    """

    def __init__(self, model: _Both, limit: int) -> None:
        self._model = model
        self._gate = asyncio.Semaphore(limit)

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: Toolbox | None = None
    ) -> ModelReply:
        """Wait for a free slot, then ask the wrapped model."""
        async with self._gate:
            if tools is None:
                return await self._model.review(system=system, prompt=prompt, model=model)
            return await self._model.review(system=system, prompt=prompt, model=model, tools=tools)

    async def ask(
        self,
        *,
        system: str,
        prompt: str,
        output: type[T],
        model: str | None = None,
        tools: Toolbox | None = None,
    ) -> Reply[T]:
        """Wait for a free slot, then ask the wrapped model for an ``output``."""
        async with self._gate:
            return await self._model.ask(
                system=system, prompt=prompt, output=output, model=model, tools=tools
            )


class _Both(ReviewModel, StructuredModel, Protocol):
    """What the limited model wraps: a model that reviews and answers any structured output."""
