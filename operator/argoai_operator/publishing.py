"""Computing and publishing the effective set, one publish at a time.

Kopf runs handlers of different objects concurrently. Each publish recomputes the whole set from the index
under one lock, so a handler that computed from an older index can never overwrite a newer publish.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from argoai_core.policy_set import PolicySet
from argoai_operator.effective import Effective, PolicyIndex, effective_set


class SetPublisher(Protocol):
    """Stores a policy set where the reviewers read it; returns its revision."""

    async def publish(self, policy_set: PolicySet) -> int:
        """Store ``policy_set`` (idempotent: the same set keeps its revision)."""
        ...


class SerialPublisher:
    """Recompute-and-publish under a lock."""

    def __init__(self, publisher: SetPublisher) -> None:
        self._publisher = publisher
        self._lock = asyncio.Lock()

    async def publish(self, index: PolicyIndex, *, exclude: str | None = None) -> tuple[Effective, int]:
        """Publish the set computed from ``index`` now; return it and its revision."""
        async with self._lock:
            effective = effective_set(index, exclude=exclude)
            revision = await self._publisher.publish(effective.policy_set)
        return effective, revision
