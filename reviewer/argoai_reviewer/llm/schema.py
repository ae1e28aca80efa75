"""The JSON schema of an output type as the LLM is given it (strict structured output), its name and
description (:class:`OutputSpec`), and how a reply that breaks it is described back to the model."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from argoai_core.models.findings import ReviewOutput

# The name of the schema (OpenAI ``json_schema.name``) and of the Anthropic tool that carries the answer.
SCHEMA_NAME = "submit_review"
SCHEMA_DESCRIPTION = "Submit the review of the change: a short summary and the findings."

# Keywords strict structured output (OpenAI, and Anthropic strict tools) rejects. They stay enforced: every
# reply is validated against the pydantic model, and a reply breaking them is asked again.
_UNSUPPORTED_IN_STRICT = frozenset({"minLength", "maxLength"})


T = TypeVar("T", bound=BaseModel)


@cache
def _schema(output: type[BaseModel]) -> dict[str, Any]:
    return strict_schema(output.model_json_schema())


def review_schema() -> dict[str, Any]:
    """The JSON schema of :class:`ReviewOutput` as sent to the LLM (a fresh copy each call)."""
    return OutputSpec.of(ReviewOutput).schema()


@dataclass(frozen=True)
class OutputSpec(Generic[T]):
    """What one structured-output call asks for: the pydantic type (``output``), and the name and description
    under which its schema is sent (OpenAI ``json_schema.name``/``description``, the Anthropic tool carrying
    the answer).

    ``label`` names the answer in errors ("gave no valid review").
    """

    output: type[T]
    name: str
    description: str
    label: str

    @classmethod
    def of(cls, output: type[T]) -> OutputSpec[T]:
        """The spec of ``output``: ``submit_review`` for :class:`ReviewOutput`, else ``submit_<snake_case>``
        of the class name with the first line of its docstring as the description.

        A type may set ``llm_name`` / ``llm_description`` class attributes (``ClassVar[str]``) to choose them.
        """
        if output is ReviewOutput:
            return cls(output, SCHEMA_NAME, SCHEMA_DESCRIPTION, "review")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", output.__name__).lower()
        name = str(getattr(output, "llm_name", "") or f"submit_{snake}")
        doc = (output.__doc__ or "").strip().splitlines()
        description = str(
            getattr(output, "llm_description", "") or (doc[0] if doc else f"Submit the {snake}.")
        )
        return cls(output, name[:64], description, snake.replace("_", " "))

    def schema(self) -> dict[str, Any]:
        """The strict JSON schema of the type as sent to the LLM (a fresh copy each call)."""
        return copy.deepcopy(_schema(self.output))


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
