"""From Kopf's index of ReviewPolicy objects to the effective PolicySet (invalid specs are left out)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoai_core.errors import InvalidInputError
from argoai_core.policy_set import NamedPolicy, PolicySet, policy_key
from argoai_operator.validation import validate_spec

# A Kopf index maps keys to stores of values; ours: policy key → store of the one object's spec.
PolicyIndex = Mapping[str, Iterable[Mapping[str, Any]]]


def index_entry(
    namespace: str | None, name: str, spec: Mapping[str, Any], meta: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """What the Kopf index keeps for one object: its spec under its key; nothing while it is being deleted.

    Kopf keeps an object's previous entry when an indexer returns None, so a deleting object returns an
    empty mapping: that removes it from the index before the delete handler computes the new set.
    """
    if meta.get("deletionTimestamp"):
        return {}
    return {policy_key(namespace, name): dict(spec)}


@dataclass(frozen=True)
class Effective:
    """The set to publish and the policies left out of it, with why."""

    policy_set: PolicySet
    invalid: dict[str, str] = field(default_factory=dict)


def effective_set(index: PolicyIndex, *, exclude: str | None = None) -> Effective:
    """Validate every indexed spec; the valid ones form the set (``exclude`` drops one being deleted)."""
    policies: list[NamedPolicy] = []
    invalid: dict[str, str] = {}
    for key, store in index.items():
        if key == exclude:
            continue
        for spec in store:  # one object per key; a store is Kopf's container for it
            try:
                policies.append(NamedPolicy(key, validate_spec(spec)))
            except InvalidInputError as exc:
                invalid[key] = str(exc)
    return Effective(PolicySet.of(policies), invalid)
