"""Metric labels stay bounded although GitHub's headers are not covered by the signature."""

from __future__ import annotations

from argoai_gateway.metrics import MAX_EVENT_LABELS, GatewayMetrics


def test_unknown_event_names_are_capped_then_counted_as_other() -> None:
    """After MAX_EVENT_LABELS distinct unknown events, further new names share the label 'other'."""
    metrics = GatewayMetrics()
    labels = [metrics.event_label(f"made_up_{n}") for n in range(MAX_EVENT_LABELS + 5)]
    assert labels[:MAX_EVENT_LABELS] == [f"made_up_{n}" for n in range(MAX_EVENT_LABELS)]
    assert set(labels[MAX_EVENT_LABELS:]) == {"other"}
    assert metrics.event_label("made_up_3") == "made_up_3"


def test_events_argoai_uses_keep_their_label_when_the_cap_is_reached() -> None:
    """pull_request and ping are always labelled by name, even once the cap is used up."""
    metrics = GatewayMetrics()
    for n in range(MAX_EVENT_LABELS + 1):
        metrics.event_label(f"noise_{n}")
    assert metrics.event_label("pull_request") == "pull_request"
    assert metrics.event_label("ping") == "ping"
