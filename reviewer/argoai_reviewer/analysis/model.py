"""The model as the analysis sees it: one structured-output call that answers with a :class:`ReviewOutput`.

The analysis owns this Protocol; :mod:`argoai_reviewer.llm` and the provider adapters implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from argoai_core.models.findings import ReviewOutput


@dataclass(frozen=True)
class ModelReply:
    """A validated LLM answer and what it cost."""

    output: ReviewOutput
    model: str
    input_tokens: int
    output_tokens: int
    # Said in the review's summary, e.g. that a fallback model answered because the configured one was down.
    note: str = ""


class ReviewModel(Protocol):
    """An LLM that answers with a :class:`ReviewOutput` (structured output, validated)."""

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Ask for a review of ``prompt``; retries on invalid output and transient errors are inside."""
        ...
