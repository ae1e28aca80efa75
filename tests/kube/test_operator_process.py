"""The real ``argoai operator`` process, started as the chart's container starts it, with only a kubeconfig.

No injected login: the process finds its credentials in ``KUBECONFIG`` (a file pointing at kmock's
Kubernetes emulator served by this test), publishes to the test's real nats-server, and serves its HTTP port.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import httpx
import kmock
import pytest
from nats.aio.client import Client

from argoai_cli.local_services import free_port
from argoai_core.adapters.jetstream import connect
from argoai_core.adapters.policy_kv import POLICY_KEY
from argoai_core.policy_set import PolicySet
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from kube.kube_emulator import (
    Cluster,
    Emulator,
    condition,
    condition_true,
    declare_cluster,
    eventually,
    ready,
    write_kubeconfig,
)
from kube.operator_process import CHART_ARGS, OperatorProcess, base_env, start_operator

pytestmark = pytest.mark.kmock(cls=Emulator)

# Well under the default grace period (10 s): a prompt exit, not one forced by the deadline.
PROMPT_EXIT_SECONDS = 5.0


@pytest.fixture
async def nats_client(nats_settings: NatsSettings) -> AsyncIterator[Client]:
    nc = await connect(nats_settings, name="test-reader")
    yield nc
    await nc.close()


@pytest.fixture
def cluster_env(
    kmock: kmock.KubernetesEmulator, nats_settings: NatsSettings, tmp_path: Path
) -> dict[str, str]:
    """The emulator set up as the chart leaves a cluster, and the environment the operator's pod gets."""
    declare_cluster(kmock, peering="argoai")
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))
    (tmp_path / "home").mkdir()
    return base_env(
        tmp_path / "home",
        KUBECONFIG=str(kubeconfig),
        ARGOAI_NATS_URL=nats_settings.url,
        ARGOAI_NATS_PREFIX=nats_settings.prefix,
    )


@pytest.fixture
def kopf_liveness() -> str:
    """Kopf's own liveness endpoint, which the chart's container still asks for (--liveness)."""
    return f"http://127.0.0.1:{free_port()}/healthz"


@pytest.fixture
def operator(cluster_env: dict[str, str], kopf_liveness: str) -> Iterator[OperatorProcess]:
    """``argoai operator`` as the chart runs it: --liveness, --resync-seconds, --metrics-port, --peering."""
    process = start_operator(cluster_env, [*CHART_ARGS, "--liveness", kopf_liveness])
    yield process
    process.kill()


@pytest.fixture
async def cluster(kmock: kmock.KubernetesEmulator) -> AsyncIterator[Cluster]:
    async with aiohttp.ClientSession(base_url=str(kmock.url).rstrip("/")) as session:
        yield Cluster(kmock, session)


async def published(nc: Client, prefix: str) -> PolicySet | None:
    """The policy set in the KV bucket, if any."""
    js = nc.jetstream()
    try:
        kv = await js.key_value(StreamNames(prefix).policy_bucket)
        entry = await kv.get(POLICY_KEY)
    except Exception:
        return None
    return PolicySet.from_json(entry.value or b"")


async def test_chart_command_reconciles_through_a_kubeconfig(
    operator: OperatorProcess,
    kopf_liveness: str,
    cluster: Cluster,
    nats_client: Client,
    nats_settings: NatsSettings,
) -> None:
    """The chart's command with KUBECONFIG: a ReviewPolicy becomes Ready and is published; metrics count."""
    await operator.wait_for_status("/readyz", 200)
    assert (await operator.get("/healthz")).status_code == 200
    async with httpx.AsyncClient(timeout=2) as client:
        assert (await client.get(kopf_liveness)).status_code == 200
    await cluster.create("ops", "acme", {"scope": {"orgs": ["acme"]}, "maxComments": 7})
    obj = await eventually(lambda: ready(cluster, "ops", "acme", generation=1), seconds=20)
    assert condition(obj, "Invalid")["status"] == "False"
    policies = await eventually(lambda: published(nats_client, nats_settings.prefix))
    assert policies.names() == ["ops/acme"]
    assert policies.resolve("acme", "api").max_comments == 7

    # A spec the model refuses is marked Invalid and left out of the set.
    await cluster.create("ops", "bad", {"model": "gpt-5", "maxComments": 50})
    await eventually(lambda: condition_true(cluster, "ops", "bad", "Invalid"), seconds=20)

    assert await operator.metric("argoai_operator_policies", condition="Ready") == 1
    assert await operator.metric("argoai_operator_policies", condition="Invalid") == 1
    assert await operator.metric("argoai_operator_reconciles_total", outcome="ready") >= 1
    assert await operator.metric("argoai_operator_reconciles_total", outcome="invalid") >= 1
    assert await operator.metric("argoai_operator_reconciles_total", outcome="error") == 0
    assert await operator.metric("argoai_operator_publish_failures_total") == 0

    started = operator.logged("operator starting")[0]
    assert started["kubernetes"].startswith("kubeconfig KUBECONFIG (")
    assert started["peering"] == "argoai"

    status, seconds = await operator.stop(signal.SIGTERM)
    assert status == 0, operator.output
    assert seconds < PROMPT_EXIT_SECONDS
    assert "Traceback" not in operator.output


async def test_missing_peering_crd_is_reported_not_ready(
    kmock: kmock.KubernetesEmulator, nats_settings: NatsSettings, tmp_path: Path
) -> None:
    """With peering but no Kopf peering CRD, Kopf waits silently: the operator says why it is not ready."""
    declare_cluster(kmock)  # the ReviewPolicy CRD only
    (tmp_path / "home").mkdir()
    env = base_env(
        tmp_path / "home",
        KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))),
        ARGOAI_NATS_URL=nats_settings.url,
        ARGOAI_NATS_PREFIX=nats_settings.prefix,
    )
    operator = start_operator(env)
    try:
        warning = await operator.wait_for_log("Kubernetes API unavailable")
        assert "the Kopf peering CRD (clusterkopfpeerings.kopf.dev) is not installed" in warning["error"]
        response = await operator.wait_for_status("/readyz", 503)
        assert "clusterkopfpeerings.kopf.dev" in response.text
        status, seconds = await operator.stop(signal.SIGTERM)
        assert (status, seconds < PROMPT_EXIT_SECONDS) == (0, True), operator.output
    finally:
        operator.kill()
