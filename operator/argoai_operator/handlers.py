"""Kopf handlers for ReviewPolicy: thin wrappers around ``reconcile``, registered on a registry per operator.

Handlers return None on purpose: Kopf would store a return value under ``status.<handler>``; the status is
patched explicitly instead. Every handler is idempotent (a publish of an unchanged set keeps its revision,
the status patch holds only what changed), because Kopf may call one twice for a single change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import kopf

from argoai_core.policy_set import policy_key
from argoai_operator.config import OperatorConfig
from argoai_operator.effective import PolicyIndex, index_entry
from argoai_operator.errors import kopf_errors
from argoai_operator.login import KubeLogin
from argoai_operator.metrics import OperatorMetrics
from argoai_operator.publishing import SerialPublisher
from argoai_operator.reconcile import Outcome, forget, reconcile

GROUP, VERSION, PLURAL = "argoai.dev", "v1alpha1", "reviewpolicies"
FINALIZER = "argoai.dev/policy-set"


class _RetryForever:
    """Kopf's API retry delays, then every 30 s forever: an unreachable API is waited for, never fatal.

    With Kopf's finite default, an API server unreachable for about a minute ends the operator with a
    traceback (the resource observer gives up); the process must instead wait, report not-ready and go on.
    """

    def __iter__(self) -> Iterator[float]:
        yield from (1, 1, 2, 3, 5, 8, 13, 21)
        while True:
            yield 30


def configure(settings: kopf.OperatorSettings, config: OperatorConfig) -> None:
    """Kopf settings: our own finalizer and annotations, no status of Kopf's, Events only for warnings."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="argoai.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="argoai.dev", key="last-handled-configuration"
    )
    # Handler log lines would otherwise become Events too; ours are posted explicitly.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = config.watch_timeout_seconds
    settings.networking.request_timeout = config.request_timeout_seconds
    settings.networking.error_backoffs = _RetryForever()
    # The process stops itself within its grace period (main.py); Kopf must not SIGKILL it earlier.
    settings.process.ultimate_exiting_timeout = None


class InFlight:
    """Counts the handlers running now, so that a shutdown waits for them and for nothing else."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the enclosed handler as running."""
        self._count += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._count -= 1
            if self._count == 0:
                self._idle.set()

    async def idle(self) -> None:
        """Return once no handler runs."""
        await self._idle.wait()


@dataclass(frozen=True)
class Services:
    """What the handlers use, built by ``main.serve``."""

    publisher: SerialPublisher
    metrics: OperatorMetrics
    login: KubeLogin
    in_flight: InFlight = field(default_factory=InFlight)


def _apply(body: kopf.Body, patch: kopf.Patch, outcome: Outcome) -> None:
    if outcome.status:
        patch.status.update(outcome.status)
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def build_registry(config: OperatorConfig, services: Services) -> kopf.OperatorRegistry:
    """A registry with every ArgoAI operator handler and its login (one per operator: tests run several).

    A plain ``kopf.OperatorRegistry`` has no login handler at all (Kopf adds its defaults only to
    ``SmartOperatorRegistry``): the one here reads the credentials :func:`login.find_login` found.
    """
    registry = kopf.OperatorRegistry()
    metrics = services.metrics

    @kopf.on.login(registry=registry, id="login")
    async def login(settings: kopf.OperatorSettings, **_: Any) -> kopf.ConnectionInfo:
        return services.login.connection_info(trust_env=settings.networking.trust_env)

    # Kopf passes an index to handlers under its id; closures need an explicit one.
    @kopf.index(GROUP, VERSION, PLURAL, registry=registry, id="policies")
    def policies(
        namespace: str | None, name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any
    ) -> dict[str, dict[str, Any]]:
        return index_entry(namespace, name, spec, meta)

    async def _reconcile(body: kopf.Body, patch: kopf.Patch, policies: PolicyIndex, **_: Any) -> None:
        key = policy_key(body.metadata.namespace, body.metadata.name or "")
        try:
            with kopf_errors():
                outcome = await reconcile(
                    services.publisher,
                    policies,
                    key=key,
                    generation=body.metadata.get("generation"),
                    spec=body.spec,
                    status=body.status,
                )
        except Exception:  # counted, then re-raised: Kopf logs and retries it
            metrics.failed()
            raise
        _apply(body, patch, outcome)
        metrics.reconciled(key, outcome.condition)

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry, id="applied")
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="applied")
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="applied")
    async def applied(**kwargs: Any) -> None:
        with services.in_flight.track():
            await _reconcile(**kwargs)

    # Periodic re-reconcile: refreshes conflicts and revision in every status, and republishes after a
    # replica takes over or a deletion happened while no operator ran (an unchanged set is a no-op).
    @kopf.timer(
        GROUP,
        VERSION,
        PLURAL,
        registry=registry,
        interval=config.resync_seconds,
        initial_delay=config.resync_seconds,
    )
    async def resync(**kwargs: Any) -> None:
        with services.in_flight.track():
            await _reconcile(**kwargs)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="deleted")
    async def deleted(body: kopf.Body, **kwargs: Any) -> None:
        index: PolicyIndex = kwargs["policies"]  # Kopf passes each index by its indexer's name
        key = policy_key(body.metadata.namespace, body.metadata.name or "")
        with services.in_flight.track(), kopf_errors():
            revision = await forget(services.publisher, index, key=key)
        metrics.forgotten(key)
        # kopf.info() obeys posting.level (WARNING here); kopf.event() always posts.
        kopf.event(
            body,
            type="Normal",
            reason="Removed",
            message=f"removed from the policy set in revision {revision}",
        )

    return registry
