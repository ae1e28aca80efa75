"""The JSON schema of :class:`ReviewOutput` as the LLM is given it (strict structured output), and how a
reply that breaks it is described back to the model."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from argoai_core.models.findings import ReviewOutput

# The name of the schema (OpenAI ``json_schema.name``) and of the Anthropic tool that carries the answer.
SCHEMA_NAME = "submit_review"
SCHEMA_DESCRIPTION = "Submit the review of the change: a short summary and the findings."

# Keywords strict structured output (OpenAI, and Anthropic strict tools) rejects. They stay enforced: every
# reply is validated against the pydantic model, and a reply breaking them is asked again.
_UNSUPPORTED_IN_STRICT = frozenset({"minLength", "maxLength"})


@cache
def _schema() -> dict[str, Any]:
    return strict_schema(ReviewOutput.model_json_schema())


def review_schema() -> dict[str, Any]:
    """The JSON schema of :class:`ReviewOutput` as sent to the LLM (a fresh copy each call)."""
    return copy.deepcopy(_schema())


@dataclass(frozen=True)
class OutputSpec:
    """A structured answer other than a review (e.g. ``argoai eval``'s judge verdict): its name (the OpenAI
    schema name and the Anthropic tool), what it is for, and the pydantic model replies are validated with."""

    name: str
    description: str
    model: type[BaseModel]

    def schema(self) -> dict[str, Any]:
        """The model's strict JSON schema (a fresh copy each call)."""
        return copy.deepcopy(_strict_of(self.model))

    def parse_json(self, text: str) -> BaseModel:
        """A JSON reply validated by the model; ValidationError when it does not conform."""
        return self.model.model_validate_json(text)

    def parse_object(self, value: object) -> BaseModel:
        """A decoded reply (a tool call's input) validated by the model; ValidationError when it does not."""
        return self.model.model_validate(value)


@cache
def _strict_of(model: type[BaseModel]) -> dict[str, Any]:
    return strict_schema(model.model_json_schema())


REVIEW_OUTPUT = OutputSpec(SCHEMA_NAME, SCHEMA_DESCRIPTION, ReviewOutput)
"""The review's answer: what every review call asks for."""


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` fit for strict structured output: objects closed and fully required, no unsupported keyword.

    Raises :class:`ValueError` when an object has an optional property: strict mode cannot express one, and
    silently making it required would change the model's meaning (use ``X | None`` without a default).
    """

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: walk(value) for key, value in node.items() if key not in _UNSUPPORTED_IN_STRICT}
        if node.get("type") == "object" and "properties" in node:
            # ``properties`` maps names to schemas: its keys are property names, never keywords.
            out["properties"] = {name: walk(sub) for name, sub in node["properties"].items()}
            missing = set(node["properties"]) - set(node.get("required", []))
            if missing:
                raise ValueError(f"strict schema: optional properties {sorted(missing)} are not allowed")
            out["additionalProperties"] = False
        return out

    result: dict[str, Any] = walk(schema)
    return result


def describe_invalid(exc: ValidationError) -> str:
    """What was wrong with a reply, for the model to fix (locations and messages, not the input echoed)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:20]:
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)
