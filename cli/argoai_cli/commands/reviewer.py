"""``argoai reviewer``: turn webhooks into review jobs and run reviews, with a health and metrics port."""

from __future__ import annotations

import typer

from argoai_cli.errors import config_errors
from argoai_cli.options import tcp_port


def command(
    metrics_port: int | None = typer.Option(
        None,
        callback=tcp_port,
        help="Port of /healthz, /readyz and /metrics (default: ARGOAI_REVIEWER_METRICS_PORT or 9090)",
    ),
) -> None:
    """Run the reviewer: consume pull_request webhooks and review jobs from JetStream until SIGTERM."""
    from argoai_reviewer.main import run

    with config_errors():
        run(metrics_port=metrics_port)
