"""The real Kopf operator loop against kmock's Kubernetes emulator, publishing to a real nats-server."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import kmock
import kopf
import pytest
from nats.aio.client import Client

from argoai_core.adapters.jetstream import connect
from argoai_core.adapters.policy_kv import PolicyWatcher
from argoai_core.policy_set import PolicySet
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_operator.config import OperatorConfig
from argoai_operator.handlers import build_registry
from argoai_operator.main import serve

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


pytestmark = pytest.mark.kmock(cls=Emulator)


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
    for cond in ((obj or {}).get("status") or {}).get("conditions", []):
        if cond["type"] == kind:
            return dict(cond)
    return {}


@pytest.fixture
async def nats_client(nats_settings: NatsSettings) -> AsyncIterator[Client]:
    nc = await connect(nats_settings, name="reviewer-stand-in")
    yield nc
    await nc.close()


@pytest.fixture
def preexisting() -> list[dict[str, Any]]:
    """ReviewPolicies stored before the operator starts (a test parametrizes this to simulate a restart)."""
    return []


@pytest.fixture
async def running(
    kmock: kmock.KubernetesEmulator,
    nats_settings: NatsSettings,
    nats_client: Client,
    preexisting: list[dict[str, Any]],
) -> AsyncIterator[tuple[Cluster, PolicyWatcher]]:
    """The emulator with the CRD's resource declared, a PolicyWatcher, and the operator running."""
    kmock.resources["argoai.dev/v1alpha1/reviewpolicies"] = kmock.ResourceInfo(
        kind="ReviewPolicy",
        singular="reviewpolicy",
        namespaced=True,
        verbs={"list", "watch", "get", "patch", "create", "delete", "update"},
        subresources={"status"},
    )
    kmock.resources["v1/namespaces"] = kmock.ResourceInfo(
        kind="Namespace", namespaced=False, verbs={"list", "watch"}
    )
    kmock.resources["v1/events"] = kmock.ResourceInfo(kind="Event", namespaced=True, verbs={"create"})
    for obj in preexisting:
        meta = obj["metadata"]
        kmock.objects["argoai.dev/v1alpha1/reviewpolicies", meta["namespace"], meta["name"]] = obj

    # The watcher stands in for a reviewer pod; started before the operator, whose shutdown cancels every
    # task created after it started.
    watcher = PolicyWatcher(nats_client.jetstream(), StreamNames(nats_settings.prefix), resync_seconds=30)
    await watcher.start()

    config = OperatorConfig(nats=nats_settings, resync_seconds=3600)
    registry = build_registry(config)
    server = str(kmock.url).rstrip("/")

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=server, insecure=True)

    # Kopf's own thread and loop, as when embedding it: at shutdown Kopf cancels every task of its loop
    # that it did not find at start, which must not include this test's tasks.
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(
            serve(config, standalone=True, stop_flag=stop, ready_flag=ready, registry=registry, priority=1)
        ),
        name="operator",
    )
    thread.start()
    try:
        assert await asyncio.to_thread(ready.wait, 10), "the operator did not start"
        async with aiohttp.ClientSession(base_url=server) as session:
            yield Cluster(kmock, session), watcher
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 10)
        await watcher.stop()
    assert not thread.is_alive()


async def test_lifecycle_create_update_delete(running: tuple[Cluster, PolicyWatcher]) -> None:
    """Create → Ready and published; update → republished at the new generation; delete → left the set."""
    cluster, watcher = running
    await cluster.create("ops", "acme", {"scope": {"orgs": ["acme"]}, "maxComments": 7})

    obj = await eventually(
        lambda: _ready(cluster, "ops", "acme", generation=1),
    )
    assert obj["status"]["matchedScope"] == "org: acme"
    first = obj["status"]["revision"]
    assert first == 1  # a fresh bucket: however often Kopf called the handler, the set was written once
    assert condition(obj, "Invalid")["status"] == "False"
    policies: PolicySet = await _seen(watcher, first)
    assert policies.names() == ["ops/acme"]
    assert policies.resolve("acme", "x").max_comments == 7
    assert set(obj["status"]) == {"observedGeneration", "matchedScope", "revision", "conflicts", "conditions"}
    await eventually(lambda: _events(cluster, "Published"))

    await cluster.update_spec("ops", "acme", {"maxComments": 9}, generation=2)
    obj = await eventually(lambda: _ready(cluster, "ops", "acme", generation=2))
    assert obj["status"]["revision"] > first
    policies = await _seen(watcher, obj["status"]["revision"])
    assert policies.resolve("acme", "x").max_comments == 9

    before = watcher.revision
    await cluster.delete("ops", "acme")
    await eventually(lambda: _gone(cluster, "ops", "acme"))
    policies = await _seen(watcher, before + 1)
    assert policies.names() == []
    await eventually(lambda: _events(cluster, "Removed"))


async def test_invalid_spec_gets_invalid_status_and_warning(running: tuple[Cluster, PolicyWatcher]) -> None:
    """A spec the emulator accepts but the model refuses is marked Invalid with the reason and left out."""
    cluster, watcher = running
    await cluster.create("ops", "good", {"scope": {"repos": ["acme/api"]}})
    # Valid for the OpenAPI schema; refused by the CEL rule (which the emulator does not run) and by pydantic.
    await cluster.create("ops", "bad", {"model": "gpt-5", "maxComments": 50})

    obj = await eventually(lambda: _condition_true(cluster, "ops", "bad", "Invalid"))
    invalid = condition(obj, "Invalid")
    assert invalid["reason"] == "ValidationFailed"
    assert invalid["message"].startswith("spec: model: model names are provider-specific")
    assert condition(obj, "Ready")["status"] == "False"
    assert obj["status"]["observedGeneration"] == 1
    warnings = await eventually(lambda: _events(cluster, "InvalidSpec"))
    assert warnings[0]["type"] == "Warning"
    assert warnings[0]["involvedObject"]["name"] == "bad"

    good = await eventually(lambda: _ready(cluster, "ops", "good", generation=1))
    policies = await _seen(watcher, good["status"]["revision"])
    assert policies.names() == ["ops/good"]

    # Fixing the spec makes it Ready and puts it in the set.
    await cluster.update_spec("ops", "bad", {"model": None, "maxComments": 5}, generation=2)
    fixed = await eventually(lambda: _ready(cluster, "ops", "bad", generation=2))
    assert condition(fixed, "Invalid")["status"] == "False"
    policies = await _seen(watcher, fixed["status"]["revision"])
    assert policies.names() == ["ops/bad", "ops/good"]


async def test_conflicting_policies_are_reported(running: tuple[Cluster, PolicyWatcher]) -> None:
    """Two org-level policies for one org: the later one's status lists the conflict; a Warning is posted."""
    cluster, _ = running
    await cluster.create("ops", "acme-a", {"scope": {"orgs": ["acme"]}})
    await eventually(lambda: _ready(cluster, "ops", "acme-a", generation=1))
    await cluster.create("team", "acme-b", {"scope": {"orgs": ["acme"]}})
    obj = await eventually(lambda: _ready(cluster, "team", "acme-b", generation=1))
    assert obj["status"]["conflicts"] == [
        "ops/acme-a (acme) and team/acme-b (acme) are both org-level and overlap; "
        "ops/acme-a applies where both match"
    ]
    conflict_events = await eventually(lambda: _events(cluster, "Conflict"))
    assert conflict_events[0]["type"] == "Warning"


async def _ready(cluster: Cluster, namespace: str, name: str, *, generation: int) -> dict[str, Any] | None:
    obj = await cluster.get(namespace, name)
    if (
        condition(obj, "Ready").get("status") == "True"
        and obj
        and obj["status"]["observedGeneration"] == generation
    ):
        return obj
    return None


async def _condition_true(cluster: Cluster, namespace: str, name: str, kind: str) -> dict[str, Any] | None:
    obj = await cluster.get(namespace, name)
    return obj if condition(obj, kind).get("status") == "True" else None


async def _gone(cluster: Cluster, namespace: str, name: str) -> bool:
    return await cluster.get(namespace, name) is None


async def _events(cluster: Cluster, reason: str) -> list[dict[str, Any]]:
    return cluster.events(reason)


async def _seen(watcher: PolicyWatcher, revision: int) -> PolicySet:
    async with asyncio.timeout(2):
        return await watcher.wait_for_revision(revision)


def stored(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    meta = {
        "namespace": namespace,
        "name": name,
        "uid": f"uid-{name}",
        "generation": 3,
        "resourceVersion": "7",
    }
    return {"apiVersion": "argoai.dev/v1alpha1", "kind": "ReviewPolicy", "metadata": meta, "spec": spec}


@pytest.mark.parametrize(
    "preexisting",
    [
        [
            stored("ops", "org", {"scope": {"orgs": ["acme"]}}),
            stored("ops", "repo", {"scope": {"repos": ["acme/api"]}}),
        ]
    ],
)
async def test_restart_publishes_the_full_set_first(running: tuple[Cluster, PolicyWatcher]) -> None:
    """After a restart the first publish already holds every stored policy (Kopf indexes, then handles)."""
    cluster, watcher = running
    repo = await eventually(lambda: _ready(cluster, "ops", "repo", generation=3))
    org = await eventually(lambda: _ready(cluster, "ops", "org", generation=3))
    # Both handlers got revision 1: a partial first set would have forced a second revision.
    assert (repo["status"]["revision"], org["status"]["revision"]) == (1, 1)
    assert (await _seen(watcher, 1)).names() == ["ops/org", "ops/repo"]
