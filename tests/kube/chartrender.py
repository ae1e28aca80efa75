"""Rendering charts/argoai offline (helm-python-sdk) for the chart, alert and Tiltfile tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "argoai"
VALUES = Path(__file__).parent / "values"


def values(name: str) -> dict[str, Any]:
    """A values file of tests/kube/values."""
    loaded: dict[str, Any] = yaml.safe_load((VALUES / f"{name}.yaml").read_text())
    return loaded


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base`` key by key, the way Helm merges -f and --set values."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@cache
def chart() -> helm.Chart:
    """The chart, loaded once."""
    return helm.Chart.load(str(CHART))


def render(vals: dict[str, Any], namespace: str = "argoai") -> list[dict[str, Any]]:
    """Every object `helm install argoai charts/argoai -n NAMESPACE` would create (CRDs and NOTES aside)."""
    rendered = chart().render(vals, name="argoai", namespace=namespace, is_install=True)
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The objects of one kind."""
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The object of this kind and name."""
    return next(doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name)


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a Deployment, StatefulSet or CronJob."""
    spec = doc["spec"]
    pod = (
        spec["jobTemplate"]["spec"]["template"]["spec"]
        if doc["kind"] == "CronJob"
        else spec["template"]["spec"]
    )
    found: list[dict[str, Any]] = pod["containers"]
    return found


def env_of(doc: dict[str, Any], container: int = 0) -> dict[str, Any]:
    """A container's environment: name → value, or its valueFrom."""
    return {
        item["name"]: item.get("value", item.get("valueFrom")) for item in containers(doc)[container]["env"]
    }
