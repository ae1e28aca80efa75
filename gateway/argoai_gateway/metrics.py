"""Prometheus metrics of the gateway.

Each :class:`GatewayMetrics` owns its CollectorRegistry instead of registering on the process-wide default:
the registry lives and dies with one app instance, so several apps in one process (the test suite, ``argoai
dev`` with more components later) neither collide on registration nor read each other's counts.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from argoai_core.streams import PUBLISHED_EVENTS

# Outcomes of one delivery, the ``outcome`` label of argoai_gateway_deliveries_total.
ACCEPTED = "accepted"
DUPLICATE = "duplicate"
IGNORED = "ignored"
PING = "ping"
REJECTED = "rejected"
UNAVAILABLE = "unavailable"

# GitHub has about 70 event types; headers are not covered by the signature, so a replayed signed body with
# made-up X-GitHub-Event values must not grow the number of series without bound.
MAX_EVENT_LABELS = 100
OTHER_EVENT = "other"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SIZE_BUCKETS = (1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 33554432)


class GatewayMetrics:
    """Counters and histograms of one gateway app, in a registry of its own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._event_labels: set[str] = set()
        self.deliveries = Counter(
            "argoai_gateway_deliveries",
            "Webhook deliveries received, by GitHub event and outcome.",
            ("event", "outcome"),
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "argoai_gateway_request_seconds",
            "Time from the request's arrival to the answer of POST /webhooks/github.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "argoai_gateway_publish_seconds",
            "Time to store one delivery in JetStream, until its PubAck.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.payload_bytes = Histogram(
            "argoai_gateway_payload_bytes",
            "Size of verified webhook bodies.",
            buckets=_SIZE_BUCKETS,
            registry=self.registry,
        )

    def event_label(self, event: str) -> str:
        """``event`` as a metric label: itself for the events ArgoAI uses and the first MAX_EVENT_LABELS
        other names seen, then ``other``."""
        if event in PUBLISHED_EVENTS or event == "ping" or event in self._event_labels:
            return event
        if len(self._event_labels) >= MAX_EVENT_LABELS:
            return OTHER_EVENT
        self._event_labels.add(event)
        return event

    def delivery(self, event: str, outcome: str) -> None:
        """Count one delivery of ``event`` ending in ``outcome``."""
        self.deliveries.labels(event, outcome).inc()

    def count(self, event: str, outcome: str) -> float:
        """How many deliveries of ``event`` ended in ``outcome`` so far."""
        value = self.registry.get_sample_value(
            "argoai_gateway_deliveries_total", {"event": event, "outcome": outcome}
        )
        return value or 0.0

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
