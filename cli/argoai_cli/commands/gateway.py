"""``argoai gateway``: receive GitHub webhooks and store them in JetStream."""

from __future__ import annotations

import typer

from argoai_cli.errors import config_errors
from argoai_cli.options import tcp_port


def command(
    host: str = typer.Option("0.0.0.0", help="Address to listen on"),
    port: int = typer.Option(8080, callback=tcp_port, help="Port to listen on"),
) -> None:
    """Run the webhook gateway (FastAPI): verify, deduplicate and publish deliveries to JetStream."""
    from argoai_gateway.main import run

    with config_errors():
        run(host=host, port=port)
