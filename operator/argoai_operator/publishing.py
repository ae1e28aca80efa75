"""Computing and publishing the effective set, one publish at a time.

Kopf runs handlers of different objects concurrently. Each publish recomputes the whole set from the index
under one lock, so a handler that computed from an older index can never overwrite a newer publish.
Kopf runs on its own thread and event loop (``main``); the NATS connection lives on the main loop, reached
through :class:`OnLoop`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from argoai_core.errors import ArgoAIError
from argoai_core.policy_set import PolicySet
from argoai_operator.effective import Effective, PolicyIndex, effective_set


class SetPublisher(Protocol):
    """Stores a policy set where the reviewers read it; returns its revision."""

    async def publish(self, policy_set: PolicySet) -> int:
        """Store ``policy_set`` (idempotent: the same set keeps its revision)."""
        ...


class SerialPublisher:
    """Recompute-and-publish under a lock."""

    def __init__(self, publisher: SetPublisher, *, on_failure: Callable[[], None] = lambda: None) -> None:
        self._publisher = publisher
        self._on_failure = on_failure
        self._lock = asyncio.Lock()

    async def publish(self, index: PolicyIndex, *, exclude: str | None = None) -> tuple[Effective, int]:
        """Publish the set computed from ``index`` now; its revision (``on_failure`` is called on error)."""
        async with self._lock:
            effective = effective_set(index, exclude=exclude)
            try:
                revision = await self._publisher.publish(effective.policy_set)
            except ArgoAIError:
                self._on_failure()
                raise
        return effective, revision


class OnLoop:
    """A SetPublisher that runs another one's publish on that one's event loop (Kopf has its own loop)."""

    def __init__(self, publisher: SetPublisher, loop: asyncio.AbstractEventLoop) -> None:
        self._publisher = publisher
        self._loop = loop

    async def publish(self, policy_set: PolicySet) -> int:
        """Publish on the other loop and wait for it here; cancelling this wait cancels the publish."""
        future = asyncio.run_coroutine_threadsafe(self._publisher.publish(policy_set), self._loop)
        return await asyncio.wrap_future(future)
