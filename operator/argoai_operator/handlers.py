"""Kopf handlers for ReviewPolicy: thin wrappers around ``reconcile``, registered on a registry per operator.

Handlers return None on purpose: Kopf would store a return value under ``status.<handler>``; the status is
patched explicitly instead. Every handler is idempotent (a publish of an unchanged set keeps its revision,
the status patch holds only what changed), because Kopf may call one twice for a single change.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from argoai_core.adapters.policy_kv import PolicyPublisher
from argoai_core.policy_set import policy_key
from argoai_operator.config import OperatorConfig
from argoai_operator.effective import PolicyIndex, index_entry
from argoai_operator.errors import kopf_errors
from argoai_operator.publishing import SerialPublisher
from argoai_operator.reconcile import Outcome, forget, reconcile

GROUP, VERSION, PLURAL = "argoai.dev", "v1alpha1", "reviewpolicies"
FINALIZER = "argoai.dev/policy-set"


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


def _apply(body: kopf.Body, patch: kopf.Patch, outcome: Outcome) -> None:
    if outcome.status:
        patch.status.update(outcome.status)
    for event in outcome.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


def build_registry(config: OperatorConfig) -> kopf.OperatorRegistry:
    """A registry with every ArgoAI operator handler (one per operator: tests run several)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry, id="startup")
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure(settings, config)
        with kopf_errors():
            memo.kv = await PolicyPublisher.connect(config.nats)
        memo.publisher = SerialPublisher(memo.kv)

    @kopf.on.cleanup(registry=registry, id="cleanup")
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        if "kv" in memo:
            await memo.kv.close()

    # Kopf passes an index to handlers under its id; closures need an explicit one.
    @kopf.index(GROUP, VERSION, PLURAL, registry=registry, id="policies")
    def policies(
        namespace: str | None, name: str, spec: kopf.Spec, meta: kopf.Meta, **_: Any
    ) -> dict[str, dict[str, Any]]:
        return index_entry(namespace, name, spec, meta)

    async def _reconcile(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, policies: PolicyIndex, **_: Any
    ) -> None:
        with kopf_errors():
            outcome = await reconcile(
                memo.publisher,
                policies,
                key=policy_key(body.metadata.namespace, body.metadata.name or ""),
                generation=body.metadata.get("generation"),
                spec=body.spec,
                status=body.status,
            )
        _apply(body, patch, outcome)

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry, id="applied")
    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry, id="applied")
    @kopf.on.update(GROUP, VERSION, PLURAL, registry=registry, id="applied")
    async def applied(**kwargs: Any) -> None:
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
        await _reconcile(**kwargs)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="deleted")
    async def deleted(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        index: PolicyIndex = kwargs["policies"]  # Kopf passes each index by its indexer's name
        with kopf_errors():
            revision = await forget(
                memo.publisher, index, key=policy_key(body.metadata.namespace, body.metadata.name or "")
            )
        # kopf.info() obeys posting.level (WARNING here); kopf.event() always posts.
        kopf.event(
            body,
            type="Normal",
            reason="Removed",
            message=f"removed from the policy set in revision {revision}",
        )

    return registry
