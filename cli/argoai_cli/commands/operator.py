"""``argoai operator``: reconcile ReviewPolicy resources into the policy set reviewers follow (Kopf)."""

from __future__ import annotations

from typing import Annotated

import typer

from argoai_cli.errors import config_errors


def command(
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace", "-n", help="Watch only these namespaces (repeatable); default: every one"
        ),
    ] = None,
    standalone: bool = typer.Option(
        False, help="No peering: only for a single replica or a local run (several replicas need peering)"
    ),
    priority: int | None = typer.Option(None, help="Peering priority (default: random per process)"),
    peering: str = typer.Option("argoai", help="Name of the KopfPeering object the replicas share"),
    liveness: str | None = typer.Option(
        "http://0.0.0.0:8080/healthz", help="Kopf liveness endpoint URL; empty to disable"
    ),
    resync_seconds: float = typer.Option(60.0, min=5.0, help="Re-check every policy this often"),
) -> None:
    """Run the operator until SIGTERM: validate ReviewPolicies, publish the effective set, write status."""
    from argoai_core.logs import configure_logging
    from argoai_core.settings import CommonSettings, NatsSettings, load
    from argoai_operator.config import OperatorConfig
    from argoai_operator.main import run

    with config_errors():
        common = load(CommonSettings)
        configure_logging(common.log_level)
        config = OperatorConfig(nats=load(NatsSettings), resync_seconds=resync_seconds)
        run(
            config,
            namespaces=namespace or (),
            standalone=standalone,
            priority=priority,
            peering_name=peering,
            liveness_endpoint=liveness or None,
        )
