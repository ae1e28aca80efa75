"""The real ``argoai operator`` while a dependency is down: it says so, is not ready, and stops on time.

Each dependency is broken the way it breaks in a cluster: NATS with nothing listening, NATS frozen (its
nats-server SIGSTOPped), the Kubernetes API with nothing listening, and an API server that accepts
connections and never answers. SIGTERM (the kubelet) and SIGINT (Ctrl-C) must end the process well within
its grace period (10 s by default) whatever the dependency does; a taken port and missing credentials are
one line and exit status 2.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import kmock
import pytest
from aiohttp import web

from argoai_cli.local_services import LocalProcess, free_port
from argoai_core.settings import NatsSettings
from kube.kube_emulator import Cluster, Emulator, declare_cluster, eventually, ready, write_kubeconfig
from kube.operator_process import CHART_ARGS, OperatorProcess, base_env, run_to_exit, start_operator, stopped

# Well under the grace period: a prompt exit, not one forced by the deadline (which exits with status 1).
PROMPT_EXIT_SECONDS = 5.0


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty HOME: no ~/.kube/config to fall back on."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def hanging_api() -> Iterator[str]:
    """An address that accepts TCP connections (the kernel's backlog) and never answers a byte."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def processes() -> Iterator[list[OperatorProcess]]:
    """Operator processes started by a test, killed at its end if still running."""
    started: list[OperatorProcess] = []
    yield started
    for process in started:
        process.kill()


def nothing_listening() -> str:
    return f"127.0.0.1:{free_port()}"


def freeze(server: LocalProcess) -> None:
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGSTOP)


async def assert_stops_promptly(operator: OperatorProcess, sig: signal.Signals) -> None:
    status, seconds = await operator.stop(sig)
    assert status == 0, operator.output
    assert seconds < PROMPT_EXIT_SECONDS, f"took {seconds:.1f}s:\n{operator.output}"
    assert "Traceback" not in operator.output
    assert operator.logged("operator stopped")[0]["forced"] is False


@pytest.mark.kmock(cls=Emulator)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_nats_unreachable(
    sig: signal.Signals, kmock: kmock.KubernetesEmulator, home: Path, tmp_path: Path, processes: list
) -> None:
    """Nothing listens at ARGOAI_NATS_URL: one warning naming it without credentials, 503, prompt exit."""
    declare_cluster(kmock, peering="argoai")
    address = nothing_listening()
    env = base_env(
        home,
        KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))),
        ARGOAI_NATS_URL=f"nats://operator:s3cr3t-pass@{address}",
    )
    operator = start_operator(env)
    processes.append(operator)
    warning = await operator.wait_for_log("NATS unavailable")
    assert warning["level"] == "warning"
    assert warning["target"] == f"nats://{address}"
    assert "Connect call failed" in warning["error"] or "refused" in warning["error"].lower()
    response = await operator.wait_for_status("/readyz", 503)
    assert f"NATS unavailable at nats://{address}" in response.text
    assert (await operator.get("/healthz")).status_code == 200
    assert "s3cr3t-pass" not in operator.output
    await assert_stops_promptly(operator, sig)
    assert len(operator.logged("NATS unavailable")) == 1


@pytest.mark.kmock(cls=Emulator)
@pytest.mark.parametrize(
    ("when", "sig"),
    [
        ("before", signal.SIGTERM),
        ("after", signal.SIGTERM),
        ("after", signal.SIGINT),
        ("publishing", signal.SIGTERM),
    ],
    ids=["before-SIGTERM", "after-SIGTERM", "after-SIGINT", "publishing-SIGTERM"],
)
async def test_nats_frozen(
    when: str,
    sig: signal.Signals,
    kmock: kmock.KubernetesEmulator,
    own_nats_server: LocalProcess,
    home: Path,
    tmp_path: Path,
    processes: list,
) -> None:
    """A nats-server that stops answering (SIGSTOP) before or after the operator connected, or while a
    handler publishes to it: detected, not ready, and still a prompt exit."""
    declare_cluster(kmock, peering="argoai")
    env = base_env(
        home,
        KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))),
        ARGOAI_NATS_URL=f"nats://127.0.0.1:{own_nats_server.port}",
    )
    if when == "before":
        freeze(own_nats_server)
    operator = start_operator(env)
    processes.append(operator)
    try:
        if when != "before":
            await operator.wait_for_status("/readyz", 200)
            freeze(own_nats_server)
        warning = await operator.wait_for_log("NATS unavailable", within=15)
        assert warning["target"] == f"nats://127.0.0.1:{own_nats_server.port}"
        await operator.wait_for_status("/readyz", 503)
        if when == "publishing":
            async with aiohttp.ClientSession(base_url=str(kmock.url).rstrip("/")) as session:
                cluster = Cluster(kmock, session)
                await cluster.create("ops", "acme", {"scope": {"orgs": ["acme"]}})
                # Kopf adds its finalizer first, then calls the handler, whose publish then hangs.
                await eventually(lambda: has_finalizer(cluster, "ops", "acme"))
                await asyncio.sleep(1)
        await assert_stops_promptly(operator, sig)
        if when == "publishing":
            assert "interrupted: the operator is stopping" in operator.output
    finally:
        assert own_nats_server.process is not None
        stopped(own_nats_server.process)


async def has_finalizer(cluster: Cluster, namespace: str, name: str) -> bool:
    obj = await cluster.get(namespace, name)
    return bool(obj and obj["metadata"].get("finalizers"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("api", ["unreachable", "hanging"])
async def test_kubernetes_api_down(
    api: str,
    sig: signal.Signals,
    hanging_api: str,
    nats_settings: NatsSettings,
    home: Path,
    tmp_path: Path,
    processes: list,
) -> None:
    """The API server refuses connections or never answers: one warning, 503 on /readyz, prompt exit."""
    server = f"http://{nothing_listening()}" if api == "unreachable" else hanging_api
    env = base_env(
        home,
        KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", server)),
        ARGOAI_NATS_URL=nats_settings.url,
        ARGOAI_NATS_PREFIX=nats_settings.prefix,
    )
    operator = start_operator(env)
    processes.append(operator)
    warning = await operator.wait_for_log("Kubernetes API unavailable")
    assert warning["target"] == server
    if api == "hanging":
        assert warning["error"].startswith("no answer within")
    response = await operator.wait_for_status("/readyz", 503)
    assert f"Kubernetes API unavailable at {server}" in response.text
    await assert_stops_promptly(operator, sig)
    # Kopf's own per-request retry lines are left to DEBUG: the probe's warning says it once.
    assert not [line for line in operator.lines if "Request attempt" in line]


async def test_kubernetes_api_back_after_start(
    nats_settings: NatsSettings, home: Path, tmp_path: Path, processes: list
) -> None:
    """An API down at start is waited for, not fatal: once it answers, one line, ready, reconciling."""
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    env = base_env(
        home,
        KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", server)),
        ARGOAI_NATS_URL=nats_settings.url,
        ARGOAI_NATS_PREFIX=nats_settings.prefix,
    )
    operator = start_operator(env)
    processes.append(operator)
    await operator.wait_for_log("Kubernetes API unavailable")
    async with Emulator() as emulator, kmock.Server(emulator, port=port):
        declare_cluster(emulator, peering="argoai")
        back = await operator.wait_for_log("Kubernetes API available again", within=20)
        assert back["target"] == server
        await operator.wait_for_status("/readyz", 200)
        async with aiohttp.ClientSession(base_url=server) as session:
            cluster = Cluster(emulator, session)
            await cluster.create("ops", "late", {"scope": {"orgs": ["acme"]}})
            # Kopf retries discovery with a growing delay (up to 30 s between attempts).
            await eventually(lambda: ready(cluster, "ops", "late", generation=1), seconds=45)
        await assert_stops_promptly(operator, signal.SIGTERM)


@pytest.mark.kmock(cls=Emulator)
async def test_nats_back_after_a_failed_publish(
    kmock: kmock.KubernetesEmulator,
    own_nats_server: LocalProcess,
    home: Path,
    tmp_path: Path,
    processes: list,
) -> None:
    """NATS down: the publish fails (counted), the policy waits; NATS back: one line, then Ready."""
    declare_cluster(kmock, peering="argoai")
    own_nats_server.stop()
    env = base_env(
        home,
        KUBECONFIG=str(write_kubeconfig(tmp_path / "kubeconfig", str(kmock.url).rstrip("/"))),
        ARGOAI_NATS_URL=f"nats://127.0.0.1:{own_nats_server.port}",
    )
    operator = start_operator(env)
    processes.append(operator)
    await operator.wait_for_log("NATS unavailable")
    async with aiohttp.ClientSession(base_url=str(kmock.url).rstrip("/")) as session:
        cluster = Cluster(kmock, session)
        await cluster.create("ops", "acme", {"scope": {"orgs": ["acme"]}})

        async def publish_failed() -> bool:
            return await operator.metric("argoai_operator_publish_failures_total") >= 1

        await eventually(publish_failed, seconds=20)
        assert await operator.metric("argoai_operator_reconciles_total", outcome="error") >= 1
        assert await operator.metric("argoai_operator_policies", condition="Ready") == 0
        assert await cluster.get("ops", "acme") is not None

        own_nats_server.start()
        back = await operator.wait_for_log("NATS available again", within=20)
        assert back["target"] == f"nats://127.0.0.1:{own_nats_server.port}"
        await eventually(lambda: ready(cluster, "ops", "acme", generation=1), seconds=30)
    assert await operator.metric("argoai_operator_policies", condition="Ready") == 1
    await operator.wait_for_status("/readyz", 200)
    await assert_stops_promptly(operator, signal.SIGTERM)
    assert len(operator.logged("NATS available again")) == 1


EXEC_USER = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws"}}
EXEC_HINT = (
    "; it holds no token, client certificate or password (exec plugins such as `aws eks get-token` or "
    "`kubelogin` are not run)"
)


@pytest.mark.parametrize("user", [None, EXEC_USER], ids=["token", "exec-plugin"])
async def test_refused_credentials_end_in_one_line_and_status_2(
    user: dict | None, nats_settings: NatsSettings, home: Path, tmp_path: Path, processes: list
) -> None:
    """An API server answering 401 to every request (also after a fresh login): one line, exit 2; a
    kubeconfig user that needs an exec plugin is named as the likely cause."""

    async def unauthorized(_: web.Request) -> web.Response:
        return web.json_response({"kind": "Status", "reason": "Unauthorized", "code": 401}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unauthorized)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        server = f"http://127.0.0.1:{port}"
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server, user)
        env = base_env(home, KUBECONFIG=str(kubeconfig), ARGOAI_NATS_URL=nats_settings.url)
        operator = start_operator(env)
        processes.append(operator)
        status = await asyncio.to_thread(operator.process.wait, 30)
    finally:
        await runner.cleanup()
    assert status == 2, operator.output
    errors = [line for line in operator.lines if line.startswith("argoai: ")]
    assert errors == [
        f"argoai: configuration error: the Kubernetes API at {server} refused the credentials from "
        f"kubeconfig KUBECONFIG ({kubeconfig}) (401 Unauthorized, also after logging in again)"
        + (EXEC_HINT if user else "")
    ]
    assert "Traceback" not in operator.output
    assert "exc_info" not in operator.output


def test_no_credentials_is_one_line_and_status_2(home: Path) -> None:
    """No service account, no KUBECONFIG, no ~/.kube/config: one line naming what was looked for, exit 2."""
    result = run_to_exit(base_env(home), CHART_ARGS)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("argoai: configuration error: no Kubernetes API credentials found")
    for looked_for in ("/var/run/secrets/kubernetes.io/serviceaccount/token", "KUBECONFIG", str(home)):
        assert looked_for in lines[0]


def test_missing_kubeconfig_file_is_one_line_and_status_2(home: Path, tmp_path: Path) -> None:
    """KUBECONFIG naming a file that does not exist: one line naming it, exit 2."""
    missing = tmp_path / "nowhere" / "config"
    result = run_to_exit(base_env(home, KUBECONFIG=str(missing)), CHART_ARGS)
    assert result.returncode == 2
    prefix = f"argoai: configuration error: KUBECONFIG ({missing})"
    assert result.stderr.splitlines() == [f"{prefix}: cannot read {missing}: No such file or directory"]


@pytest.mark.parametrize("flag", ["--metrics-port", "--liveness"])
def test_taken_port_is_one_line_and_status_2(flag: str, home: Path, tmp_path: Path) -> None:
    """The metrics port (or Kopf's liveness port) already taken: one line naming the flag, exit 2."""
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://{nothing_listening()}")
        args = [*CHART_ARGS, "--metrics-host", "127.0.0.1"]
        if flag == "--metrics-port":
            args += ["--metrics-port", str(port)]
        else:
            args += ["--metrics-port", str(free_port()), "--liveness", f"http://127.0.0.1:{port}/healthz"]
        result = run_to_exit(base_env(home, KUBECONFIG=str(kubeconfig)), args)
    finally:
        taken.close()
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines == [
        f"argoai: configuration error: {flag}: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
