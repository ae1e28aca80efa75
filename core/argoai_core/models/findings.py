"""What a review finds: the schema the LLM must answer in, shared with the analyzers.

One pydantic model is the schema: it is sent to the LLM as a JSON schema (OpenAI structured output,
Anthropic tool input) and every reply is validated against it; a reply that does not validate is asked again,
never repaired.

Versions of :class:`ReviewOutput` (:data:`REVIEW_OUTPUT_VERSION`): 1 had ``summary`` and ``findings``; 2 adds
``files`` (one line per file, for the pull request's walkthrough). The schema sent to the model requires
``files``; a reply without it (a version 1 answer: a recorded reply, an older fake) still validates, with no
file descriptions, so the walkthrough falls back to the file list.

Finding documents are versioned by shape. Version 1 is :class:`Finding`, unchanged (the LLM's schema: it
never gains a field the model would have to fill). Version 2 is :class:`ToolFinding`: a version 1 finding plus
where it came from (``tool``, ``rule``, ``rule_url``) and ``version: 2``. Every version 1 document is still
valid, every consumer of a :class:`Finding` accepts a :class:`ToolFinding` (a subclass), and a model's reply
cannot claim to be a tool's finding: ``ReviewOutput`` holds version 1 findings, which forbid extra fields.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

REVIEW_OUTPUT_VERSION = 2


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


# A tool's name and a rule id: plain tokens (they are shown in comments and may be named in a policy).
TOOL_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"
RULE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./-]{0,99}$"


class ToolFinding(Finding):
    """Version 2: a finding reported by an analyzer (a static-analysis tool or a built-in check).

    Its lines are exact (the tool's, on changed lines), so it is placed by line numbers, never re-located by
    its quote. ``rule_url`` links the rule's documentation, when the tool has one.
    """

    version: Literal[2] = 2
    tool: str = Field(pattern=TOOL_PATTERN, description="Analyzer that reported it, e.g. ruff")
    rule: str = Field(pattern=RULE_PATTERN, description="The tool's rule id, e.g. F401, SC2086, DL3008")
    # No spaces, quotes, parentheses or brackets: the URL is put in a Markdown link as it is.
    rule_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https://[A-Za-z0-9._~:/?#@!$&*+,;=%-]+$",
        description="Documentation of the rule",
    )

    @property
    def rule_ref(self) -> str:
        """``tool:rule``, as a policy names a rule (``disabledRules``)."""
        return f"{self.tool}:{self.rule}"


class FileNote(BaseModel):
    """One line about one changed file, for the walkthrough of the pull request."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=1024, description="Path of the file as in its header")
    description: str = Field(
        min_length=1, max_length=300, description="One line: what this change does in this file"
    )


def _files_required(schema: dict[str, Any]) -> None:
    # ``files`` has a default so that version 1 answers still validate; the model is asked for it anyway
    # (strict structured output needs every property required).
    required = schema.setdefault("required", [])
    if "files" not in required:
        required.append("files")


class ReviewOutput(BaseModel):
    """A whole answer: a summary of the change, a line per file, and the findings."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_files_required)

    summary: str = Field(max_length=8000, description="What the change does and its main risks, briefly")
    files: list[FileNote] = Field(
        default_factory=list,
        max_length=300,
        description="One entry per file shown, in the order shown: what the change does in it",
    )
    findings: list[Finding] = Field(max_length=100)
