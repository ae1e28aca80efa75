"""The parts of an OpenAI-compatible stream chunk (``chat.completion.chunk``) the reviewer reads.

OpenAI streams about one token per chunk, so an answer of 500 tokens is 500 chunks. The SDK builds a
``ChatCompletionChunk`` for each with its own recursive ``construct`` (no validation, but a walk over every
field's type): about 0.15 ms of CPU per chunk. These pydantic models hold only what
:class:`~argoai_reviewer.adapters.llm_openai._Assembly` reads and are validated by pydantic-core in
microseconds (``bench/llm_stream`` measures both). The SDK still sends the request, decodes the server-sent
events and raises its errors (an ``error`` event in the middle of a stream included). Fields a server leaves
out or sends as ``null`` take their defaults; fields it adds are ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class FunctionDelta(_Part):
    """A fragment of a tool call's function: its name (first fragment), then pieces of its arguments."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Part):
    """A fragment of tool call ``index``; its id comes with the first fragment."""

    index: int = 0
    id: str | None = None
    function: FunctionDelta | None = None


class Delta(_Part):
    """What one chunk adds to a choice."""

    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChoiceDelta(_Part):
    """One choice's part of a chunk."""

    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class PromptTokensDetails(_Part):
    """Prompt tokens the server read from its prefix cache (servers without one leave it out)."""

    cached_tokens: int | None = None


class UsageJson(_Part):
    """Token counts, in the last chunk when ``stream_options.include_usage`` was asked for."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None

    @property
    def cached_tokens(self) -> int:
        """Prompt tokens served from the prefix cache (0 when the server does not say)."""
        details = self.prompt_tokens_details
        return (details.cached_tokens or 0) if details is not None else 0


class ChunkJson(_Part):
    """One ``chat.completion.chunk``."""

    model: str | None = None
    choices: list[ChoiceDelta] | None = None
    usage: UsageJson | None = None
