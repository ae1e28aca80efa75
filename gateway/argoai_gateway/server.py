"""The gateway as one async component: the JetStream publisher plus a uvicorn server around the app.

:class:`GatewayServer` serves until a stop event is set, so that ``argoai gateway`` runs it alone and
``argoai dev`` runs it next to other components in one event loop; signal handling belongs to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
from collections.abc import Iterator

import uvicorn
import uvloop

from argoai_core.errors import ConfigError
from argoai_gateway.adapters.publisher import JetStreamPublisher
from argoai_gateway.app import GatewayAPI, GatewayDependencies, create_app
from argoai_gateway.settings import GatewayConfig

# How the grace period ends: closing the NATS connection gets this much, and this much more is left for the
# signal to be handled and the process to exit (on a busy node the interpreter's teardown alone can take
# most of a second).
_CLOSE_SECONDS = 1
_EXIT_RESERVE_SECONDS = 2


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handlers: the component's caller decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def uvicorn_config(app: GatewayAPI, host: str, port: int, grace_seconds: int) -> uvicorn.Config:
    """One worker on uvloop and httptools; no access log (one line per delivery costs throughput);
    requests in flight at shutdown get ``grace_seconds`` to finish."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        workers=1,
        lifespan="off",
        access_log=False,
        # Client addresses are not used; rewriting them from X-Forwarded-* on every request is wasted work.
        proxy_headers=False,
        # Keep the JSON logging configured by argoai_core.logs instead of uvicorn's own.
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=grace_seconds,
    )


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; ConfigError (one line) when the address is taken or invalid.

    Bound here rather than by uvicorn, which answers a taken port with ``sys.exit`` from inside its task.
    """
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        return socket.create_server(address[:2], family=family, backlog=2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


class GatewayServer:
    """The webhook gateway, listening on ``host:port`` until stopped."""

    name = "gateway"

    def __init__(self, config: GatewayConfig, host: str, port: int) -> None:
        self.config = config
        self.host = host
        self.port = port

    async def run(self, stop: asyncio.Event) -> None:
        """Connect to NATS in the background and serve HTTP until ``stop`` is set; returns within the grace
        period once it is, whatever NATS does. ConfigError when the NATS server cannot hold the configured
        replica count."""
        settings = self.config.gateway
        sock = listen(self.host, self.port)
        publisher = JetStreamPublisher(self.config.nats, settings)
        await publisher.start()
        try:
            deps = GatewayDependencies(
                publisher=publisher, secrets=self.config.webhook_secrets(), settings=settings
            )
            # Requests in flight get the grace period but its last seconds (closing NATS, exiting).
            grace = max(1, settings.grace_period_seconds - _CLOSE_SECONDS - _EXIT_RESERVE_SECONDS)
            server = _Server(uvicorn_config(create_app(deps), self.host, self.port, grace))
            serving = asyncio.create_task(server.serve(sockets=[sock]), name="uvicorn")
            stopping = asyncio.create_task(stop.wait(), name="gateway-stop")
            fatal = asyncio.create_task(publisher.wait_fatal(), name="nats-fatal")
            await asyncio.wait({serving, stopping, fatal}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
            stopping.cancel()
            await serving
            if fatal.done():
                fatal.result()  # raises the ConfigError
            fatal.cancel()
        finally:
            # NATS may be frozen (a close waiting on a full socket buffer): never wait longer than this.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CLOSE_SECONDS):
                    await publisher.close()
            sock.close()


async def run_until_signalled(server: GatewayServer) -> None:
    """Run ``server`` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.run(stop)


def tune_gc() -> None:
    """Make the garbage collector cheap for a long-running server (process-wide: call from an entrypoint).

    Objects alive after start-up (modules, FastAPI, pydantic, OTel) are moved out of the collector's reach
    with ``gc.freeze()``, so full collections stop rescanning them: in the benchmark this cut the p99 from
    about 50 ms to about 20 ms. A higher first-generation threshold makes young collections rarer.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def serve_forever(server: GatewayServer) -> None:
    """Run ``server`` on a uvloop event loop until SIGINT or SIGTERM."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_until_signalled(server))
