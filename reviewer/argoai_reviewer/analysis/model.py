"""The model as the analysis sees it: structured-output calls answering with a validated pydantic model.

:class:`StructuredModel` asks for any output type (a review, a verification verdict, an answer…);
:class:`ReviewModel` is its use for a :class:`ReviewOutput`. The analysis owns these Protocols;
:mod:`argoai_reviewer.llm` and the provider adapters implement them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from argoai_core.errors import PermanentError
from argoai_core.models.findings import ReviewOutput
from argoai_reviewer.agent.calls import ToolCall, ToolResult, ToolSpec

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


class Toolbox(Protocol):
    """Read-only tools the model may call before its final answer (agent mode), within a budget."""

    def specs(self) -> list[ToolSpec]:
        """The tools, as the model is told about them."""
        ...

    def closed(self) -> str:
        """Why no more tools may run ("" while they may): the model is then asked for its final answer."""
        ...

    def spend(self, tokens: int) -> None:
        """Count the tokens of one answer of the loop against the budget."""
        ...

    async def run(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Answer one round of calls (errors are results too, never exceptions)."""
        ...


class ToolsUnsupportedError(PermanentError):
    """The LLM server does not do tool calling (known from its refusal, remembered per base URL)."""


class ReviewModel(Protocol):
    """An LLM that answers with a :class:`ReviewOutput` (structured output, validated)."""

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: Toolbox | None = None
    ) -> ModelReply:
        """Ask for a review of ``prompt``; retries on invalid output and transient errors are inside.

        With ``tools`` (agent mode) the model may call them first; :class:`ToolsUnsupportedError` when the
        server cannot.
        """
        ...


@runtime_checkable
class StructuredModel(Protocol):
    """An LLM that answers with an instance of any pydantic model (structured output, validated).

    Runtime-checkable: the analysis verifies findings only with a model that has :meth:`ask`.
    """

    async def ask(
        self,
        *,
        system: str,
        prompt: str,
        output: type[T],
        model: str | None = None,
        tools: Toolbox | None = None,
    ) -> Reply[T]:
        """Ask ``prompt`` for an ``output``; retries on invalid output and transient errors are inside."""
        ...
