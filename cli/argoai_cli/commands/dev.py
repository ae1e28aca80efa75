"""``argoai dev``: the gateway and the reviewer in one process, with an embedded NATS and a local Redis when
none answers (see :mod:`argoai_cli.dev_start`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from argoai_cli.options import tcp_port

DEFAULT_STATE_DIR = Path(".argoai")


def command(
    host: str = typer.Option("127.0.0.1", help="Address the gateway and the reviewer's metrics listen on"),
    port: int = typer.Option(8080, callback=tcp_port, help="Port the gateway listens on"),
    metrics_port: Annotated[
        int | None,
        typer.Option(
            callback=tcp_port,
            help="Port of the reviewer's /metrics (default: ARGOAI_REVIEWER_METRICS_PORT or 9090)",
        ),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where local state lives (NATS store, Redis data, dev secret)")
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Run ArgoAI locally: gateway and reviewer, with an embedded NATS and a local Redis when none answers."""
    from argoai_cli.dev_start import start

    start(host, port, metrics_port, state_dir)
