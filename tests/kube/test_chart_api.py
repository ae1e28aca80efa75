"""The chart's audit history API: off by default; when enabled, a Deployment running `argoai api` with its
token Secret mounted as a file, probes on /healthz and /readyz, a Service, a volume for the query store, and a
NetworkPolicy letting only the configured peers in and only DNS and NATS out."""

from __future__ import annotations

from kube.chartrender import by_kind, env_of, merged, one, render, values


def test_api_is_off_by_default() -> None:
    """The minimal install runs no api."""
    names = {doc["metadata"]["name"] for doc in render(values("minimal"))}
    assert "argoai-api" not in names


def test_enabled_api_has_deployment_service_probes_and_policy() -> None:
    """api.enabled: Deployment (args, tokens file, store path, probes), Service, PVC and NetworkPolicy."""
    docs = render(values("full"))
    deployment = one(docs, "Deployment", "argoai-api")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["api", "--host", "0.0.0.0", "--port", "8090"]
    env = env_of(deployment)
    assert env["ARGOAI_API_TOKENS_FILE"] == "/var/run/secrets/argoai/api-tokens/tokens"
    assert env["ARGOAI_HISTORY_STORE"] == "/var/lib/argoai/history.sqlite3"
    assert env["ARGOAI_HISTORY_MAX_AGE_DAYS"] == "365"
    assert "ARGOAI_API_TOKENS" not in env
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["api-tokens"]["secret"]["secretName"] == "argoai-api-tokens"
    assert volumes["store"]["persistentVolumeClaim"]["claimName"] == "argoai-api"
    assert one(docs, "Service", "argoai-api")["spec"]["ports"][0]["targetPort"] == "http"
    assert one(docs, "PersistentVolumeClaim", "argoai-api")
    policy = one(docs, "NetworkPolicy", "argoai-api")
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "dashboards"
    }
    # DNS, NATS, and the full values' extra rule (an OTLP collector); no HTTPS, no Redis.
    assert {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])} == {53, 4222, 4318}


def test_reviewer_and_api_agree_on_history_retention() -> None:
    """history.* reaches both components that declare the history stream, identically."""
    docs = render(merged(values("full"), {"history": {"maxAgeDays": 90, "maxBytes": 2147483648}}))
    reviewer = env_of(one(docs, "Deployment", "argoai-reviewer"))
    api = env_of(one(docs, "Deployment", "argoai-api"))
    for env in (reviewer, api):
        assert env["ARGOAI_HISTORY_MAX_AGE_DAYS"] == "90"
        assert env["ARGOAI_HISTORY_MAX_BYTES"] == "2147483648"
    assert by_kind(docs, "Deployment")
