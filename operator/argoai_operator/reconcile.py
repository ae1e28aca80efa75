"""What to do for one ReviewPolicy event: publish the set, then say what its status and Events become.

Pure decisions apart from the publish: the Kopf handlers apply the returned status patch and post the
returned Events, so this module never touches Kopf and the handlers stay a few lines each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from argoai_core.errors import InvalidInputError
from argoai_core.policy_set import NamedPolicy
from argoai_operator.effective import PolicyIndex
from argoai_operator.publishing import SerialPublisher
from argoai_operator.status import changed, condition_of, invalid_status, ready_status
from argoai_operator.validation import validate_spec


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the object."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Outcome:
    """The status fields to patch (only those that changed), the Events to post, the condition now true."""

    status: dict[str, Any]
    condition: Literal["Ready", "Invalid"]
    events: list[Event] = field(default_factory=list)
    revision: int = 0


async def reconcile(
    publisher: SerialPublisher,
    index: PolicyIndex,
    *,
    key: str,
    generation: int | None,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
) -> Outcome:
    """Publish the effective set and describe policy ``key``'s new status (idempotent)."""
    effective, revision = await publisher.publish(index)
    events: list[Event] = []
    try:
        valid = validate_spec(spec)
    except InvalidInputError as exc:
        reason = str(exc)
        new = invalid_status(status, generation=generation, reason=reason, revision=revision)
        old = condition_of(status, "Invalid")
        if old is None or old.get("status") != "True" or old.get("message") != reason:
            events.append(Event("Warning", "InvalidSpec", f"not applied: {reason}"))
        return Outcome(changed(status, new), "Invalid", events, revision)

    # The index holds this event's spec (Kopf indexes before it calls handlers); fall back to it anyway.
    policy = next((p for p in effective.policy_set if p.name == key), NamedPolicy(key, valid))
    conflicts = [c.message() for c in effective.policy_set.conflicts() if key in (c.first, c.second)]
    new = ready_status(
        status,
        generation=generation,
        scope=policy.describe_scope(),
        revision=revision,
        policies=len(effective.policy_set),
        conflicts=conflicts,
    )
    events.extend(
        Event("Warning", "Conflict", text) for text in conflicts if text not in status.get("conflicts", [])
    )
    ready = condition_of(status, "Ready")
    if ready is None or ready.get("status") != "True" or status.get("observedGeneration") != generation:
        events.append(Event("Normal", "Published", f"applied in policy-set revision {revision}"))
    return Outcome(changed(status, new), "Ready", events, revision)


async def forget(publisher: SerialPublisher, index: PolicyIndex, *, key: str) -> int:
    """Publish the set without policy ``key`` (being deleted); return the revision."""
    _, revision = await publisher.publish(index, exclude=key)
    return revision
