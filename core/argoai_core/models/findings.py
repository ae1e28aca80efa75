"""What a review finds: the schema the LLM must answer in, shared with the built-in checks.

One pydantic model is the schema: it is sent to the LLM as a JSON schema (OpenAI structured output,
Anthropic tool input) and every reply is validated against it; a reply that does not validate is asked again,
never repaired.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Severity(StrEnum):
    """How much a finding matters, most severe first."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    NIT = "nit"

    @property
    def rank(self) -> int:
        """0 for critical … 3 for nit: sort key, most severe first."""
        return list(Severity).index(self)


class Category(StrEnum):
    """What kind of problem a finding is about."""

    BUG = "bug"
    SECURITY = "security"
    PERFORMANCE = "performance"
    RELIABILITY = "reliability"
    MAINTAINABILITY = "maintainability"
    STYLE = "style"
    DOCUMENTATION = "documentation"
    TESTS = "tests"


class Finding(BaseModel):
    """One problem in the change, located by lines of the new file and by the code it quotes."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=1024, description="Path of the file in the new revision")
    start_line: int = Field(ge=1, description="First line (in the new file) the finding is about")
    end_line: int = Field(ge=1, description="Last line (in the new file), equal to start_line for one line")
    quote: str = Field(
        min_length=1,
        max_length=4000,
        description="The exact code at start_line..end_line, copied verbatim from the diff",
    )
    severity: Severity
    category: Category
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000, description="Why it is a problem and how to fix it")
    suggestion: str | None = Field(
        description="Replacement code for start_line..end_line, or null when there is none"
    )

    @model_validator(mode="after")
    def _range(self) -> Finding:
        if self.end_line < self.start_line:
            raise ValueError("end_line must not be before start_line")
        return self


class ReviewOutput(BaseModel):
    """A whole answer: a summary of the change and the findings."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(max_length=8000, description="What the change does and its main risks, briefly")
    findings: list[Finding] = Field(max_length=100)
