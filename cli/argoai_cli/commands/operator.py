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
    metrics_host: str = typer.Option("0.0.0.0", help="Address of /healthz, /readyz and /metrics"),
    metrics_port: int = typer.Option(9090, min=0, max=65535, help="Port of /healthz, /readyz and /metrics"),
    liveness: str | None = typer.Option(
        None,
        help="Also serve Kopf's own liveness endpoint at this URL (e.g. http://0.0.0.0:8080/healthz); "
        "default: off (/healthz on --metrics-port replaces it)",
    ),
    resync_seconds: float = typer.Option(60.0, min=5.0, help="Re-check every policy this often"),
    grace_period_seconds: float = typer.Option(
        10.0, min=1.0, help="On SIGTERM/SIGINT, time for running handlers to finish before exiting"
    ),
) -> None:
    """Run the operator until SIGTERM: validate ReviewPolicies, publish the effective set, write status.

    Kubernetes credentials: the pod's service account, else KUBECONFIG, else ~/.kube/config.
    """
    from argoai_core.logs import configure_logging
    from argoai_core.settings import CommonSettings, NatsSettings, load
    from argoai_operator.config import OperatorConfig
    from argoai_operator.main import RunOptions, run

    with config_errors():
        common = load(CommonSettings)
        configure_logging(common.log_level)
        config = OperatorConfig(
            nats=load(NatsSettings),
            resync_seconds=resync_seconds,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            grace_period_seconds=grace_period_seconds,
        )
        options = RunOptions(
            namespaces=namespace or (),
            standalone=standalone,
            priority=priority,
            peering_name=peering,
            liveness_endpoint=liveness or None,
        )
        status = run(config, options)
    if status:
        raise typer.Exit(status)
