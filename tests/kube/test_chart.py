"""The Helm chart: renders and lints with several values files; manifests validate; values are checked."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import jsonschema
import kubernetes_validate
import pytest
import redis
import yaml
from prometheus_client import REGISTRY

from argoai_cli.local_services import free_port, nats_server_binary, port_open
from argoai_core.adapters.jetstream import connect, ensure_streams
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_gateway.metrics import GatewayMetrics
from argoai_reviewer import metrics as reviewer_metrics
from kube.chartrender import (
    CHART,
    ROOT,
    VALUES,
    by_kind,
    chart,
    containers,
    env_of,
    merged,
    one,
    render,
    values,
)
from kube.crdcheck import validate_custom_resource

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
                                "required": [
                                    "natsServerMonitoringEndpoint",
                                    "account",
                                    "stream",
                                    "consumer",
                                    "lagThreshold",
                                ],
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "spec": {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["alert", "expr", "labels", "annotations"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "alert": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]*$"},
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": {"type": "string", "pattern": "^[0-9]+(s|m|h)$"},
                                        "labels": {
                                            "type": "object",
                                            "required": ["severity"],
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "required": ["summary", "description", "runbook_url"],
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}


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
        elif doc["kind"] == "PrometheusRule":
            jsonschema.validate(doc, PROMETHEUS_RULE)
        elif f"{group}/{doc['kind']}" in crds:
            assert validate_custom_resource(doc, crds[f"{group}/{doc['kind']}"]) == []
            custom += 1
        else:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    for crd in crds.values():
        kubernetes_validate.validate(crd, KUBE_VERSION, strict=True)
    assert custom == len(by_kind(docs, "ClusterKopfPeering")) + len(by_kind(docs, "KopfPeering"))


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every Deployment, StatefulSet and CronJob."""
    return [doc for doc in docs if doc["kind"] in ("Deployment", "StatefulSet", "CronJob")]


def pod_of(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    pod: dict[str, Any] = (
        spec["jobTemplate"]["spec"]["template"]["spec"]
        if doc["kind"] == "CronJob"
        else spec["template"]["spec"]
    )
    return pod


def test_one_command_install_runs_its_own_nats_and_redis() -> None:
    """Only the App and the webhook secret: NATS and Redis StatefulSets on volumes, used by all."""
    docs = render(values("minimal"))
    nats = one(docs, "StatefulSet", "argoai-nats")
    server, exporter = containers(nats)
    assert server["image"] == "nats:2.14.5-alpine"
    assert {p["containerPort"] for p in server["ports"]} == {4222, 8222}
    assert exporter["image"].startswith("natsio/prometheus-nats-exporter:")
    assert "-jsz=all" in exporter["args"]
    assert "-prefix=nats" in exporter["args"]
    config = one(docs, "ConfigMap", "argoai-nats")["data"]["nats.conf"]
    assert "store_dir: /data/jetstream" in config
    assert "max_file_store: 10Gi" in config
    assert "http_port: 8222" in config
    assert nats["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert {"name": "data", "mountPath": "/data"} in server["volumeMounts"]

    redis = one(docs, "StatefulSet", "argoai-redis")
    (redis_server,) = containers(redis)
    assert redis_server["image"].startswith("redis:")
    args = redis_server["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert args[args.index("--dir") + 1] == "/data"
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    secret = one(docs, "Secret", "argoai-redis")
    password_ref = {"secretKeyRef": {"name": "argoai-redis", "key": "redis-password"}}
    assert env_of(redis)["REDIS_PASSWORD"] == password_ref
    assert re.fullmatch(r"[A-Za-z0-9]{40}", base64_decode(secret["data"]["redis-password"]))

    for name in ("argoai-gateway", "argoai-reviewer", "argoai-operator"):
        assert (
            env_of(one(docs, "Deployment", name))["ARGOAI_NATS_URL"] == "nats://argoai-nats.argoai.svc:4222"
        )
    reviewer = env_of(one(docs, "Deployment", "argoai-reviewer"))
    assert reviewer["REDIS_PASSWORD"] == password_ref
    assert reviewer["ARGOAI_REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@argoai-redis.argoai.svc:6379/0"
    names = [item["name"] for item in containers(one(docs, "Deployment", "argoai-reviewer"))[0]["env"]]
    # The kubelet expands $(VAR) only from variables defined earlier in the list.
    assert names.index("REDIS_PASSWORD") < names.index("ARGOAI_REDIS_URL")


def base64_decode(text: str) -> str:
    import base64

    return base64.b64decode(text).decode()


def test_a_named_redis_password_secret_is_used_and_none_is_generated() -> None:
    """redis.embedded.passwordSecret.name: the server and the clients read it; the chart creates no Secret."""
    docs = render(values("evaluation"))
    assert by_kind(docs, "Secret") == []
    ref = {"secretKeyRef": {"name": "my-redis-password", "key": "password"}}
    assert env_of(one(docs, "StatefulSet", "argoai-redis"))["REDIS_PASSWORD"] == ref
    assert env_of(one(docs, "CronJob", "argoai-redeliver"))["REDIS_PASSWORD"] == ref
    assert env_of(one(docs, "Deployment", "argoai-reviewer"))["REDIS_PASSWORD"] == ref


def test_external_nats_and_redis_replace_the_in_chart_ones() -> None:
    """nats.url and redis.existingSecret: no NATS or Redis objects; the URL comes whole from the Secret."""
    docs = render(values("full"))
    assert not [d for d in docs if d["metadata"]["name"] in ("argoai-nats", "argoai-redis")]
    assert by_kind(docs, "StatefulSet") == []
    env = env_of(one(docs, "Deployment", "argoai-reviewer"))
    assert env["ARGOAI_REDIS_URL"] == {"secretKeyRef": {"name": "argoai-redis", "key": "url"}}
    assert "REDIS_PASSWORD" not in env
    assert env["ARGOAI_NATS_URL"] == "nats://nats.nats.svc.cluster.local:4222"


@pytest.mark.parametrize(("name", "replicas"), [("minimal", "1"), ("full", "3"), ("namespaced", "1")])
def test_nats_replicas_reach_every_component(name: str, replicas: str) -> None:
    """ARGOAI_NATS_REPLICAS is nats.replicas on every ArgoAI container (1 with the in-chart NATS)."""
    docs = render(values(name))
    argoai = [w for w in workloads(docs) if w["metadata"]["name"] not in ("argoai-nats", "argoai-redis")]
    assert len(argoai) >= 3
    for workload in argoai:
        assert env_of(workload)["ARGOAI_NATS_REPLICAS"] == replicas, workload["metadata"]["name"]


def test_full_values_turn_every_feature_on() -> None:
    """The all-features file renders ingress, KEDA, policies, monitors, alerts, dashboard, PDBs, CronJob."""
    kinds = {doc["kind"] for doc in render(values("full"))}
    assert {
        "Ingress",
        "ScaledObject",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
        "PodDisruptionBudget",
        "CronJob",
        "ClusterKopfPeering",
    } <= kinds
    assert "HorizontalPodAutoscaler" not in kinds


def test_minimal_values_keep_optional_features_off() -> None:
    """Defaults: HPA for reviewers, PDBs for gateway and reviewer, nothing optional."""
    docs = render(values("minimal"))
    kinds = {doc["kind"] for doc in docs}
    assert not kinds & {
        "Ingress",
        "ScaledObject",
        "NetworkPolicy",
        "ServiceMonitor",
        "PrometheusRule",
        "CronJob",
    }
    assert one(docs, "HorizontalPodAutoscaler", "argoai-reviewer")["spec"]["maxReplicas"] == 10
    assert {pdb["metadata"]["name"] for pdb in by_kind(docs, "PodDisruptionBudget")} == {
        "argoai-gateway",
        "argoai-reviewer",
    }


@pytest.mark.parametrize("name", VALUE_FILES)
def test_every_container_requests_cpu_and_limits_memory(name: str) -> None:
    """Every container has a CPU request (what HPA utilisation is measured against) and a memory limit."""
    for workload in workloads(render(values(name))):
        for container in containers(workload):
            resources = container["resources"]
            assert resources["requests"]["cpu"], (workload["metadata"]["name"], container["name"])
            assert resources["limits"]["memory"], (workload["metadata"]["name"], container["name"])


def test_reviewer_default_resources_fit_the_bench_figures() -> None:
    """The reviewer requests 100m / 256Mi, limit 512Mi: above the 214 MB peak of 200 reviews in flight."""
    reviewer = containers(one(render(values("minimal")), "Deployment", "argoai-reviewer"))[0]
    assert reviewer["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "512Mi"},
    }
    hpa = one(render(values("minimal")), "HorizontalPodAutoscaler", "argoai-reviewer")
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


@pytest.mark.parametrize("name", VALUE_FILES)
def test_pods_run_non_root_read_only(name: str) -> None:
    """Every pod runs non-root with a read-only root filesystem, no privilege escalation, no capabilities."""
    pods = [pod_of(w) for w in workloads(render(values(name)))]
    assert pods
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            ctx = container["securityContext"]
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["allowPrivilegeEscalation"] is False
            assert ctx["capabilities"] == {"drop": ["ALL"]}


def test_secrets_are_mounted_files_referenced_by_env() -> None:
    """Existing Secrets are mounted read-only and reached via ARGOAI_*_FILE; no secret appears as a value."""
    docs = render(values("full"))
    reviewer = one(docs, "Deployment", "argoai-reviewer")
    env = env_of(reviewer)
    assert env["ARGOAI_GITHUB_PRIVATE_KEY_FILE"] == "/var/run/secrets/argoai/github-app/private-key.pem"
    assert env["ARGOAI_LLM_API_KEY_FILE"] == "/var/run/secrets/argoai/llm/api-key"
    volumes = {v["name"]: v for v in reviewer["spec"]["template"]["spec"]["volumes"]}
    assert volumes["github-app"]["secret"]["secretName"] == "argoai-github-app"
    assert volumes["llm"]["secret"]["secretName"] == "argoai-llm"
    assert env["ARGOAI_NOTIFY_TARGETS_FILE"] == "/var/run/secrets/argoai/notify/targets.yaml"
    assert volumes["notify"]["secret"]["secretName"] == "argoai-notify"
    assert env["ARGOAI_NOTIFY_BACKOFF_SECONDS"] == "10"
    gateway = one(docs, "Deployment", "argoai-gateway")
    assert (
        env_of(gateway)["ARGOAI_GITHUB_WEBHOOK_SECRET_FILE"]
        == "/var/run/secrets/argoai/webhook/webhook-secret"
    )
    mounts = gateway["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "webhook", "mountPath": "/var/run/secrets/argoai/webhook", "readOnly": True} in mounts
    assert by_kind(docs, "Secret") == []


def test_probes_and_ports() -> None:
    """Gateway probes /healthz and /readyz; reviewer and operator serve both and /metrics on 9090."""
    docs = render(values("minimal"))
    gateway = containers(one(docs, "Deployment", "argoai-gateway"))[0]
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    reviewer = containers(one(docs, "Deployment", "argoai-reviewer"))[0]
    assert reviewer["args"] == ["reviewer", "--metrics-port", "9090"]
    assert reviewer["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    operator = containers(one(docs, "Deployment", "argoai-operator"))[0]
    assert operator["args"][0] == "operator"
    assert "--liveness" not in operator["args"]
    assert operator["args"][operator["args"].index("--metrics-port") + 1] == "9090"
    assert operator["ports"] == [{"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert operator["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    service = one(docs, "Service", "argoai-operator")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_service_monitors_scrape_every_component_and_the_nats_exporter() -> None:
    """ServiceMonitors: gateway on http; reviewer, operator, in-chart NATS exporter on their metrics ports."""
    docs = render(values("evaluation"))
    endpoints = {
        m["metadata"]["name"]: m["spec"]["endpoints"][0]["port"] for m in by_kind(docs, "ServiceMonitor")
    }
    assert endpoints == {
        "argoai-gateway": "http",
        "argoai-reviewer": "metrics",
        "argoai-operator": "metrics",
        "argoai-nats": "metrics",
    }
    services = {
        s["metadata"]["name"]: {p["name"] for p in s["spec"]["ports"]} for s in by_kind(docs, "Service")
    }
    for name, port in endpoints.items():
        assert port in services[name]


def test_grace_periods_agree_with_the_processes() -> None:
    """The reviewer pod's grace period is its value, reviews get 5 s less; the gateway drains first."""
    docs = render(values("full"))
    reviewer = one(docs, "Deployment", "argoai-reviewer")
    assert reviewer["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    assert env_of(reviewer)["ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS"] == "115"
    assert env_of(reviewer)["ARGOAI_REVIEWER_CONCURRENCY"] == "16"
    gateway = one(docs, "Deployment", "argoai-gateway")
    assert containers(gateway)[0]["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    # preStop delay + uvicorn's 5 s graceful shutdown fit inside the pod's grace period.
    assert gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 5 + 5


def test_keda_scales_on_the_review_consumer_lag() -> None:
    """KEDA: no fixed replicas; scales on <PREFIX>_REVIEWERS, one pod per `concurrency` jobs."""
    docs = render(values("full"))
    assert "replicas" not in one(docs, "Deployment", "argoai-reviewer")["spec"]
    trigger = one(docs, "ScaledObject", "argoai-reviewer")["spec"]["triggers"][0]["metadata"]
    assert (trigger["stream"], trigger["consumer"]) == ("PROD_JOBS", "PROD_REVIEWERS")
    assert trigger["lagThreshold"] == "16"
    assert trigger["natsServerMonitoringEndpoint"] == "nats-headless.nats.svc.cluster.local:8222"


def test_keda_reads_the_in_chart_nats_monitoring_port() -> None:
    """With the in-chart NATS, KEDA needs no endpoint value: it reads the chart's NATS Service on 8222."""
    docs = render(values("evaluation"))
    trigger = one(docs, "ScaledObject", "argoai-reviewer")["spec"]["triggers"][0]["metadata"]
    assert trigger["natsServerMonitoringEndpoint"] == "argoai-nats.argoai.svc:8222"
    assert trigger["lagThreshold"] == "8"
    ports = {p["name"]: p["port"] for p in one(docs, "Service", "argoai-nats")["spec"]["ports"]}
    assert ports["monitor"] == 8222


def egress_of(docs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    policy = one(docs, "NetworkPolicy", name)
    assert "Egress" in policy["spec"]["policyTypes"]
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    return rules


def allows(rules: list[dict[str, Any]], port: int, to: list[dict[str, Any]] | None = None) -> bool:
    """Whether one rule allows ``port`` to exactly ``to`` (None: anywhere)."""
    return any(
        any(p["port"] == port for p in rule.get("ports", [])) and rule.get("to") == to for rule in rules
    )


def test_network_policies_let_the_reviewer_reach_dns_github_llm_nats_and_redis() -> None:
    """In-chart NATS/Redis: reviewer egress to DNS, 443, the NATS and Redis pods; those admit only ArgoAI."""
    docs = render(values("evaluation"))
    rules = egress_of(docs, "argoai-reviewer")
    nats_pods = [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "argoai", "app.kubernetes.io/instance": "argoai",
        "app.kubernetes.io/component": "nats"}}}]  # fmt: skip
    redis_pods = [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "argoai", "app.kubernetes.io/instance": "argoai",
        "app.kubernetes.io/component": "redis"}}}]  # fmt: skip
    assert allows(rules, 53)
    assert allows(rules, 443)
    assert allows(rules, 4222, nats_pods)
    assert allows(rules, 6379, redis_pods)
    assert not allows(egress_of(docs, "argoai-gateway"), 443)
    assert allows(egress_of(docs, "argoai-operator"), 6443)
    redeliver = egress_of(docs, "argoai-redeliver")
    assert allows(redeliver, 443)
    assert not allows(redeliver, 4222)
    redis_from = one(docs, "NetworkPolicy", "argoai-redis")["spec"]["ingress"][0]["from"]
    assert {f["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for f in redis_from} == {
        "reviewer",
        "redeliver",
    }
    nats_ingress = one(docs, "NetworkPolicy", "argoai-nats")["spec"]["ingress"]
    monitor = next(rule for rule in nats_ingress if rule["ports"][0]["port"] == "monitor")
    assert monitor["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}
    ]


def test_network_policies_narrow_egress_to_the_configured_peers() -> None:
    """External NATS/Redis and httpsTo: egress only to those peers and ports, plus the extra rules."""
    docs = render(values("full"))
    rules = egress_of(docs, "argoai-reviewer")
    github = [{"ipBlock": {"cidr": "140.82.112.0/20"}}]
    assert allows(rules, 443, github)
    assert not allows(rules, 443)
    assert allows(rules, 6380, [{"ipBlock": {"cidr": "10.20.0.0/16"}}])
    assert not allows(rules, 6379)
    nats_ns = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nats"}}}]
    assert allows(rules, 4222, nats_ns)
    otlp = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}]
    assert allows(rules, 4318, otlp)


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
    for workload in workloads(docs):
        pod = pod_of(workload)
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
    args = containers(one(docs, "Deployment", "argoai-operator"))[0]["args"]
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
    # Queue metrics as the NATS exporter names them with -prefix=nats (official chart, in-chart NATS).
    assert set(re.findall(r"\b(nats_[a-z_]+)\{", dashboard)) == {
        "nats_consumer_num_pending",
        "nats_consumer_num_ack_pending",
        "nats_consumer_num_redelivered",
    }
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
        ({"reviewer": {"autoscaling": {"minReplicas": 0}}}, "minReplicas"),
        ({"nats": {"url": "http://nats:4222"}}, "url"),
        ({"nats": {"replicas": 2}}, "replicas"),
        ({"llm": {"provider": "gpt"}}, "provider"),
        ({"gateway": {"replicas": 0}}, "replicas"),
        ({"gatway": {"replicas": 2}}, "gatway"),
        ({"logLevel": "TRACE"}, "logLevel"),
        ({"operator": {"watchNamespaces": ["Team_A"]}}, "watchNamespaces"),
        ({"redis": {"embedded": {"storage": {"size": "lots"}}}}, "size"),
    ],
)
def test_values_violating_the_schema_are_rejected(override: dict[str, Any], message: str) -> None:
    """values.schema.json refuses wrong types, enums, patterns and unknown keys before anything renders."""
    with pytest.raises(helm.HelmValuesError, match=message):
        render(merged(values("minimal"), override))


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


NO_APP = {"github": {"appId": None, "privateKeySecret": {"name": ""}}}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"github": {"appId": None}}, "github.appId is required"),
        ({"github": {"privateKeySecret": {"name": ""}}}, "github.privateKeySecret.name is required"),
        ({"github": {"webhookSecret": {"name": ""}}}, "github.webhookSecret.name is required"),
        (
            {"llm": {"provider": "openai", "baseUrl": "http://vllm:8000/v1"}},
            "llm.model is required with llm.provider",
        ),
        (
            {"llm": {"provider": "anthropic", "model": "claude-sonnet-4-5"}},
            "llm.apiKeySecret.name is required",
        ),
        (
            {"llm": {"provider": "openai", "model": "gpt-4.1-mini"}},
            "llm.apiKeySecret.name is required for api.openai.com",
        ),
        (
            {
                "llm": {
                    "provider": "openai",
                    "model": "m",
                    "apiVersion": "2024-10-21",
                    "apiKeySecret": {"name": "k"},
                }
            },
            "llm.baseUrl (the resource endpoint) and llm.apiKeySecret.name are required",
        ),
        (
            {**NO_APP, "reviewer": {"enabled": False}, "redeliver": {"enabled": True}},
            "redeliver.enabled needs the GitHub App",
        ),
        (
            {"nats": {"url": "nats://nats.nats:4222"}, "reviewer": {"autoscaling": {"mode": "keda"}}},
            "reviewer.autoscaling.keda.natsMonitoringEndpoint is required",
        ),
        (
            {"reviewer": {"resources": {"requests": {"cpu": None}}}},
            "reviewer.resources.requests.cpu is required",
        ),
        ({"reviewer": {"autoscaling": {"minReplicas": 5, "maxReplicas": 3}}}, "minReplicas (5) exceeds"),
        ({"nats": {"replicas": 3}}, "nats.replicas=3 needs a NATS cluster"),
        ({"operator": {"standalone": True, "replicas": 2}}, "needs peering"),
        ({"gateway": {"ingress": {"enabled": True}}}, "gateway.ingress.host is required"),
        ({"fallbackLlm": {"provider": "anthropic"}}, "fallbackLlm.model is required"),
    ],
)
def test_values_that_cannot_start_fail_the_render(override: dict[str, Any], message: str) -> None:
    """Every combination whose pods would crash-loop stops the install, naming the value to set."""
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(merged(values("minimal"), override))


def test_a_fallback_llm_reaches_the_reviewer_with_its_key_mounted_as_a_file() -> None:
    """fallbackLlm.* become ARGOAI_FALLBACK_LLM_* of the reviewer, the key a file from its own Secret; the
    outage tolerance is given in seconds."""
    docs = render(
        merged(
            values("minimal"),
            {
                "llm": {"provider": "openai", "model": "gpt-4.1-mini", "apiKeySecret": {"name": "openai"}},
                "fallbackLlm": {
                    "provider": "anthropic",
                    "model": "claude-x",
                    "apiKeySecret": {"name": "anth"},
                },
                "reviewer": {"outageToleranceHours": 2},
            },
        )
    )
    [reviewer] = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "argoai-reviewer"]
    pod = pod_of(reviewer)
    [container] = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ARGOAI_FALLBACK_LLM_PROVIDER"] == "anthropic"
    assert env["ARGOAI_FALLBACK_LLM_MODEL"] == "claude-x"
    assert env["ARGOAI_FALLBACK_LLM_API_KEY_FILE"] == "/var/run/secrets/argoai/llm-fallback/api-key"
    assert float(env["ARGOAI_REVIEWER_OUTAGE_TOLERANCE_SECONDS"]) == 7200
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["llm-fallback"]["secret"]["secretName"] == "anth"
    assert "/var/run/secrets/argoai/llm-fallback" in {m["mountPath"] for m in container["volumeMounts"]}


def test_without_the_app_only_the_gateway_and_operator_can_run() -> None:
    """No App: refused by default; with reviewer.enabled=false the gateway stores deliveries, no crash."""
    docs = render(merged(values("minimal"), {**NO_APP, "reviewer": {"enabled": False}}))
    assert {d["metadata"]["name"] for d in by_kind(docs, "Deployment")} == {
        "argoai-gateway",
        "argoai-operator",
    }


def test_default_image_is_the_one_the_release_workflow_publishes() -> None:
    """image.repository is ghcr.io/<owner>/argoai for Chart.yaml's home owner, as release.yml pushes it."""
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())
    env = workflow["env"]
    assert env["IMAGE_NAME"] == "argoai"
    owner = re.fullmatch(r"https://github\.com/([^/]+)/argoai", chart_metadata()["home"])
    assert owner
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    assert defaults["image"]["repository"] == f"ghcr.io/{owner.group(1)}/{env['IMAGE_NAME']}"
    assert defaults["prometheusRule"]["runbookBaseUrl"].startswith(chart_metadata()["home"] + "/")


def chart_metadata() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return loaded


def test_chart_icon_and_license_exist_in_the_repository() -> None:
    """Chart.yaml's icon names a file of this repository (main branch); LICENSE is Apache-2.0 in full."""
    meta = chart_metadata()
    prefix = meta["home"].replace("https://github.com/", "https://raw.githubusercontent.com/") + "/main/"
    assert meta["icon"].startswith(prefix)
    icon = ROOT / meta["icon"].removeprefix(prefix)
    assert icon.suffix == ".svg"
    assert "<svg" in icon.read_text()
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert meta["annotations"]["artifacthub.io/license"] == "Apache-2.0"


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion of command, args and env values."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], text)


def test_in_chart_nats_config_runs_jetstream_and_answers_probes_and_keda(tmp_path: Path) -> None:
    """The rendered nats.conf starts a real nats-server: probes answer, JetStream has the volume's size,
    KEDA's /jsz query lists ArgoAI's streams, and the preStop lame-duck command is accepted."""
    docs = render(values("minimal"))
    conf = one(docs, "ConfigMap", "argoai-nats")["data"]["nats.conf"]
    server = containers(one(docs, "StatefulSet", "argoai-nats"))[0]
    client, monitor = free_port(), free_port()
    pid_file = tmp_path / "nats.pid"
    local = (
        conf.replace("http_port: 8222", f"http: 127.0.0.1:{monitor}")
        .replace("port: 4222", f"host: 127.0.0.1\nport: {client}")
        .replace("/data/jetstream", str(tmp_path / "jetstream"))
        .replace("/tmp/nats.pid", str(pid_file))
    )
    assert local.count(str(tmp_path)) == 2
    (tmp_path / "nats.conf").write_text(local)
    env = {**os.environ, "POD_NAME": "argoai-nats-0"}
    argv = [str(nats_server_binary()), *server["args"]]
    argv[argv.index("/etc/nats/nats.conf")] = str(tmp_path / "nats.conf")
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{monitor}"
        probes = [server[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")]
        wait_for(lambda: httpx.get(base + probes[0], timeout=1).status_code == 200)
        for path in probes:
            assert httpx.get(base + path, timeout=2).status_code == 200, path
        varz = httpx.get(f"{base}/varz", timeout=2).json()
        assert varz["server_name"] == "argoai-nats-0"
        assert varz["jetstream"]["config"]["max_storage"] == 10 * 1024**3

        rendered_url = env_of(one(docs, "Deployment", "argoai-gateway"))["ARGOAI_NATS_URL"]
        local_url = rendered_url.replace("argoai-nats.argoai.svc:4222", f"127.0.0.1:{client}")

        async def create_streams() -> None:
            nc = await connect(NatsSettings(url=local_url), name="chart-test")
            try:
                await ensure_streams(nc.jetstream(), StreamNames("ARGOAI"))
            finally:
                await nc.close()

        asyncio.run(create_streams())
        # The query KEDA's nats-jetstream scaler makes (account $G, consumers and config).
        jsz = httpx.get(f"{base}/jsz", params={"acc": "$G", "consumers": "true", "config": "true"}, timeout=2)
        streams = {s["name"] for a in jsz.json()["account_details"] for s in a["stream_detail"]}
        assert "ARGOAI_JOBS" in streams
        pre_stop = server["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "nats-server"
        signal = [
            str(nats_server_binary()),
            *(a.replace("/tmp/nats.pid", str(pid_file)) for a in pre_stop[1:]),
        ]
        assert subprocess.run(signal, capture_output=True, timeout=10).returncode == 0
    finally:
        process.kill()
        process.wait()


def test_in_chart_redis_args_require_the_password_and_the_reviewer_url_carries_it(tmp_path: Path) -> None:
    """The rendered redis-server args start a real Redis with an append-only file that refuses clients without
    the password; the readiness probe and the reviewer's expanded ARGOAI_REDIS_URL both get in."""
    redis_server = shutil.which("redis-server")
    assert redis_server, "redis-server is installed by make install"
    docs = render(values("minimal"))
    container = containers(one(docs, "StatefulSet", "argoai-redis"))[0]
    password = "Zx81" * 10
    env = {"REDIS_PASSWORD": password}
    port = free_port()
    args = [expand(a, env) for a in container["args"][1:]]
    args[args.index("--dir") + 1] = str(tmp_path)
    process = subprocess.Popen(
        [redis_server, *args, "--port", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: port_open("127.0.0.1", port))
        probe = container["readinessProbe"]["exec"]["command"]
        probe = [*probe[:-1], probe[-1].replace("-h 127.0.0.1", f"-h 127.0.0.1 -p {port}")]
        cli_auth = expand(env_of(one(docs, "StatefulSet", "argoai-redis"))["REDISCLI_AUTH"], env)
        auth = {**os.environ, "REDISCLI_AUTH": cli_auth}
        wait_for(lambda: subprocess.run(probe, env=auth, timeout=5).returncode == 0)
        no_auth = {k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        assert subprocess.run(probe, env=no_auth, timeout=5).returncode != 0
        url = expand(env_of(one(docs, "Deployment", "argoai-reviewer"))["ARGOAI_REDIS_URL"], env)
        url = url.replace("argoai-redis.argoai.svc:6379", f"127.0.0.1:{port}")
        client = redis.Redis.from_url(url)
        assert client.ping() is True
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        client.close()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).ping()
    finally:
        process.kill()
        process.wait()


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_reviewer_keeps_snapshots_in_a_bounded_emptydir() -> None:
    """The snapshot cache is an emptyDir with a size limit, and the reviewer keeps its cache below it."""
    docs = render(values("minimal"))
    deployment = one(docs, "Deployment", "argoai-reviewer")
    [reviewer] = containers(deployment)
    env = {item["name"]: item.get("value") for item in reviewer["env"]}
    assert env["ARGOAI_REVIEWER_SNAPSHOT_DIR"] == "/var/cache/argoai/snapshots"
    assert env["ARGOAI_REVIEWER_SNAPSHOT_CACHE_BYTES"] == "2147483648"
    assert {"name": "snapshots", "mountPath": "/var/cache/argoai"} in reviewer["volumeMounts"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["snapshots"]["emptyDir"] == {"sizeLimit": "3Gi"}
