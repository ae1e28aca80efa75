"""Building a ReviewPolicy's status: conditions Ready/Invalid, observedGeneration, scope, revision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from argoai_core.models.policy import PolicyCondition, PolicyStatus


def _condition(
    previous: Mapping[str, Any],
    kind: str,
    status: str,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> PolicyCondition:
    """A condition that keeps its lastTransitionTime while its status does not change."""
    old = next((c for c in previous.get("conditions", []) if c.get("type") == kind), None)
    since = now
    if old is not None and old.get("status") == status and old.get("lastTransitionTime"):
        since = datetime.fromisoformat(str(old["lastTransitionTime"]).replace("Z", "+00:00"))
    return PolicyCondition.model_validate(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "last_transition_time": since,
            "observed_generation": generation,
        }
    )


def _dump(status: PolicyStatus) -> dict[str, Any]:
    data = status.model_dump(mode="json", by_alias=True)
    for condition in data["conditions"]:
        condition["lastTransitionTime"] = condition["lastTransitionTime"].replace("+00:00", "Z")
    return data


def ready_status(
    previous: Mapping[str, Any],
    *,
    generation: int | None,
    scope: str,
    revision: int,
    policies: int,
    conflicts: list[str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """Status of a valid policy included in published revision ``revision``."""
    now = now or datetime.now(UTC)
    message = f"published in policy-set revision {revision} ({policies} policies)"
    if conflicts:
        message += f"; {len(conflicts)} conflict(s): see status.conflicts"
    return _dump(
        PolicyStatus(
            observed_generation=generation,
            matched_scope=scope,
            revision=revision,
            conflicts=conflicts,
            conditions=[
                _condition(previous, "Ready", "True", "Published", message, generation, now),
                _condition(previous, "Invalid", "False", "Valid", "spec is valid", generation, now),
            ],
        )
    )


def invalid_status(
    previous: Mapping[str, Any],
    *,
    generation: int | None,
    reason: str,
    revision: int,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Status of a policy whose spec was refused (left out of the published set)."""
    now = now or datetime.now(UTC)
    return _dump(
        PolicyStatus(
            observed_generation=generation,
            matched_scope=None,
            revision=revision,
            conflicts=[],
            conditions=[
                _condition(
                    previous,
                    "Ready",
                    "False",
                    "InvalidSpec",
                    "not applied: the spec is invalid",
                    generation,
                    now,
                ),
                _condition(previous, "Invalid", "True", "ValidationFailed", reason, generation, now),
            ],
        )
    )


def changed(previous: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``new`` whose value differs from ``previous`` (an empty patch when nothing changed)."""
    return {key: value for key, value in new.items() if previous.get(key) != value}


def condition_of(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The condition ``kind`` of a status, if present."""
    return next((c for c in status.get("conditions", []) if c.get("type") == kind), None)
