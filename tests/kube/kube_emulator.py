"""kmock's Kubernetes emulator set up as a cluster with the ReviewPolicy CRD, and a kubectl-like client.

Shared by the in-process operator tests (test_operator_loop) and those that run the real ``argoai operator``
process against the emulator through a kubeconfig file (test_operator_process).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import yaml

API = "/apis/argoai.dev/v1alpha1"
_names = itertools.count(1)


class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator, also naming objects created with generateName (Kopf's Events) like the API server."""

    async def _handle(self, request: kmock.Request) -> Any:
        if request.action == kmock.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = f"{meta['generateName']}{next(_names)}"
        return await super()._handle(request)


def declare_cluster(emulator: kmock.KubernetesEmulator, *, peering: str | None = None) -> None:
    """The resources the operator needs: the CRD's, namespaces, events; with ``peering``, the Kopf peering
    CRD and a ClusterKopfPeering object of that name (what the chart installs)."""
    emulator.resources["argoai.dev/v1alpha1/reviewpolicies"] = kmock.ResourceInfo(
        kind="ReviewPolicy",
        singular="reviewpolicy",
        namespaced=True,
        verbs={"list", "watch", "get", "patch", "create", "delete", "update"},
        subresources={"status"},
    )
    emulator.resources["v1/namespaces"] = kmock.ResourceInfo(
        kind="Namespace", namespaced=False, verbs={"list", "watch"}
    )
    emulator.resources["v1/events"] = kmock.ResourceInfo(kind="Event", namespaced=True, verbs={"create"})
    if peering is not None:
        emulator.resources["kopf.dev/v1/clusterkopfpeerings"] = kmock.ResourceInfo(
            kind="ClusterKopfPeering",
            singular="clusterkopfpeering",
            namespaced=False,
            verbs={"list", "watch", "get", "patch", "create"},
        )
        emulator.objects["kopf.dev/v1/clusterkopfpeerings", None, peering] = {
            "apiVersion": "kopf.dev/v1",
            "kind": "ClusterKopfPeering",
            "metadata": {"name": peering, "resourceVersion": "1", "uid": f"uid-{peering}"},
            "status": {},
        }


def write_kubeconfig(path: Path, server: str, user: dict[str, Any] | None = None) -> Path:
    """A kubeconfig whose current context points at ``server`` with ``user`` (default: a bearer token)."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "emulator", "cluster": {"server": server}}],
                "users": [{"name": "tester", "user": user or {"token": "emulator-token"}}],
                "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester"}}],
                "current-context": "emulator",
            }
        )
    )
    return path


class Cluster:
    """Talks to the emulator over HTTP, as kubectl would, and bumps versions as the API server does."""

    def __init__(self, emulator: kmock.KubernetesEmulator, session: aiohttp.ClientSession) -> None:
        self.emulator = emulator
        self.session = session
        self.version = 100

    def _next(self) -> str:
        self.version += 1
        return str(self.version)

    async def create(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        body = {
            "apiVersion": "argoai.dev/v1alpha1",
            "kind": "ReviewPolicy",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"uid-{name}",
                "generation": 1,
                "resourceVersion": self._next(),
                "creationTimestamp": "2026-11-24T00:00:00Z",
            },
            "spec": spec,
        }
        async with self.session.post(f"{API}/namespaces/{namespace}/reviewpolicies", json=body) as resp:
            assert resp.status < 300, await resp.text()

    async def update_spec(self, namespace: str, name: str, spec: dict[str, Any], generation: int) -> None:
        patch = {"metadata": {"generation": generation, "resourceVersion": self._next()}, "spec": spec}
        url = f"{API}/namespaces/{namespace}/reviewpolicies/{name}"
        headers = {"Content-Type": "application/merge-patch+json"}
        async with self.session.patch(url, json=patch, headers=headers) as resp:
            assert resp.status < 300, await resp.text()

    async def delete(self, namespace: str, name: str) -> None:
        async with self.session.delete(f"{API}/namespaces/{namespace}/reviewpolicies/{name}") as resp:
            assert resp.status < 300, await resp.text()

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        async with self.session.get(f"{API}/namespaces/{namespace}/reviewpolicies/{name}") as resp:
            if resp.status == 404:
                return None
            data: dict[str, Any] = await resp.json()
            return data

    def events(self, reason: str) -> list[dict[str, Any]]:
        found = []
        for (resource, _, _), obj in self.emulator.objects.items():
            if resource.plural == "events" and not obj.deleted and obj.get("reason") == reason:
                found.append(dict(obj.raw))
        return found


async def eventually(check: Callable[[], Awaitable[Any]], seconds: float = 8.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds}s; last result: {result!r}")
        await asyncio.sleep(0.05)


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    """The status condition ``kind`` of ``obj`` (empty when absent)."""
    for cond in ((obj or {}).get("status") or {}).get("conditions", []):
        if cond["type"] == kind:
            return dict(cond)
    return {}


async def ready(cluster: Cluster, namespace: str, name: str, *, generation: int) -> dict[str, Any] | None:
    """The object when its Ready condition is True for ``generation``."""
    obj = await cluster.get(namespace, name)
    if (
        condition(obj, "Ready").get("status") == "True"
        and obj
        and obj["status"]["observedGeneration"] == generation
    ):
        return obj
    return None


async def condition_true(cluster: Cluster, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
    """The object when its condition ``kind`` is True."""
    obj = await cluster.get(namespace, name)
    return obj if condition(obj, kind).get("status") == "True" else None
