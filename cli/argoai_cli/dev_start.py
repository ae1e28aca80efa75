"""What ``argoai dev`` does: everything ArgoAI needs, locally, in one process, with nothing configured.

Runs the webhook gateway and (when the GitHub App is configured) the reviewer under one event loop until
Ctrl-C (SIGINT) or SIGTERM (:mod:`argoai_cli.dev_run`). NATS is the server at ``ARGOAI_NATS_URL`` when it is
one ArgoAI can use, otherwise an embedded nats-server storing under the state directory
(:mod:`argoai_cli.dev_nats`); Redis likewise (:mod:`argoai_cli.dev_redis`). A development webhook secret
is generated and kept in the state directory when none is configured. Flags are checked before anything
starts (:mod:`argoai_cli.dev_checks`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import typer
import uvloop

from argoai_cli.dev_checks import check_ports, usable_state_dir
from argoai_cli.dev_nats import choose_nats
from argoai_cli.dev_redis import RedisChoice, choose_redis, redis_printable
from argoai_cli.dev_run import Component, ComponentsStuckError, run_components
from argoai_cli.errors import config_errors
from argoai_cli.local_services import LocalProcess, ServiceError, free_port
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

SECRET_FILE = "webhook-secret"  # noqa: S105 - a file name, not a secret
# Stopping takes at most the reviewer's grace period plus this: the gateway's own graceful shutdown (5 s)
# and closing connections. A component still running then is cancelled.
SHUTDOWN_MARGIN_SECONDS = 5.0
# A Redis PING slower than this counts as Redis being down (the reviewer's own calls time out at 2 s too).
WATCH_TIMEOUT_SECONDS = 2.0


def _say(message: str) -> None:
    typer.echo(f"argoai dev: {message}")


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
        from argoai_cli.adapters.redis_ping import RedisPing
        from argoai_cli.dependency_watch import DependencyWatch
        from argoai_cli.dev_reviewer import ReviewerComponent

        parts.append(
            ReviewerComponent.build(
                github=github,
                nats=nats,
                redis=reviewer.redis,
                reviewer={"metrics_host": reviewer.metrics_host, "metrics_port": reviewer.metrics_port},
            )
        )
        ping = RedisPing(reviewer.redis_url, timeout=WATCH_TIMEOUT_SECONDS)
        parts.append(
            DependencyWatch(
                "redis",
                redis_printable(reviewer.redis_url),
                ping,
                timeout=WATCH_TIMEOUT_SECONDS,
                close=ping.aclose,
            )
        )
    return parts


@dataclass(frozen=True)
class ReviewerPlan:
    """How the reviewer runs inside ``argoai dev``: its Redis (overrides, and the URL it ends up using) and
    its health/metrics address."""

    redis: dict[str, object]
    redis_url: str
    metrics_host: str
    metrics_port: int


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


def start(host: str, port: int, metrics_port: int | None, state_dir: Path) -> None:
    """Check the flags and settings, start what is missing, print the banner, run until stopped."""
    from argoai_reviewer.settings import ReviewerSettings

    stuck: str | None = None
    # Outside the event loop (start-up, shutdown) SIGTERM unwinds like Ctrl-C: the servers dev started are
    # stopped instead of being left running in their own sessions.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with config_errors(), ExitStack() as started:
        common = load(CommonSettings)
        github_env = load(GitHubSettings)
        nats_env = load(NatsSettings)
        redis_env = load(RedisSettings)
        llm = load(LLMSettings)
        reviewer_env = load(ReviewerSettings)
        configure_logging(common.log_level)
        configure_tracing("argoai-dev")
        policy = _policy_source(common.policy_file)
        state_dir = usable_state_dir(state_dir)
        missing_app = missing_app_settings(github_env)
        ports = {"--port": port}
        if not missing_app:
            # Port 0 in ARGOAI_REVIEWER_METRICS_PORT means "any": pick it here so that the banner is true.
            metrics_port = metrics_port or reviewer_env.metrics_port or free_port()
            ports["--metrics-port"] = metrics_port
        check_ports(host, ports)

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

        try:
            chosen_nats = choose_nats(nats_env, state_dir, _say)
        except ServiceError as exc:
            typer.echo(f"argoai dev: cannot start an embedded nats-server: {exc}", err=True)
            raise typer.Exit(1) from None
        if chosen_nats.embedded is not None:
            started.callback(_stop_local, chosen_nats.embedded, "embedded nats-server stopped")
        nats: dict[str, object] = {} if chosen_nats.url is None else {"url": chosen_nats.url}

        plan: ReviewerPlan | None = None
        not_started = "not started: the GitHub App is not configured" if missing_app else ""
        redis_line = "not used (the reviewer is not started)"
        if not missing_app:
            redis: RedisChoice | None = None
            try:
                redis = choose_redis(redis_env.url, state_dir, _say)
            except ServiceError as exc:
                not_started = f"not started: {exc}"
                typer.echo(
                    f"argoai dev: the reviewer is {not_started}. Webhooks are still stored; "
                    "restart `argoai dev` once Redis is available to review them.",
                    err=True,
                )
            if redis is not None:
                if redis.local is not None:
                    started.callback(_stop_local, redis.local, "local redis-server stopped")
                redis_line = redis.banner
                plan = ReviewerPlan(
                    redis={} if redis.local is None else {"url": redis.url},
                    redis_url=redis.url,
                    metrics_host=host,
                    metrics_port=metrics_port or 0,
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
            f"  NATS      {chosen_nats.banner}\n"
            f"  Redis     {redis_line}\n"
            f"  reviewer  {reviewer_line}\n"
            f"  reviews   {reviews}\n"
            f"  analyzers {analyzers}\n"
            f"  policy    {policy}\n"
            "Ctrl-C stops everything"
        )
        stop_within = reviewer_env.grace_period_seconds + SHUTDOWN_MARGIN_SECONDS
        stuck = _run(parts, stop_within)
    if stuck is not None:
        # Some component ignored cancellation: the local servers were stopped above; leave now rather than
        # wait on it (interpreter shutdown would join its threads).
        _say(f"{stuck} did not stop: exiting without it")
        sys.stdout.flush()
        os._exit(1)
    _say("stopped")


def _exit_on_signal(signum: int, _: object) -> None:
    raise SystemExit(128 + signum)


def _run(parts: list[Component], stop_within: float) -> str | None:
    """Run ``parts`` on a uvloop event loop; the names of components that would not stop, else None."""
    runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    try:
        runner.run(run_components(parts, stop_within=stop_within, say=_say))
    except ComponentsStuckError as exc:
        # Closing the runner would wait for the stuck tasks: leave it to the process exit.
        return str(exc)
    except BaseException:
        runner.close()
        raise
    finally:
        # The loop's own handler is gone with it (SIGTERM is back to "die at once"): unwind instead.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    runner.close()
    return None


def _stop_local(process: LocalProcess, message: str) -> None:
    process.stop()
    _say(message)
