"""ARGOAI_NATS_REPLICAS as a user sets it on the real ``argoai gateway`` and ``argoai reviewer`` processes:
refused values, a server that cannot hold the count, and a restart that brings existing single-replica
streams to 3."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import nats

from argoai_cli.local_services import LocalProcess, free_port
from argoai_core.streams import StreamNames, object_store_stream
from support.gateway_process import ARGOAI, SECRET, GatewayProcess, user_env
from support.keys import app_key
from support.nats_cluster import NatsCluster


def test_a_replica_count_other_than_1_or_3_is_one_config_error_line() -> None:
    """ARGOAI_NATS_REPLICAS=2 stops the gateway before it starts: exit 2, one line naming the variable."""
    env = user_env(ARGOAI_GITHUB_WEBHOOK_SECRET=SECRET, ARGOAI_NATS_REPLICAS="2")
    result = subprocess.run(
        [ARGOAI, "gateway", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "argoai: configuration error: ARGOAI_NATS_REPLICAS: must be 1 (a single NATS server) or 3 "
        "(a NATS cluster of 3 or more), got 2"
    ]


def test_three_replicas_on_a_single_nats_server_ends_the_gateway_with_one_config_error_line(
    nats_server: LocalProcess,
) -> None:
    """ARGOAI_NATS_REPLICAS=3 against a nats-server that is not clustered: the gateway connects, is refused,
    and exits 2 with one line naming the setting (no traceback), instead of answering 503 forever."""
    env = user_env(
        ARGOAI_GITHUB_WEBHOOK_SECRET=SECRET,
        ARGOAI_NATS_URL=f"nats://127.0.0.1:{nats_server.port}",
        ARGOAI_NATS_PREFIX="SINGLE_R3",
        ARGOAI_NATS_REPLICAS="3",
    )
    result = subprocess.run(
        [ARGOAI, "gateway", "--host", "127.0.0.1", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    plain = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert plain == [
        "argoai: configuration error: ARGOAI_NATS_REPLICAS=3: the NATS server is not part of a cluster and "
        "keeps one copy only (replicas > 1 not supported in non-clustered mode); set ARGOAI_NATS_REPLICAS=1 "
        "or point ARGOAI_NATS_URL at a NATS cluster"
    ]
    assert "Traceback" not in result.stderr


def test_three_replicas_on_a_single_nats_server_stops_the_reviewer_with_one_config_error_line(
    nats_server: LocalProcess,
) -> None:
    """The reviewer reads the same setting: against a server that is not clustered it exits 2 with the same
    one line, before taking any work."""
    env = user_env(
        ARGOAI_GITHUB_APP_ID="4242",
        ARGOAI_GITHUB_PRIVATE_KEY=app_key().pkcs1,
        ARGOAI_NATS_URL=f"nats://127.0.0.1:{nats_server.port}",
        ARGOAI_NATS_PREFIX="SINGLE_R3_REVIEWER",
        ARGOAI_NATS_REPLICAS="3",
    )
    result = subprocess.run(
        [ARGOAI, "reviewer", "--metrics-port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    plain = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(plain) == 1
    assert plain[0].startswith("argoai: configuration error: ARGOAI_NATS_REPLICAS=3: the NATS server is not")
    assert "Traceback" not in result.stderr


async def _replicas(urls: list[str], streams: list[str]) -> dict[str, int | None]:
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream()
        return {stream: (await js.stream_info(stream)).config.num_replicas for stream in streams}
    finally:
        await nc.close()


def test_gateway_restarted_with_three_replicas_brings_existing_streams_to_three(
    cluster: NatsCluster, prefix: str, tmp_path: Path
) -> None:
    """A gateway started with ARGOAI_NATS_REPLICAS=1 on the cluster, then restarted with 3: at start it
    reconciles every stream it declares (one info line each) and is ready; deliveries stored before remain."""
    names = StreamNames(prefix)
    streams = [
        names.webhooks_stream,
        names.jobs_stream,
        names.notify_stream,
        names.dead_letter_stream,
        object_store_stream(names.payload_bucket),
    ]
    first = GatewayProcess(cluster.url, tmp_path / "first.log", {"ARGOAI_NATS_REPLICAS": "1"}, prefix)
    first.start()
    try:
        first.wait_ready()
        stored = first.deliver()
        assert stored.status_code == 202
        assert first.signal_and_wait(signal.SIGTERM)[0] == 0
    finally:
        first.kill()
    assert asyncio.run(_replicas(cluster.urls, streams)) == dict.fromkeys(streams, 1)

    second = GatewayProcess(cluster.url, tmp_path / "second.log", {"ARGOAI_NATS_REPLICAS": "3"}, prefix)
    second.start()
    try:
        second.wait_ready()
        replay = second.deliver(stored.json()["delivery"])
        assert replay.json()["status"] == "duplicate"  # the delivery stored under R1 is still there
        assert second.signal_and_wait(signal.SIGTERM)[0] == 0
    finally:
        second.kill()
    assert asyncio.run(_replicas(cluster.urls, streams)) == dict.fromkeys(streams, 3)
    reconciled = second.lines("nats_replicas_reconciled")
    assert sorted(line["stream"] for line in reconciled) == sorted(streams)
    assert {(line["replicas_before"], line["replicas"], line["level"]) for line in reconciled} == {
        (1, 3, "info")
    }
    assert first.lines("nats_replicas_reconciled") == []


def test_reviewer_waits_while_the_cluster_is_too_small_to_create_its_streams(
    pair: NatsCluster, prefix: str
) -> None:
    """Replicas 3 on a 2-server cluster (a node down while streams do not exist yet): the reviewer logs that
    it is not ready and retries, with /readyz 503, instead of crashing; SIGTERM then ends it with exit 0."""
    port = free_port()
    env = user_env(
        ARGOAI_GITHUB_APP_ID="4242",
        ARGOAI_GITHUB_PRIVATE_KEY=app_key().pkcs1,
        ARGOAI_NATS_URL=pair.url,
        ARGOAI_NATS_PREFIX=prefix,
        ARGOAI_NATS_REPLICAS="3",
        ARGOAI_REVIEWER_METRICS_HOST="127.0.0.1",
    )
    process = subprocess.Popen(
        [ARGOAI, "reviewer", "--metrics-port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the reviewer exited instead of waiting"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 503:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(3)  # long enough for at least one failed attempt to be logged
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert '"reviewer not ready yet; retrying"' in output
    assert "Traceback" not in output
