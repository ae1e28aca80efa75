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
import socket
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol
from urllib.parse import urlsplit

import typer
import uvloop

from argoai_cli.errors import config_errors
from argoai_cli.local_services import LocalProcess, ServiceError, nats_process, port_open, redis_process
from argoai_core.errors import ConfigError
from argoai_core.logs import configure_logging
from argoai_core.policy_set import load_policy_file
from argoai_core.settings import (
    CommonSettings,
    GitHubSettings,
    LLMSettings,
    NatsSettings,
    RedisSettings,
    load,
)
from argoai_core.telemetry import configure_tracing
from argoai_reviewer.analysis.analyzers import AnalyzerRunner, describe

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


def components(
    host: str,
    port: int,
    github: dict[str, object],
    nats: dict[str, object],
    reviewer: ReviewerPlan | None = None,
) -> list[Component]:
    """The components ``argoai dev`` runs, all in one event loop: the gateway, and the reviewer when
    ``reviewer`` says how (Redis and its health port), built from the same ``github`` and ``nats`` overrides
    (the development webhook secret, the embedded NATS URL) as the gateway."""
    from argoai_gateway.server import GatewayServer
    from argoai_gateway.settings import load_gateway_config

    parts: list[Component] = [GatewayServer(load_gateway_config(github=github, nats=nats), host, port)]
    if reviewer is not None:
        from argoai_cli.dev_reviewer import ReviewerComponent

        parts.append(
            ReviewerComponent.build(
                github=github,
                nats=nats,
                redis=reviewer.redis,
                reviewer={"metrics_host": reviewer.metrics_host, "metrics_port": reviewer.metrics_port},
            )
        )
    return parts


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


@dataclass(frozen=True)
class ReviewerPlan:
    """How the reviewer runs inside ``argoai dev``: its Redis overrides and its health/metrics address."""

    redis: dict[str, object]
    metrics_host: str
    metrics_port: int


def _redis_answers(url: str) -> bool:
    """Whether the Redis of ``url`` accepts connections (TCP, or a unix socket)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(0.3)
            try:
                sock.connect(parts.path)
            except OSError:
                return False
            return True
    return port_open(parts.hostname or "127.0.0.1", parts.port or 6379)


def _redis_printable(url: str) -> str:
    """``url`` without a user or password, fit to print."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def missing_app_settings(github: GitHubSettings) -> list[str]:
    """The GitHub App settings that are not set; the reviewer cannot act on GitHub without them."""
    missing = []
    if github.app_id is None:
        missing.append("ARGOAI_GITHUB_APP_ID")
    if github.private_key is None:
        missing.append("ARGOAI_GITHUB_PRIVATE_KEY (or ARGOAI_GITHUB_PRIVATE_KEY_FILE)")
    return missing


def _policy_source(policy_file: Path | None) -> str:
    """Where reviews take their policy from; ConfigError when ``ARGOAI_POLICY_FILE`` is invalid."""
    if policy_file is None:
        return (
            "built-in defaults (no ARGOAI_POLICY_FILE; ReviewPolicy sets published to NATS by "
            "`argoai operator` apply when present)"
        )
    count = len(list(load_policy_file(policy_file)))
    return f"ARGOAI_POLICY_FILE {policy_file} ({count} ReviewPolicy document{'s' if count != 1 else ''})"


def command(
    host: str = typer.Option("127.0.0.1", help="Address the gateway and the reviewer's metrics listen on"),
    port: int = typer.Option(8080, help="Port the gateway listens on"),
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Port of the reviewer's /metrics (default: ARGOAI_REVIEWER_METRICS_PORT or 9090)"),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Where local state lives (NATS store, Redis data, dev secret)")
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Run ArgoAI locally: gateway and reviewer, with an embedded NATS and a local Redis when none answers."""
    from argoai_reviewer.settings import ReviewerSettings

    with config_errors(), ExitStack() as started:
        state_dir.mkdir(parents=True, exist_ok=True)
        common = load(CommonSettings)
        github_env = load(GitHubSettings)
        nats_env = load(NatsSettings)
        redis_env = load(RedisSettings)
        llm = load(LLMSettings)
        reviewer_env = load(ReviewerSettings)
        configure_logging(common.log_level)
        configure_tracing("argoai-dev")
        policy = _policy_source(common.policy_file)

        github: dict[str, object] = {}
        if github_env.webhook_secret is None:
            secret = _dev_webhook_secret(state_dir)
            github["webhook_secret"] = secret
            _say(
                "no ARGOAI_GITHUB_WEBHOOK_SECRET set: using the development secret kept in "
                f"{state_dir / SECRET_FILE}: {secret}"
            )
        # Without the App the reviewer could not read a pull request nor post a review: its jobs would
        # fail and be dead-lettered. Not starting it keeps every delivery in the webhooks stream instead,
        # where the reviewer's durable intake consumer finds it once the App is configured.
        missing_app = missing_app_settings(github_env)
        if missing_app:
            _say(
                f"GitHub App not configured ({', '.join(missing_app)} not set): the reviewer is not started. "
                "Webhooks are still verified and stored in NATS (kept 3 days); set these and restart "
                "`argoai dev` to review them."
            )
        if not llm.configured:
            _say(
                "LLM not configured (ARGOAI_LLM_PROVIDER, ARGOAI_LLM_MODEL, ARGOAI_LLM_API_KEY): "
                "reviews run the built-in checks only (the analyzers: secrets, merge-conflict markers, "
                "debugger leftovers, and the static-analysis tools listed below)"
            )

        nats: dict[str, object] = {}
        if _nats_answers(nats_env.url):
            nats_line = f"{_without_credentials(nats_env.url)} (external)"
            _say(f"using NATS at {_without_credentials(nats_env.url)}")
        else:
            try:
                embedded = _start_local(nats_process(state_dir / "nats"))
            except ServiceError as exc:
                typer.echo(f"argoai dev: cannot start an embedded nats-server: {exc}", err=True)
                raise typer.Exit(1) from None
            started.callback(_stop_local, embedded, "embedded nats-server stopped")
            nats["url"] = f"nats://127.0.0.1:{embedded.port}"
            nats_line = f"{nats['url']} (embedded nats-server, JetStream store in {state_dir / 'nats'})"
            _say(
                f"no NATS answers at {_without_credentials(nats_env.url)}: "
                f"started an embedded nats-server at {nats['url']} "
                f"(JetStream store in {state_dir / 'nats'})"
            )

        plan: ReviewerPlan | None = None
        not_started = "not started: the GitHub App is not configured" if missing_app else ""
        redis_line = "not used (the reviewer is not started)"
        if not missing_app:
            redis: dict[str, object] = {}
            if _redis_answers(redis_env.url):
                redis_line = f"{_redis_printable(redis_env.url)} (external)"
                _say(f"using Redis at {_redis_printable(redis_env.url)}")
            else:
                try:
                    local = _start_local(redis_process(state_dir / "redis", persistent=True))
                except ServiceError as exc:
                    not_started = (
                        f"not started: no Redis answers at {_redis_printable(redis_env.url)}, and {exc}"
                    )
                    typer.echo(
                        f"argoai dev: the reviewer is {not_started}. Webhooks are still stored; "
                        "restart `argoai dev` once Redis is available to review them.",
                        err=True,
                    )
                else:
                    started.callback(_stop_local, local, "local redis-server stopped")
                    redis["url"] = f"redis://127.0.0.1:{local.port}/0"
                    redis_line = f"{redis['url']} (local redis-server, data in {state_dir / 'redis'})"
                    _say(
                        f"no Redis answers at {_redis_printable(redis_env.url)}: "
                        f"started a local redis-server at {redis['url']}"
                    )
            if not not_started:
                plan = ReviewerPlan(
                    redis=redis,
                    metrics_host=host,
                    metrics_port=reviewer_env.metrics_port if metrics_port is None else metrics_port,
                )

        analyzers = describe(AnalyzerRunner().available())
        parts = components(host, port, github, nats, plan)
        reviews = f"LLM {llm.provider} {llm.model}" if llm.configured else "built-in checks only (no LLM)"
        if llm.configured and llm.base_url:
            reviews += f" at {llm.base_url}"
        reviewer_line = (
            f"metrics http://{host}:{plan.metrics_port}/metrics" if plan is not None else not_started
        )
        _say(
            "running\n"
            f"  gateway   http://{host}:{port}/webhooks/github\n"
            f"  NATS      {nats_line}\n"
            f"  Redis     {redis_line}\n"
            f"  reviewer  {reviewer_line}\n"
            f"  reviews   {reviews}\n"
            f"  analyzers {analyzers}\n"
            f"  policy    {policy}\n"
            "Ctrl-C stops everything"
        )
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_components(parts))
    _say("stopped")


def _start_local(process: LocalProcess) -> LocalProcess:
    """Start ``process`` in a session of its own: Ctrl-C reaches only ``argoai dev``, which stops it last."""
    process.detach = True
    process.start()
    return process


def _stop_local(process: LocalProcess, message: str) -> None:
    process.stop()
    _say(message)
