"""The texts the LLM adapters themselves add to a conversation (from ``templates/``).

The correction that follows a rejected reply, and the instructions that carry the schema when a server has
no structured output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

PROMPTS = Path(__file__).parent / "templates"


def _prompt_file(name: str) -> str:
    return (PROMPTS / name).read_text(encoding="utf-8").rstrip("\n")


@dataclass(frozen=True)
class ReplyInstructions:
    """The texts the adapters themselves add to a conversation, from ``prompts/`` by default.

    ``correction`` (with ``{problem}``) follows a rejected reply; ``json_object`` (with ``{schema}``) is
    appended to the system prompt when a server only supports ``json_object``. Plain placeholders rather
    than Jinja2: the values are JSON and model-facing error text, which must be inserted verbatim.
    """

    correction: str = field(default_factory=lambda: _prompt_file("correction.txt"))
    json_object: str = field(default_factory=lambda: _prompt_file("json_object.txt"))

    def correct(self, problem: str) -> str:
        """The message telling the model what was wrong with its reply."""
        return self.correction.replace("{problem}", problem)

    def json_object_schema(self, schema: str) -> str:
        """The instructions that carry the schema when structured output is unavailable."""
        return self.json_object.replace("{schema}", schema)
