"""ARGOAI_NATS_REPLICAS through core's adapter functions on a real 3-node JetStream cluster: every stream, the
policy KV bucket and the payload object store get that many replicas, existing ones are brought to it, and a
server that cannot hold it is refused with an error naming the setting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import StreamInfo
from structlog.testing import capture_logs

from argoai_cli.local_services import LocalProcess
from argoai_core.adapters.history_stream import ensure_history_stream
from argoai_core.adapters.jetstream import (
    NatsClient,
    connect,
    ensure_payload_bucket,
    ensure_streams,
)
from argoai_core.adapters.policy_kv import POLICY_KEY, ensure_policy_bucket
from argoai_core.errors import ConfigError, UnavailableError
from argoai_core.settings import HistorySettings, NatsSettings
from argoai_core.streams import StreamNames, kv_stream, object_store_stream
from support.nats_cluster import NatsCluster

NODES = {"n0", "n1", "n2"}


def every_stream(names: StreamNames) -> list[str]:
    """Every stream the gateway and operator create for ``names``: webhooks, jobs, notifications, dead
    letters, the object store's and the KV bucket's (reviewers and the API add the history stream)."""
    return [
        names.webhooks_stream,
        names.jobs_stream,
        names.notify_stream,
        names.dead_letter_stream,
        object_store_stream(names.payload_bucket),
        kv_stream(names.policy_bucket),
    ]


async def placed(js: JetStreamContext, stream: str, replicas: int, within: float = 15) -> StreamInfo:
    """Wait until ``stream`` has ``replicas`` copies, each current, on as many distinct servers."""
    async with asyncio.timeout(within):
        while True:
            info = await js.stream_info(stream)
            cluster = info.cluster
            if cluster is not None and cluster.leader is not None:
                followers = cluster.replicas or []
                servers = {cluster.leader, *(peer.name for peer in followers)}
                current = all(peer.current for peer in followers)
                if info.config.num_replicas == replicas and len(servers) == replicas and current:
                    return info
            await asyncio.sleep(0.1)


@pytest.fixture
async def declare(cluster: NatsCluster, prefix: str) -> AsyncIterator[dict[int, NatsClient]]:
    """Connections to the cluster through core's connect(), one per replica count (1 and 3)."""
    clients = {
        replicas: await connect(
            NatsSettings(url=cluster.url, prefix=prefix, replicas=replicas), name=f"test-r{replicas}"
        )
        for replicas in (1, 3)
    }
    yield clients
    for client in clients.values():
        await client.close()


async def test_every_stream_bucket_and_object_store_gets_three_replicas_on_a_cluster(
    declare: dict[int, NatsClient], prefix: str
) -> None:
    """ARGOAI_NATS_REPLICAS=3: the three streams, the payload object store and the policy bucket are created
    with 3 replicas, one on each server of the cluster."""
    js = declare[3].jetstream()
    names = StreamNames(prefix)
    await ensure_streams(js, names)
    await ensure_policy_bucket(js, names)
    for stream in every_stream(names):
        info = await placed(js, stream, 3)
        assert info.cluster is not None
        assert {info.cluster.leader, *(peer.name for peer in info.cluster.replicas or [])} == NODES


async def test_the_history_stream_is_brought_to_three_replicas_with_its_retention(
    declare: dict[int, NatsClient], prefix: str
) -> None:
    """The audit history stream (declared by reviewers and the API) follows ARGOAI_NATS_REPLICAS like the
    others: created with 1, then brought to 3 on every server, keeping the retention from its settings."""
    names = StreamNames(prefix)
    settings = HistorySettings(max_age_days=30, max_bytes=64 * 1024**2)
    await ensure_history_stream(declare[1].jetstream(), names, settings)
    assert (await declare[1].jetstream().stream_info(names.history_stream)).config.num_replicas == 1
    replicated = declare[3].jetstream()
    await ensure_history_stream(replicated, names, settings)
    info = await placed(replicated, names.history_stream, 3)
    assert (info.config.max_bytes, info.config.max_age) == (64 * 1024**2, 30 * 86_400)


async def test_existing_single_replica_streams_and_buckets_are_brought_to_three_keeping_their_data(
    declare: dict[int, NatsClient], prefix: str
) -> None:
    """Declared with 1 replica (and holding a webhook, a policy and a payload), then declared with 3: every
    one is reconciled to 3 with one log line each, its data kept; declaring again changes nothing."""
    names = StreamNames(prefix)
    single = declare[1].jetstream()
    await ensure_streams(single, names)
    kv = await ensure_policy_bucket(single, names)
    for stream in every_stream(names):
        assert (await single.stream_info(stream)).config.num_replicas == 1
    await single.publish(names.webhook_subject("pull_request"), b"{}", headers={"Nats-Msg-Id": "d-1"})
    await kv.put(POLICY_KEY, b'{"version": 1}')
    store = await ensure_payload_bucket(single, names)
    await store.put("d-2", b"x" * 300_000)

    replicated = declare[3].jetstream()
    with capture_logs() as logs:
        await ensure_streams(replicated, names)
        kv = await ensure_policy_bucket(replicated, names)
    reconciled = [line for line in logs if line["event"] == "nats_replicas_reconciled"]
    assert sorted(line["stream"] for line in reconciled) == sorted(every_stream(names))
    assert {(line["replicas_before"], line["replicas"], line["log_level"]) for line in reconciled} == {
        (1, 3, "info")
    }
    for stream in every_stream(names):
        await placed(replicated, stream, 3)
    assert (await replicated.stream_info(names.webhooks_stream)).state.messages == 1
    assert (await kv.get(POLICY_KEY)).value == b'{"version": 1}'
    assert (await (await ensure_payload_bucket(replicated, names)).get("d-2")).data == b"x" * 300_000

    with capture_logs() as again:
        await ensure_streams(replicated, names)
        await ensure_policy_bucket(replicated, names)
    assert [line for line in again if line["event"] == "nats_replicas_reconciled"] == []


async def test_a_context_not_made_by_connect_leaves_the_replica_count_alone(
    declare: dict[int, NatsClient], cluster: NatsCluster, prefix: str
) -> None:
    """A JetStream context from a plain nats-py client declares the same streams without scaling the
    3-replica ones down (the count it would use is unknown)."""
    names = StreamNames(prefix)
    await ensure_streams(declare[3].jetstream(), names)
    await ensure_policy_bucket(declare[3].jetstream(), names)
    plain = await nats.connect(cluster.urls)
    try:
        js = plain.jetstream()
        await ensure_streams(js, names)
        await ensure_policy_bucket(js, names)
        for stream in every_stream(names):
            assert (await js.stream_info(stream)).config.num_replicas == 3, stream
    finally:
        await plain.close()


async def test_three_replicas_on_a_single_server_is_a_config_error_naming_the_setting(
    nats_server: LocalProcess, prefix: str
) -> None:
    """A nats-server that is not clustered refuses 3 replicas: ConfigError naming ARGOAI_NATS_REPLICAS, for
    the streams and for the KV bucket alike; nothing is created."""
    settings = NatsSettings(url=f"nats://127.0.0.1:{nats_server.port}", prefix=prefix, replicas=3)
    client = await connect(settings, name="test")
    try:
        js = client.jetstream()
        names = StreamNames(prefix)
        with pytest.raises(ConfigError, match=r"^ARGOAI_NATS_REPLICAS=3: the NATS server is not part of a"):
            await ensure_streams(js, names)
        with pytest.raises(ConfigError, match=r"^ARGOAI_NATS_REPLICAS=3: "):
            await ensure_policy_bucket(js, names)
        assert [
            info.config.name for info in await js.streams_info() if prefix in (info.config.name or "")
        ] == []
    finally:
        await client.close()


async def test_a_cluster_of_two_keeps_existing_streams_and_refuses_new_ones_naming_the_setting(
    pair: NatsCluster, prefix: str
) -> None:
    """On a 2-server cluster, 3 replicas cannot be placed: existing single-replica streams and buckets keep
    working with one error line each naming the setting; a stream to create is an UnavailableError (retried)
    naming it."""
    names = StreamNames(prefix)
    single = await connect(NatsSettings(url=pair.url, prefix=prefix, replicas=1), name="test-r1")
    replicated = await connect(NatsSettings(url=pair.url, prefix=prefix, replicas=3), name="test-r3")
    try:
        await ensure_streams(single.jetstream(), names)
        await ensure_policy_bucket(single.jetstream(), names)
        js = replicated.jetstream()
        with capture_logs() as logs:
            await ensure_streams(js, names)
            await ensure_policy_bucket(js, names)
        refused = [line for line in logs if line["event"] == "nats_replicas_not_reconciled"]
        assert sorted(line["stream"] for line in refused) == sorted(every_stream(names))
        assert {
            (line["log_level"], line["setting"], line["replicas"], line["wanted"]) for line in refused
        } == {("error", "ARGOAI_NATS_REPLICAS", 1, 3)}
        for stream in every_stream(names):
            assert (await js.stream_info(stream)).config.num_replicas == 1

        fresh = StreamNames(f"{prefix}N")
        with pytest.raises(
            UnavailableError, match=r"^ARGOAI_NATS_REPLICAS=3: the NATS cluster cannot hold 3"
        ):
            await ensure_streams(js, fresh)
    finally:
        await single.close()
        await replicated.close()
