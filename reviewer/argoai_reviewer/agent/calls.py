"""The data the LLM loop and the agent's tools exchange: what a tool is, a call of it, and its result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model is told about it: name, description, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One call the model made: the provider's call id, the tool's name, its arguments as JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    """The answer to one call: text for the model (already redacted and fenced), and whether it failed."""

    call_id: str
    text: str
    is_error: bool = False
