"""``argoai dev``: everything ArgoAI needs, locally, in one process, with nothing configured.

Runs a list of async components under one event loop until Ctrl-C (SIGINT) or SIGTERM. Today that is the
webhook gateway; the reviewer joins as one more component in :func:`components` (anything with
``name`` and ``async run(stop)`` fits). NATS is the server at ``ARGOAI_NATS_URL`` when one answers there,
otherwise an embedded nats-server with JetStream storing under the state directory. A development webhook
secret is generated and kept in the state directory when none is configured.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from pathlib import Path
from typing import Annotated, Protocol
from urllib.parse import urlsplit

import typer
import uvloop

from argoai_cli.errors import config_errors
from argoai_cli.local_services import LocalProcess, ServiceError, nats_process, port_open
from argoai_core.errors import ConfigError
from argoai_core.logs import configure_logging
from argoai_core.settings import CommonSettings, GitHubSettings, LLMSettings, NatsSettings, load
from argoai_core.telemetry import configure_tracing

DEFAULT_STATE_DIR = Path(".argoai")
SECRET_FILE = "webhook-secret"  # noqa: S105 - a file name, not a secret


class Component(Protocol):
    """One long-running part of ArgoAI inside ``argoai dev``."""

    name: str

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then release everything and return."""
        ...


def _say(message: str) -> None:
    typer.echo(f"argoai dev: {message}")


def _nats_answers(url: str) -> bool:
    """Whether the first server of ``url`` accepts TCP connections."""
    first = urlsplit(url.split(",")[0].strip())
    return port_open(first.hostname or "127.0.0.1", first.port or 4222)


def _without_credentials(url: str) -> str:
    """``url`` without a user or password, fit to print."""
    parts = [urlsplit(server.strip()) for server in url.split(",")]
    return ",".join(f"{part.scheme}://{part.hostname}:{part.port or 4222}" for part in parts)


def _start_embedded_nats(state_dir: Path) -> LocalProcess:
    server = nats_process(state_dir / "nats")
    server.start()
    return server


def _dev_webhook_secret(state_dir: Path) -> str:
    """The development webhook secret kept in ``state_dir``, generated on first use (mode 0600)."""
    path = state_dir / SECRET_FILE
    if path.is_file():
        return path.read_text().strip()
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def components(host: str, port: int, github: dict[str, object], nats: dict[str, object]) -> list[Component]:
    """The components ``argoai dev`` runs, all in one event loop.

    The reviewer joins here as one more :class:`Component`, built from the same ``github`` and ``nats``
    overrides (the development webhook secret, the embedded NATS URL) as the gateway.
    """
    from argoai_gateway.server import GatewayServer
    from argoai_gateway.settings import load_gateway_config

    gateway = GatewayServer(load_gateway_config(github=github, nats=nats), host, port)
    return [gateway]


async def run_components(parts: list[Component]) -> None:
    """Run ``parts`` until SIGINT/SIGTERM or until one of them ends or fails (then the others stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def run(part: Component) -> None:
        try:
            await part.run(stop)
        finally:
            # One component ending means local ArgoAI is incomplete: stop the others too.
            stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            for part in parts:
                group.create_task(run(part), name=part.name)
    except BaseExceptionGroup as group:
        # A component's configuration error (e.g. the port is taken) is reported as one line, not a trace.
        config = [error for error in group.exceptions if isinstance(error, ConfigError)]
        if config:
            raise config[0] from None
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def command(
    host: str = typer.Option("127.0.0.1", help="Address the gateway listens on"),
    port: int = typer.Option(8080, help="Port the gateway listens on"),
    state_dir: Annotated[
        Path, typer.Option(help="Where local state lives (NATS store, dev secret)")
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Run ArgoAI locally: the webhook gateway, with an embedded NATS when none answers."""
    with config_errors():
        state_dir.mkdir(parents=True, exist_ok=True)
        github_env = load(GitHubSettings)
        nats_env = load(NatsSettings)
        llm = load(LLMSettings)
        configure_logging(load(CommonSettings).log_level)
        configure_tracing("argoai-dev")

        github: dict[str, object] = {}
        if github_env.webhook_secret is None:
            secret = _dev_webhook_secret(state_dir)
            github["webhook_secret"] = secret
            _say(
                "no ARGOAI_GITHUB_WEBHOOK_SECRET set: using the development secret kept in "
                f"{state_dir / SECRET_FILE}: {secret}"
            )
        if github_env.app_id is None or github_env.private_key is None:
            _say(
                "GitHub App not configured (ARGOAI_GITHUB_APP_ID, ARGOAI_GITHUB_PRIVATE_KEY): "
                "deliveries are stored, but nothing can be posted to GitHub"
            )
        if not llm.configured:
            _say(
                "LLM not configured (ARGOAI_LLM_PROVIDER, ARGOAI_LLM_MODEL, ARGOAI_LLM_API_KEY): "
                "only the built-in checks would run"
            )

        embedded: LocalProcess | None = None
        nats: dict[str, object] = {}
        if _nats_answers(nats_env.url):
            _say(f"using NATS at {_without_credentials(nats_env.url)}")
        else:
            try:
                embedded = _start_embedded_nats(state_dir)
            except ServiceError as exc:
                typer.echo(f"argoai dev: cannot start an embedded nats-server: {exc}", err=True)
                raise typer.Exit(1) from None
            nats["url"] = f"nats://127.0.0.1:{embedded.port}"
            _say(
                f"no NATS answers at {_without_credentials(nats_env.url)}: "
                f"started an embedded nats-server at {nats['url']} "
                f"(JetStream store in {state_dir / 'nats'})"
            )
        try:
            parts = components(host, port, github, nats)
            _say(f"starting the gateway on http://{host}:{port}/webhooks/github; Ctrl-C stops everything")
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(run_components(parts))
        finally:
            if embedded is not None:
                embedded.stop()
                _say("embedded nats-server stopped")
        _say("stopped")
