"""The reviewer's HTTP port: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics`` (Prometheus).

It runs on the reviewer's own event loop, on purpose: a loop blocked by a bug stops answering ``/healthz``,
and Kubernetes restarts the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from argoai_core.errors import ConfigError


def health_app(ready: Callable[[], bool], registry: CollectorRegistry = REGISTRY) -> Starlette:
    """The ASGI app; ``ready()`` says whether this pod should receive work (connected, consuming)."""

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(_: Request) -> Response:
        if ready():
            return PlainTextResponse("ready\n")
        return PlainTextResponse("not ready\n", status_code=503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The reviewer owns SIGTERM (it drains its consumers first); uvicorn must not take it over.
        yield


class HealthServer:
    """Serves :func:`health_app` on ``host:port`` (port 0 picks a free one) inside the running event loop."""

    def __init__(self, host: str, port: int, ready: Callable[[], bool]) -> None:
        self._host = host
        self._port = port
        config = uvicorn.Config(
            health_app(ready),
            host=host,
            port=port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start listening; returns once the port accepts connections. ConfigError when the port is taken."""
        try:
            # Bound here rather than by uvicorn, which would exit the process on a taken port.
            family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
            sock = socket.create_server((self._host, self._port), family=family)
        except OSError as exc:
            where = f"{self._host}:{self._port}"
            raise ConfigError(
                f"ARGOAI_REVIEWER_METRICS_PORT: cannot listen on {where}: {exc.strerror or exc}"
            ) from None
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (e.g. the port is taken)
                raise RuntimeError("health server exited before it started")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        """The port actually listened on."""
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._task = None
