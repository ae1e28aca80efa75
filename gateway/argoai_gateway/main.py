"""Entrypoint of ``argoai gateway``: settings, logging and tracing once, then serve."""

from __future__ import annotations

from argoai_core.logs import configure_logging
from argoai_core.telemetry import configure_tracing
from argoai_gateway.server import GatewayServer, serve_forever, tune_gc
from argoai_gateway.settings import load_gateway_config


def run(host: str, port: int) -> None:
    """Serve the gateway on ``host:port``; ConfigError (e.g. no webhook secret) before anything starts."""
    config = load_gateway_config()
    configure_logging(config.common.log_level)
    configure_tracing("argoai-gateway")
    server = GatewayServer(config, host, port)
    tune_gc()
    serve_forever(server)
