"""Prometheus metrics of the operator (served on ``/metrics`` of its HTTP port).

- ``argoai_operator_reconciles_total{outcome}``: reconciliations of a ReviewPolicy (create, update, resume,
  periodic resync): ``ready`` (published), ``invalid`` (spec refused), ``error`` (failed; Kopf retries);
- ``argoai_operator_policies{condition}``: ReviewPolicy objects whose status this process last set to
  ``Ready`` or ``Invalid``;
- ``argoai_operator_publish_failures_total``: publishes of the effective set to NATS that failed.

The names are part of the chart's alert rules: do not rename them.
"""

from __future__ import annotations

import threading
from typing import Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

Condition = Literal["Ready", "Invalid"]
CONDITIONS: tuple[Condition, ...] = ("Ready", "Invalid")
OUTCOMES = ("ready", "invalid", "error")


class OperatorMetrics:
    """The operator's metrics on ``registry`` (one set per process; tests pass their own registry)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.reconciles = Counter(
            "argoai_operator_reconciles_total",
            "ReviewPolicy reconciliations, by outcome (ready, invalid, error)",
            ["outcome"],
            registry=registry,
        )
        self.policies = Gauge(
            "argoai_operator_policies",
            "ReviewPolicy objects currently in each condition (Ready, Invalid)",
            ["condition"],
            registry=registry,
        )
        self.publish_failures = Counter(
            "argoai_operator_publish_failures_total",
            "Publishes of the effective policy set to NATS that failed",
            registry=registry,
        )
        for outcome in OUTCOMES:  # exported at 0 from the start, so rate() and alerts see them
            self.reconciles.labels(outcome=outcome)
        for condition in CONDITIONS:
            self.policies.labels(condition=condition).set(0)
        # Kopf's handlers run on their own thread; the scrape reads from another.
        self._lock = threading.Lock()
        self._conditions: dict[str, Condition] = {}

    def reconciled(self, key: str, condition: Condition) -> None:
        """Policy ``key`` was reconciled and its status now says ``condition``."""
        self.reconciles.labels(outcome="ready" if condition == "Ready" else "invalid").inc()
        with self._lock:
            self._conditions[key] = condition
            self._refresh()

    def failed(self) -> None:
        """A reconciliation failed (its status is left as it was)."""
        self.reconciles.labels(outcome="error").inc()

    def forgotten(self, key: str) -> None:
        """Policy ``key`` was deleted."""
        with self._lock:
            self._conditions.pop(key, None)
            self._refresh()

    def publish_failed(self) -> None:
        """A publish of the effective set failed."""
        self.publish_failures.inc()

    def _refresh(self) -> None:
        for condition in CONDITIONS:
            count = sum(1 for value in self._conditions.values() if value == condition)
            self.policies.labels(condition=condition).set(count)
