"""The operator's own settings, built once by the entrypoint and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from argoai_core.settings import NatsSettings


@dataclass(frozen=True)
class OperatorConfig:
    """Where to publish, how often to re-check, and how the process serves and stops.

    The Kopf run options (namespaces, peering, priority) live in :class:`argoai_operator.main.RunOptions`.
    """

    nats: NatsSettings
    resync_seconds: float = 60.0
    watch_timeout_seconds: int = 300
    request_timeout_seconds: float = 30.0
    # /healthz, /readyz and /metrics; port 0 picks a free one (tests).
    metrics_host: str = "0.0.0.0"
    metrics_port: int = 9090
    # On SIGTERM/SIGINT, how long running handlers get before the process exits anyway.
    grace_period_seconds: float = 10.0
    # How often NATS and the Kubernetes API are probed, and how long one probe may take.
    probe_interval_seconds: float = 2.0
    probe_timeout_seconds: float = 3.0
    # Bound on one publish of the policy set (each NATS request has its own shorter timeout).
    publish_timeout_seconds: float = 10.0
