"""The chart's PrometheusRule: every expression parses as PromQL, names only metrics and labels that exist,
and every alert links to its section of docs/runbook.md.

Metrics that exist: what ArgoAI's Python source defines with prometheus_client (read from the source, so a
metric added anywhere counts), the operator's metrics (below) and an allow-list of exporters the docs name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

import promql_parser
import pytest
from prometheus_client import REGISTRY

from argoai_gateway.metrics import GatewayMetrics
from argoai_reviewer import metrics as reviewer_metrics
from kube.chartrender import ROOT, by_kind, merged, render, values

SOURCES = [ROOT / d for d in ("core", "gateway", "reviewer", "operator", "cli")]
RUNBOOK = ROOT / "docs" / "runbook.md"

# Labels Prometheus adds to every series scraped through the chart's ServiceMonitors.
TARGET_LABELS = {"namespace", "pod", "service", "job", "instance", "endpoint", "container"}

# `argoai operator --metrics-port` (the operator's /metrics, scraped by the chart's ServiceMonitor).
OPERATOR_METRICS = {
    "argoai_operator_reconciles_total": {"outcome"},
    "argoai_operator_policies": {"condition"},
    "argoai_operator_publish_failures_total": set(),
}

# Exporters docs/kubernetes.md and docs/runbook.md tell the user to run.
EXTERNAL_METRICS = {
    # prometheus-nats-exporter with -jsz=all -prefix=nats: the official nats chart's promExporter and the
    # in-chart NATS's sidecar (consumer and stream metrics carry these labels, among others).
    "nats_consumer_num_pending": {"stream_name", "consumer_name"},
    "nats_stream_first_seq": {"stream_name"},
    "nats_stream_total_messages": {"stream_name"},
    # kube-state-metrics (kube-prometheus-stack).
    "kube_deployment_status_replicas_available": {"namespace", "deployment"},
}

# What the brief for these alerts asked to cover, one alert each.
EXPECTED_ALERTS = {
    "ArgoAIWebhooks5xx",
    "ArgoAIGatewayNotReady",
    "ArgoAIReviewQueueBacklog",
    "ArgoAIReviewJobStuck",
    "ArgoAIDeadLetters",
    "ArgoAIReviewFailureRatio",
    "ArgoAILLMErrorRatio",
    "ArgoAIGitHubRateLimitLow",
    "ArgoAIPolicyInvalid",
    "ArgoAITokenBudgetExhausted",
    "ArgoAICircuitOpen",
}

METRIC_CLASSES = {"Counter", "Gauge", "Histogram", "Summary"}


@dataclass
class Defined:
    """A metric defined in the source: its class and label names."""

    kind: str
    labels: set[str] = field(default_factory=set)


def _strings(node: ast.expr | None) -> set[str]:
    if isinstance(node, ast.List | ast.Tuple):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


def defined_metrics() -> dict[str, Defined]:
    """Every prometheus_client metric constructed in ArgoAI's packages: name → class and labels."""
    found: dict[str, Defined] = {}
    for source in SOURCES:
        for path in source.rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            # alias in this module -> prometheus_client class
            imported = {
                alias.asname or alias.name: alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
                for alias in node.names
                if alias.name in METRIC_CLASSES
            }
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                if node.func.id not in imported:
                    continue
                kwargs = {k.arg: k.value for k in node.keywords if k.arg}
                name_node = node.args[0] if node.args else kwargs.get("name")
                if not (isinstance(name_node, ast.Constant) and isinstance(name_node.value, str)):
                    continue
                labels_node = node.args[2] if len(node.args) > 2 else kwargs.get("labelnames")
                found[name_node.value] = Defined(imported[node.func.id], _strings(labels_node))
    return found


def exported_series() -> dict[str, set[str]]:
    """Series names Prometheus sees from ArgoAI → their label names (counters _total, histograms _bucket…)."""
    series: dict[str, set[str]] = {}
    for name, metric in defined_metrics().items():
        if metric.kind == "Counter":
            base = name.removesuffix("_total")
            series[f"{base}_total"] = metric.labels
            series[f"{base}_created"] = metric.labels
        elif metric.kind == "Histogram":
            series[f"{name}_bucket"] = metric.labels | {"le"}
            series[f"{name}_sum"] = metric.labels
            series[f"{name}_count"] = metric.labels
        elif metric.kind == "Summary":
            series[name] = metric.labels | {"quantile"}
            series[f"{name}_sum"] = metric.labels
            series[f"{name}_count"] = metric.labels
        else:
            series[name] = metric.labels
    for name, labels in OPERATOR_METRICS.items():
        series.setdefault(name, labels)
    return {name: labels | TARGET_LABELS for name, labels in series.items()}


def known_series() -> dict[str, set[str]]:
    return {**exported_series(), **EXTERNAL_METRICS}


def rules(vals: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The alerting rules the chart renders with prometheusRule.enabled."""
    base = merged(values("minimal"), {"prometheusRule": {"enabled": True}})
    (rule,) = by_kind(render(merged(base, vals or {})), "PrometheusRule")
    found: list[dict[str, Any]] = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    return found


def selectors(expr: promql_parser.Expr) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(expr, visit)
    return found


def matcher_labels(selector: promql_parser.VectorSelector) -> set[str]:
    return {m.name for m in selector.matchers.matchers if m.name != "__name__"}


def test_source_scan_finds_every_metric_the_processes_register() -> None:
    """The source scan sees every argoai_* family the gateway and reviewer register at run time."""
    assert reviewer_metrics.REVIEWS is not None  # importing the module registers the reviewer's metrics
    families = [*GatewayMetrics().registry.collect(), *REGISTRY.collect()]
    registered = {f.name for f in families if f.name.startswith("argoai_")}
    assert registered
    scanned = {name.removesuffix("_total") for name in defined_metrics()}
    assert registered <= scanned, registered - scanned


def test_the_rule_covers_each_alert_asked_for() -> None:
    """One alert per topic: 5xx, gateway, queue lag, oldest job, dead letters, failures, LLM, rate, policy,
    budget, open circuit breaker."""
    assert {r["alert"] for r in rules()} == EXPECTED_ALERTS


@pytest.mark.parametrize("alert", sorted(EXPECTED_ALERTS))
def test_each_expression_parses_and_names_only_existing_metrics_and_labels(alert: str) -> None:
    """Valid PromQL; each metric exists, and each label it matches or groups by is one the metric has."""
    (rule,) = [r for r in rules() if r["alert"] == alert]
    expr = promql_parser.parse(rule["expr"])
    known = known_series()
    used = selectors(expr)
    assert used
    for selector in used:
        assert selector.name in known, f"{alert}: {selector.name} is exported by nothing allowed"
        assert matcher_labels(selector) <= known[selector.name], (alert, selector.name)

    def grouping(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            inner = {label for s in selectors(node.expr) for label in known[s.name]}
            assert set(node.modifier.labels) <= inner, (alert, node.modifier.labels)

    promql_parser.walk(expr, grouping)


def test_a_broken_or_unknown_expression_is_caught() -> None:
    """The checks above can fail: a syntax error raises, an unknown metric is not among the known series."""
    with pytest.raises(ValueError, match="parenthesis"):
        promql_parser.parse("sum(rate(argoai_reviews_total[5m])")
    (selector,) = selectors(promql_parser.parse("rate(argoai_no_such_metric_total[5m])"))
    assert selector.name not in known_series()


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_to_its_runbook_section() -> None:
    """runbook_url is <runbookBaseUrl>#<alert>, and docs/runbook.md has exactly one section per alert."""
    headings = re.findall(r"^## (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    anchors = {slug(h): h for h in headings}
    alerts = rules({"prometheusRule": {"runbookBaseUrl": "https://example.com/runbook"}})
    for rule in alerts:
        base, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert base == "https://example.com/runbook"
        assert anchors.get(anchor) == rule["alert"], rule["alert"]
    assert {h for h in headings if h.startswith("ArgoAI")} == {r["alert"] for r in alerts}


def test_thresholds_and_names_follow_the_values() -> None:
    """Thresholds come from prometheusRule.*; stream, consumer, namespace and deployment from the release."""
    by_alert = {
        r["alert"]: r["expr"]
        for r in rules(
            {
                "nats": {"prefix": "PROD"},
                "prometheusRule": {
                    "queueLagThreshold": 7,
                    "oldestJobMinutes": 45,
                    "githubRateLimitRemaining": 99,
                },
            }
        )
    }
    assert 'consumer_name="PROD_REVIEWERS"' in by_alert["ArgoAIReviewQueueBacklog"]
    assert by_alert["ArgoAIReviewQueueBacklog"].rstrip().endswith("> 7")
    assert "[45m]" in by_alert["ArgoAIReviewJobStuck"]
    assert 'stream_name="PROD_JOBS"' in by_alert["ArgoAIReviewJobStuck"]
    assert by_alert["ArgoAIGitHubRateLimitLow"].rstrip().endswith("< 99")
    assert 'deployment="argoai-gateway"' in by_alert["ArgoAIGatewayNotReady"]
    assert 'namespace="argoai"' in by_alert["ArgoAIWebhooks5xx"]


def test_the_runbook_names_its_metric_sources() -> None:
    """The runbook says which alerts need the NATS exporter and kube-state-metrics, naming the metrics."""
    text = RUNBOOK.read_text()
    for name in ("prometheus-nats-exporter", "kube-state-metrics", *EXTERNAL_METRICS):
        assert name in text, name
