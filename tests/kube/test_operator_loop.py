"""The real Kopf operator loop against kmock's Kubernetes emulator, publishing to a real nats-server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import kmock
import kopf
import pytest
from nats.aio.client import Client
from prometheus_client import CollectorRegistry

from argoai_core.adapters.jetstream import connect
from argoai_core.adapters.policy_kv import PolicyWatcher
from argoai_core.policy_set import PolicySet
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_operator.config import OperatorConfig
from argoai_operator.login import KubeLogin
from argoai_operator.main import Operator, RunOptions
from argoai_operator.metrics import OperatorMetrics
from kube.kube_emulator import (
    Cluster,
    Emulator,
    condition,
    condition_true,
    declare_cluster,
    eventually,
    ready,
)

pytestmark = pytest.mark.kmock(cls=Emulator)


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
    declare_cluster(kmock)
    for obj in preexisting:
        meta = obj["metadata"]
        kmock.objects["argoai.dev/v1alpha1/reviewpolicies", meta["namespace"], meta["name"]] = obj

    # The watcher stands in for a reviewer pod.
    watcher = PolicyWatcher(nats_client.jetstream(), StreamNames(nats_settings.prefix), resync_seconds=30)
    await watcher.start()

    config = OperatorConfig(nats=nats_settings, resync_seconds=3600, metrics_host="127.0.0.1", metrics_port=0)
    server = str(kmock.url).rstrip("/")
    # Injected credentials instead of a kubeconfig (test_operator_process covers the real lookup).
    login = KubeLogin.fixed(kopf.ConnectionInfo(server=server, insecure=True))
    operator = Operator(
        config,
        login,
        RunOptions(standalone=True, priority=1),
        metrics=OperatorMetrics(CollectorRegistry()),
    )

    # The operator's own thread and loop, as when embedding it (it runs Kopf on a further thread).
    stop, started = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=lambda: asyncio.run(operator.serve(stop_flag=stop, ready_flag=started)), name="operator"
    )
    thread.start()
    try:
        assert await asyncio.to_thread(started.wait, 10), "the operator did not start"
        async with aiohttp.ClientSession(base_url=server) as session:
            yield Cluster(kmock, session), watcher
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 15)
        await watcher.stop()
    assert not thread.is_alive()


async def test_lifecycle_create_update_delete(running: tuple[Cluster, PolicyWatcher]) -> None:
    """Create → Ready and published; update → republished at the new generation; delete → left the set."""
    cluster, watcher = running
    await cluster.create("ops", "acme", {"scope": {"orgs": ["acme"]}, "maxComments": 7})

    obj = await eventually(
        lambda: ready(cluster, "ops", "acme", generation=1),
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
    obj = await eventually(lambda: ready(cluster, "ops", "acme", generation=2))
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

    obj = await eventually(lambda: condition_true(cluster, "ops", "bad", "Invalid"))
    invalid = condition(obj, "Invalid")
    assert invalid["reason"] == "ValidationFailed"
    assert invalid["message"].startswith("spec: model: model names are provider-specific")
    assert condition(obj, "Ready")["status"] == "False"
    assert obj["status"]["observedGeneration"] == 1
    warnings = await eventually(lambda: _events(cluster, "InvalidSpec"))
    assert warnings[0]["type"] == "Warning"
    assert warnings[0]["involvedObject"]["name"] == "bad"

    good = await eventually(lambda: ready(cluster, "ops", "good", generation=1))
    policies = await _seen(watcher, good["status"]["revision"])
    assert policies.names() == ["ops/good"]

    # Fixing the spec makes it Ready and puts it in the set.
    await cluster.update_spec("ops", "bad", {"model": None, "maxComments": 5}, generation=2)
    fixed = await eventually(lambda: ready(cluster, "ops", "bad", generation=2))
    assert condition(fixed, "Invalid")["status"] == "False"
    policies = await _seen(watcher, fixed["status"]["revision"])
    assert policies.names() == ["ops/bad", "ops/good"]


async def test_conflicting_policies_are_reported(running: tuple[Cluster, PolicyWatcher]) -> None:
    """Two org-level policies for one org: the later one's status lists the conflict; a Warning is posted."""
    cluster, _ = running
    await cluster.create("ops", "acme-a", {"scope": {"orgs": ["acme"]}})
    await eventually(lambda: ready(cluster, "ops", "acme-a", generation=1))
    await cluster.create("team", "acme-b", {"scope": {"orgs": ["acme"]}})
    obj = await eventually(lambda: ready(cluster, "team", "acme-b", generation=1))
    assert obj["status"]["conflicts"] == [
        "ops/acme-a (acme) and team/acme-b (acme) are both org-level and overlap; "
        "ops/acme-a applies where both match"
    ]
    conflict_events = await eventually(lambda: _events(cluster, "Conflict"))
    assert conflict_events[0]["type"] == "Warning"


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
    repo = await eventually(lambda: ready(cluster, "ops", "repo", generation=3))
    org = await eventually(lambda: ready(cluster, "ops", "org", generation=3))
    # Both handlers got revision 1: a partial first set would have forced a second revision.
    assert (repo["status"]["revision"], org["status"]["revision"]) == (1, 1)
    assert (await _seen(watcher, 1)).names() == ["ops/org", "ops/repo"]
