"""The model as the analysis sees it: structured-output calls answering with a validated pydantic model.

:class:`StructuredModel` asks for any output type (a review, a verification verdict, an answer…);
:class:`ReviewModel` is its use for a :class:`ReviewOutput`. The analysis owns these Protocols;
:mod:`argoai_reviewer.llm` and the provider adapters implement them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from argoai_core.models.findings import ReviewOutput

T = TypeVar("T", bound=BaseModel)
T_co = TypeVar("T_co", bound=BaseModel, covariant=True)


@dataclass(frozen=True)
class Reply(Generic[T_co]):
    """A validated LLM answer of type ``T`` and what it cost (tokens summed over every request it took)."""

    output: T_co
    model: str
    input_tokens: int
    output_tokens: int
    # Said in the review's summary, e.g. that a fallback model answered because the configured one was down.
    note: str = ""


# The reply of a review call (kept as a name: most of the analysis deals in reviews only).
ModelReply = Reply[ReviewOutput]


class ReviewModel(Protocol):
    """An LLM that answers with a :class:`ReviewOutput` (structured output, validated)."""

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Ask for a review of ``prompt``; retries on invalid output and transient errors are inside."""
        ...


class StructuredModel(Protocol):
    """An LLM that answers with an instance of any pydantic model (structured output, validated)."""

    async def ask(self, *, system: str, prompt: str, output: type[T], model: str | None = None) -> Reply[T]:
        """Ask ``prompt`` for an ``output``; retries on invalid output and transient errors are inside."""
        ...
