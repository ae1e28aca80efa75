"""The answer to a question as the model gives it (structured output), and the model as answers need it.

The conversation owns this Protocol; :mod:`argoai_reviewer.llm` (``StructuredReviewModel.ask``) implements it
for any pydantic output type, so any configured provider can answer.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from argoai_reviewer.analysis.model import Reply


class ThreadAnswer(BaseModel):
    """Submit the answer to the question asked in the pull request."""

    model_config = ConfigDict(extra="forbid")

    llm_name: ClassVar[str] = "submit_answer"
    llm_description: ClassVar[str] = "Submit the answer to the question asked in the pull request."

    answer: str = Field(
        description=(
            "The answer, in GitHub Markdown: direct and specific to the code shown; code in fenced blocks; "
            "no @-mentions, no images, no HTML, no links"
        )
    )


class AnswerModel(Protocol):
    """An LLM that answers with a :class:`ThreadAnswer` (structured output, validated)."""

    async def ask(
        self, *, system: str, prompt: str, output: type[ThreadAnswer], model: str | None = None
    ) -> Reply[ThreadAnswer]:
        """Ask ``prompt`` for a :class:`ThreadAnswer`; retries (invalid output, transient errors) inside."""
        ...
