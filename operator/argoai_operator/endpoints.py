"""The operator's HTTP port: ``/healthz`` (liveness), ``/readyz`` (readiness), ``/metrics`` (Prometheus).

Served on the main thread's event loop, apart from Kopf's: it answers while Kopf is starting, waiting for
the API or stopping, and says why the operator is not ready (``/readyz`` lists the reasons).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from argoai_core.errors import ConfigError


def endpoints_app(
    alive: Callable[[], bool], not_ready: Callable[[], list[str]], registry: CollectorRegistry
) -> Starlette:
    """The ASGI app; ``not_ready()`` lists why the operator is not ready (empty: ready)."""

    async def healthz(_: Request) -> Response:
        if alive():
            return PlainTextResponse("ok\n")
        return PlainTextResponse("Kopf's event loop is not answering\n", status_code=503)

    async def readyz(_: Request) -> Response:
        reasons = not_ready()
        if not reasons:
            return PlainTextResponse("ready\n")
        return PlainTextResponse("".join(f"not ready: {reason}\n" for reason in reasons), status_code=503)

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    )


def bind(host: str, port: int, option: str) -> socket.socket:
    """A listening socket on ``host:port``, or ConfigError naming ``option`` (e.g. the port is taken)."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConfigError(f"{option}: cannot listen on {host}:{port}: {reason}") from None


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The operator owns SIGTERM and SIGINT (main.py); uvicorn must not take them over.
        yield


class EndpointServer:
    """Serves :func:`endpoints_app` on ``host:port`` (0 picks a free port) inside the running event loop."""

    def __init__(self, host: str, port: int, app: Starlette) -> None:
        self._host = host
        self._port = port
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen; returns once the port accepts connections. ConfigError when it is taken."""
        sock = bind(self._host, self._port, "--metrics-port")
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="endpoints")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the HTTP server exited before it started")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        """The port actually listened on."""
        port: int = self._server.servers[0].sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop listening (open connections get a second at most)."""
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            async with asyncio.timeout(2):
                await self._task
        except TimeoutError:
            self._task.cancel()
        self._task = None
