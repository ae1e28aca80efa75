"""``argoai redeliver``: the scheduled job that asks GitHub to redeliver failed webhook deliveries."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from argoai_cli.errors import config_errors
from argoai_cli.signals import StoppedBySignalError, run_until_signalled

if TYPE_CHECKING:
    from argoai_core.settings import GitHubSettings, RedisSettings
    from argoai_reviewer.redeliver.job import RedeliverySummary
    from argoai_reviewer.redeliver.settings import RedeliverSettings


def command(
    max_redeliveries: Annotated[
        int | None,
        typer.Option(min=1, help="Redelivery requests this run may make (default: settings)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be redelivered; change nothing")
    ] = False,
) -> None:
    """Page GitHub's webhook delivery log back to the last checkpoint and redeliver failed deliveries.

    Prints one JSON line (what was scanned, redelivered, skipped, the checkpoint). Exit status 0 when the
    run did its work, was rate limited (it resumes next time) or found another run holding the lock;
    1 when GitHub or Redis failed or GitHub refused a redelivery; 2 on a configuration error; 128 + the
    signal's number when SIGTERM or SIGINT stopped it (at once, whatever it was waiting for).
    """
    from argoai_core.errors import ArgoAIError, ConfigError
    from argoai_core.logs import configure_logging, get_logger
    from argoai_core.settings import CommonSettings, GitHubSettings, RedisSettings, load
    from argoai_reviewer.redeliver.settings import RedeliverSettings

    with config_errors():
        common = load(CommonSettings)
        github = load(GitHubSettings)
        redis = load(RedisSettings)
        settings = load(RedeliverSettings)
        if max_redeliveries is not None:
            settings = settings.model_copy(update={"max_redeliveries": max_redeliveries})
        configure_logging(common.log_level)
        try:
            summary = run_until_signalled(run(github, redis, settings, dry_run=dry_run))
        except StoppedBySignalError as stopped:
            get_logger(__name__).warning("redeliver_stopped", signal=str(stopped))
            typer.echo(
                f"argoai: redeliver stopped by {stopped} before the run finished; "
                "the next run does what is left",
                err=True,
            )
            raise typer.Exit(128 + stopped.signum) from None
        except ConfigError:
            raise
        except ArgoAIError as exc:
            get_logger(__name__).error("redeliver_failed", error=str(exc), kind=type(exc).__name__)
            typer.echo(f"argoai: redeliver failed: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(json.dumps(summary.as_dict(), separators=(",", ":")))
    if summary.rejected:
        raise typer.Exit(1)


async def run(
    github: GitHubSettings, redis: RedisSettings, settings: RedeliverSettings, *, dry_run: bool = False
) -> RedeliverySummary:
    """Wire the GitHub App, the Redis state and the run lock, and run the job once."""
    from argoai_reviewer.adapters.github import GitHubAppAdapter
    from argoai_reviewer.adapters.redeliver_state import RedisRedeliveryState, lock_key
    from argoai_reviewer.adapters.redis_state import RedisConnection, RedisReviewLock
    from argoai_reviewer.redeliver.job import Redeliverer, RedeliverLimits

    connection = RedisConnection.from_settings(redis, timeout=settings.redis_timeout_seconds)
    app = GitHubAppAdapter(github, connection.client, key_prefix=redis.key_prefix)
    try:
        job = Redeliverer(
            app,
            RedisRedeliveryState(connection, app.host),
            RedisReviewLock(connection),
            lock_key=lock_key(app.host),
            limits=RedeliverLimits(
                max_redeliveries=settings.max_redeliveries,
                max_pages=settings.max_pages,
                settle_seconds=settings.settle_seconds,
                max_age_seconds=settings.max_age_seconds,
                cooldown_seconds=settings.cooldown_seconds,
                spacing_seconds=settings.spacing_seconds,
                lock_ttl_seconds=settings.lock_ttl_seconds,
            ),
        )
        return await job.run(dry_run=dry_run)
    finally:
        await app.aclose()
        await connection.aclose()
