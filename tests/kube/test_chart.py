"""The Helm chart: renders and lints with several values files; manifests validate; values are checked."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client import REGISTRY

from argoai_gateway.metrics import GatewayMetrics
from argoai_reviewer import metrics as reviewer_metrics
from kube.crdcheck import validate_custom_resource

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "argoai"
VALUES = Path(__file__).parent / "values"
KUBE_VERSION = "1.30.0"
VALUE_FILES = sorted(path.stem for path in VALUES.glob("*.yaml"))

# Kinds kubernetes-validate cannot know: checked for the structure their controllers need.
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {"type": "object", "required": ["matchLabels"]},
                "namespaceSelector": {"type": "object"},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port", "path"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "interval": {"type": "string", "pattern": "^[0-9]+(ms|s|m|h)$"},
                        },
                    },
                },
            },
        },
    },
}
SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "additionalProperties": False,
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"]},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer"},
                "cooldownPeriod": {"type": "integer"},
                "triggers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"const": "nats-jetstream"},
                            "metadata": {
                                "type": "object",
                                "required": ["natsServerMonitoringEndpoint", "account", "stream", "consumer"],
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def values(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((VALUES / f"{name}.yaml").read_text())
    return loaded


@cache
def chart() -> helm.Chart:
    return helm.Chart.load(str(CHART))


def render(vals: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = chart().render(vals, name="argoai", namespace="argoai", is_install=True)
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name)


def chart_crds() -> dict[str, dict[str, Any]]:
    crds = {}
    for entry in chart().crds:
        for doc in yaml.safe_load_all(entry["data"]):
            if doc:
                crds[f"{doc['spec']['group']}/{doc['spec']['names']['kind']}"] = doc
    return crds


@pytest.mark.parametrize("name", VALUE_FILES)
def test_chart_lints_strictly(name: str) -> None:
    """helm lint --strict finds nothing with each values file."""
    report = helm.lint(str(CHART), values(name), strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("name", VALUE_FILES)
def test_every_manifest_validates(name: str) -> None:
    """Built-in kinds pass kubernetes-validate --strict; peerings their CRD; KEDA/Prometheus a shape check."""
    docs = render(values(name))
    crds = chart_crds()
    custom = 0
    for doc in docs:
        group = doc["apiVersion"].split("/")[0]
        if doc["kind"] == "ServiceMonitor":
            jsonschema.validate(doc, SERVICE_MONITOR)
        elif doc["kind"] == "ScaledObject":
            jsonschema.validate(doc, SCALED_OBJECT)
        elif f"{group}/{doc['kind']}" in crds:
            assert validate_custom_resource(doc, crds[f"{group}/{doc['kind']}"]) == []
            custom += 1
        else:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    for crd in crds.values():
        kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
    assert custom == len(by_kind(docs, "ClusterKopfPeering")) + len(by_kind(docs, "KopfPeering"))


def test_full_values_turn_every_feature_on() -> None:
    """The all-features file renders ingress, KEDA, policies, monitors, dashboard, PDBs and the CronJob."""
    kinds = {doc["kind"] for doc in render(values("full"))}
    assert {
        "Ingress",
        "ScaledObject",
        "NetworkPolicy",
        "ServiceMonitor",
        "ConfigMap",
        "PodDisruptionBudget",
        "CronJob",
        "ClusterKopfPeering",
    } <= kinds
    assert "HorizontalPodAutoscaler" not in kinds


def test_minimal_values_keep_optional_features_off() -> None:
    """Defaults: HPA for reviewers, PDBs for gateway and reviewer, nothing optional, no resources set."""
    docs = render(values("minimal"))
    kinds = {doc["kind"] for doc in docs}
    assert not kinds & {"Ingress", "ScaledObject", "NetworkPolicy", "ServiceMonitor", "ConfigMap", "CronJob"}
    assert one(docs, "HorizontalPodAutoscaler", "argoai-reviewer")["spec"]["maxReplicas"] == 10
    assert {pdb["metadata"]["name"] for pdb in by_kind(docs, "PodDisruptionBudget")} == {
        "argoai-gateway",
        "argoai-reviewer",
    }
    for deployment in by_kind(docs, "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "resources" not in container


@pytest.mark.parametrize("name", VALUE_FILES)
def test_pods_run_non_root_read_only(name: str) -> None:
    """Every pod runs non-root with a read-only root filesystem, no privilege escalation, no capabilities."""
    docs = render(values(name))
    pods = [d["spec"]["template"]["spec"] for d in by_kind(docs, "Deployment")]
    pods += [d["spec"]["jobTemplate"]["spec"]["template"]["spec"] for d in by_kind(docs, "CronJob")]
    assert pods
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"] == {"drop": ["ALL"]}


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def test_secrets_are_mounted_files_referenced_by_env() -> None:
    """Existing Secrets are mounted read-only and reached via ARGOAI_*_FILE; no secret appears as a value."""
    docs = render(values("full"))
    reviewer = one(docs, "Deployment", "argoai-reviewer")
    env = env_of(reviewer)
    assert env["ARGOAI_GITHUB_PRIVATE_KEY_FILE"] == "/var/run/secrets/argoai/github-app/private-key.pem"
    assert env["ARGOAI_LLM_API_KEY_FILE"] == "/var/run/secrets/argoai/llm/api-key"
    assert env["ARGOAI_REDIS_URL"] == {"secretKeyRef": {"name": "argoai-redis", "key": "url"}}
    volumes = {v["name"]: v for v in reviewer["spec"]["template"]["spec"]["volumes"]}
    assert volumes["github-app"]["secret"]["secretName"] == "argoai-github-app"
    assert volumes["llm"]["secret"]["secretName"] == "argoai-llm"
    gateway = one(docs, "Deployment", "argoai-gateway")
    assert (
        env_of(gateway)["ARGOAI_GITHUB_WEBHOOK_SECRET_FILE"]
        == "/var/run/secrets/argoai/webhook/webhook-secret"
    )
    mounts = gateway["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "webhook", "mountPath": "/var/run/secrets/argoai/webhook", "readOnly": True} in mounts
    assert by_kind(docs, "Secret") == []


def test_probes_and_ports() -> None:
    """Gateway probes /healthz and /readyz on its HTTP port; reviewer on 9090; operator on Kopf's liveness."""
    docs = render(values("minimal"))
    gateway = one(docs, "Deployment", "argoai-gateway")["spec"]["template"]["spec"]["containers"][0]
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    reviewer = one(docs, "Deployment", "argoai-reviewer")["spec"]["template"]["spec"]["containers"][0]
    assert reviewer["args"] == ["reviewer", "--metrics-port", "9090"]
    assert reviewer["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    operator = one(docs, "Deployment", "argoai-operator")["spec"]["template"]["spec"]["containers"][0]
    assert operator["args"][:3] == ["operator", "--liveness", "http://0.0.0.0:8080/healthz"]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "liveness"}


def test_keda_scales_on_the_review_consumer_lag() -> None:
    """With KEDA the reviewer has no fixed replicas and scales on <PREFIX>_REVIEWERS of <PREFIX>_JOBS."""
    docs = render(values("full"))
    assert "replicas" not in one(docs, "Deployment", "argoai-reviewer")["spec"]
    trigger = one(docs, "ScaledObject", "argoai-reviewer")["spec"]["triggers"][0]["metadata"]
    assert (trigger["stream"], trigger["consumer"]) == ("PROD_JOBS", "PROD_REVIEWERS")


def test_cluster_wide_operator_rbac_is_least_privilege() -> None:
    """Cluster-wide: exactly the verbs the operator uses, on exactly its resources."""
    docs = render(values("minimal"))
    rules = one(docs, "ClusterRole", "argoai-operator")["rules"]
    granted = {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert granted == {
        *{("argoai.dev", "reviewpolicies", v) for v in ("get", "list", "watch", "patch")},
        ("argoai.dev", "reviewpolicies/status", "get"),
        ("argoai.dev", "reviewpolicies/status", "patch"),
        ("", "events", "create"),
        *{("kopf.dev", "clusterkopfpeerings", v) for v in ("get", "list", "watch", "patch")},
        ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
        ("apiextensions.k8s.io", "customresourcedefinitions", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
    }
    binding = one(docs, "ClusterRoleBinding", "argoai-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "argoai-operator", "namespace": "argoai"}
    ]
    assert one(docs, "ClusterKopfPeering", "argoai")["apiVersion"] == "kopf.dev/v1"
    for deployment in by_kind(docs, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod.get("automountServiceAccountToken") is (
            None if "operator" in pod["serviceAccountName"] else False
        )


def test_namespaced_operator_has_no_cluster_rights() -> None:
    """Watching listed namespaces: a Role, RoleBinding and KopfPeering in each, and no cluster-scoped RBAC."""
    docs = render(values("namespaced"))
    assert by_kind(docs, "ClusterRole") == []
    assert by_kind(docs, "ClusterRoleBinding") == []
    assert {r["metadata"]["namespace"] for r in by_kind(docs, "Role")} == {"team-a", "team-b"}
    assert {p["metadata"]["namespace"] for p in by_kind(docs, "KopfPeering")} == {"team-a", "team-b"}
    args = one(docs, "Deployment", "argoai-operator")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-4:] == ["--namespace", "team-a", "--namespace", "team-b"]
    assert one(docs, "Deployment", "argoai-reviewer")["spec"]["replicas"] == 3


def test_dashboard_configmap_carries_the_dashboard_file() -> None:
    """The dashboard ConfigMap holds dashboards/argoai.json verbatim, labelled for the Grafana sidecar."""
    config_map = one(render(values("full")), "ConfigMap", "argoai-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(config_map["data"]["argoai.json"])
    assert shipped == json.loads((CHART / "dashboards" / "argoai.json").read_text())


def test_dashboard_queries_only_metrics_that_exist() -> None:
    """Every argoai_* series the dashboard queries is exported by the gateway or the reviewer."""
    assert reviewer_metrics.REVIEWS is not None  # importing the module registers its metrics
    families = [*GatewayMetrics().registry.collect(), *REGISTRY.collect()]
    exported = {
        family.name + suffix for family in families for suffix in ("", "_total", "_bucket", "_count", "_sum")
    }
    dashboard = (CHART / "dashboards" / "argoai.json").read_text()
    queried = set(re.findall(r"\b(argoai_[a-z_]+)", dashboard))
    assert queried
    assert queried <= exported, queried - exported
    panels = json.loads(dashboard)["panels"]
    titles = " ".join(p["title"] for p in panels).lower()
    for topic in (
        "webhook",
        "latency",
        "pending",
        "reviews per minute",
        "duration",
        "tokens",
        "cost",
        "rate limit",
        "errors",
    ):
        assert topic in titles


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"reviewer": {"autoscaling": {"mode": "cpu"}}}, "mode"),
        ({"nats": {"url": "http://nats:4222"}}, "url"),
        ({"llm": {"provider": "gpt"}}, "provider"),
        ({"gateway": {"replicas": 0}}, "replicas"),
        ({"gatway": {"replicas": 2}}, "gatway"),
        ({"logLevel": "TRACE"}, "logLevel"),
        ({"operator": {"watchNamespaces": ["Team_A"]}}, "watchNamespaces"),
    ],
)
def test_values_violating_the_schema_are_rejected(override: dict[str, Any], message: str) -> None:
    """values.schema.json refuses wrong types, enums, patterns and unknown keys before anything renders."""
    merged = {**values("minimal"), **override}
    with pytest.raises(helm.HelmValuesError, match=message):
        render(merged)


def test_schema_describes_every_value() -> None:
    """Every key of values.yaml is in values.schema.json with a description."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())

    def check(node: dict[str, Any], data: dict[str, Any], path: str) -> None:
        for key, value in data.items():
            assert key in node["properties"], f"{path}{key} missing from the schema"
            sub = node["properties"][key]
            assert sub.get("description"), f"{path}{key} has no description"
            if isinstance(value, dict) and "properties" in sub:
                check(sub, value, f"{path}{key}.")

    check(schema, defaults, "")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"nats": {"url": ""}}, "nats.url is required"),
        ({"github": {"webhookSecret": {"name": ""}}}, "github.webhookSecret.name is required"),
        ({"operator": {"standalone": True, "replicas": 2}}, "needs peering"),
        ({"gateway": {"ingress": {"enabled": True}}}, "gateway.ingress.host is required"),
    ],
)
def test_missing_or_unsafe_values_fail_the_render(override: dict[str, Any], message: str) -> None:
    """Required values and unsafe combinations stop the install with a message saying what to set."""
    merged = {**values("minimal"), **override}
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(merged)
