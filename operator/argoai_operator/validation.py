"""Validating a ReviewPolicy spec with the pydantic model (the same rules as the CRD's schema and CEL)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from argoai_core.errors import InvalidInputError
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import format_validation_error


def validate_spec(spec: Mapping[str, Any]) -> PolicySpec:
    """The spec as a PolicySpec, or InvalidInputError listing every problem as ``spec.field: message``.

    The API server already checked the OpenAPI schema and CEL rules when the CRD is installed; this catches
    what it cannot (a CRD older than the operator, objects stored before a rule existed) and keeps one
    source of truth for what a valid policy is.
    """
    try:
        return PolicySpec.model_validate(dict(spec))
    except ValidationError as exc:
        raise InvalidInputError(format_validation_error(exc, prefix="spec")) from None
