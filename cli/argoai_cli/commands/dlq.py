"""``argoai dlq``: the dead letters — jobs that failed for good and webhooks the intake gave up on — listed,
shown, replayed (republished under a new message id, recorded in the audit history) and purged."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from argoai_cli.errors import config_errors

if TYPE_CHECKING:
    from argoai_reviewer.audit.dead_letters import DeadLetter, DeadLetters

T = TypeVar("T")

app = typer.Typer(
    name="dlq",
    help="Dead letters: list, show, replay, purge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _run(work: Callable[[DeadLetters, Any], Awaitable[T]]) -> T:
    """Run ``work`` with the dead letters and the history publisher; exit 1 when NATS fails, 2 on a
    configuration error, 1 on a letter that does not exist or cannot be replayed."""
    from argoai_cli.audit_services import AuditConfig, nats_connection
    from argoai_core.adapters.history_stream import HistoryPublisher, ensure_history_stream
    from argoai_core.errors import ConfigError, PermanentError, UnavailableError
    from argoai_core.logs import configure_logging
    from argoai_reviewer.adapters.dead_letters import JetStreamDeadLetters
    from argoai_reviewer.audit.dead_letters import DeadLetters

    async def main() -> T:
        async with nats_connection(config, "argoai-dlq") as nc:
            js = nc.jetstream()
            await ensure_history_stream(js, config.names, config.history)
            history = HistoryPublisher(js, config.names, config.history)
            return await work(DeadLetters(JetStreamDeadLetters(js, config.names), config.names), history)

    with config_errors():
        config = AuditConfig.load()
        configure_logging(config.common.log_level)
        try:
            return asyncio.run(main())
        except ConfigError:
            raise
        except (UnavailableError, PermanentError) as exc:
            typer.echo(f"argoai: dlq: {exc}", err=True)
            raise typer.Exit(1) from None


def _echo_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=1, default=str))


@app.command("list")
def list_letters(
    repo: Annotated[str | None, typer.Option(help="Only this repository (owner/name)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """List dead letters, oldest first: id, kind, repository, pull request, reason, age, deliveries."""
    from argoai_core.sanitize import sanitize_terminal

    async def work(letters: DeadLetters, _: object) -> list[dict[str, Any]]:
        return [s for s in await letters.summaries() if repo is None or s["repo"] == repo]

    summaries = _run(work)
    if as_json:
        _echo_json(summaries)
        return
    header = ["ID", "KIND", "PULL REQUEST", "REASON", "AGE", "DELIVERIES", "ERROR"]
    rows = [
        [
            str(s["id"]),
            s["kind"],
            f"{s['repo']}#{s['pr']}" if s["repo"] else (s["delivery_id"] or "-"),
            s["reason"],
            _age(s["age_seconds"]),
            str(s["deliveries"]),
            sanitize_terminal(str(s["error"]))[:70].replace("\n", " "),
        ]
        for s in summaries
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    if not rows:
        typer.echo("(no dead letters)")


def _age(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command("show")
def show(letter_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="The dead letter's id")]) -> None:
    """Show one dead letter: its job (or webhook, or notification), and every failure of that job with its
    reason and time."""

    async def work(letters: DeadLetters, _: object) -> dict[str, Any]:
        letter = await letters.get(letter_id)
        failures = await letters.failures(letter)
        return {
            **letter.summary(),
            "job": letter.letter.job,
            "webhook": {"subject": letter.letter.subject, "headers": letter.letter.headers}
            if letter.letter.kind == "webhook"
            else None,
            "notification": letter.letter.notification,
            "failures": [
                {"id": f.id, "reason": f.letter.reason, "error": f.letter.error, "at": f.letter.failed_at}
                for f in failures
            ],
        }

    _echo_json(_run(work))


def _select(letters: list[DeadLetter], ids: list[int], repo: str | None, every: bool) -> list[DeadLetter]:
    if every:
        return letters
    if repo is not None:
        return [letter for letter in letters if letter.repo == repo]
    wanted = set(ids)
    chosen = [letter for letter in letters if letter.id in wanted]
    missing = wanted - {letter.id for letter in chosen}
    if missing:
        from argoai_core.errors import PermanentError

        raise PermanentError(f"no dead letter {', '.join(str(i) for i in sorted(missing))}")
    return chosen


def _check_selection(ids: list[int], repo: str | None, every: bool) -> None:
    given = sum([bool(ids), repo is not None, every])
    if given != 1:
        raise typer.BadParameter("name the letters: IDs, --repo R or --all (one of them)")


@app.command("replay")
def replay(
    ids: Annotated[list[int] | None, typer.Argument(metavar="[ID]...", help="Dead letter ids")] = None,
    repo: Annotated[str | None, typer.Option(help="Every dead letter of this repository")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter")] = False,
) -> None:
    """Publish dead-lettered jobs (or webhooks, or notifications) again under a new message id and remove
    their letters.

    A review job is reviewed at its pull request's current head. Each replay is recorded in the audit
    history (outcome ``replayed``, with who ran it)."""
    _check_selection(ids or [], repo, every)
    actor = getpass.getuser()

    async def work(letters: DeadLetters, history: Any) -> list[dict[str, Any]]:
        done = []
        for letter in _select(await letters.all(), ids or [], repo, every):
            replayed = await letters.replay(letter, actor=actor)
            await history.publish(replayed.record)
            done.append(
                {"id": letter.id, "message_id": replayed.message_id, "job_key": letter.job_key or None}
            )
        return done

    done = _run(work)
    _echo_json({"replayed": done})


@app.command("purge")
def purge(
    ids: Annotated[list[int] | None, typer.Argument(metavar="[ID]...", help="Dead letter ids")] = None,
    repo: Annotated[str | None, typer.Option(help="Every dead letter of this repository")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every dead letter")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Really delete them (required)")] = False,
) -> None:
    """Delete dead letters for good (they are not replayed)."""
    _check_selection(ids or [], repo, every)
    if not yes:
        raise typer.BadParameter("purging deletes dead letters for good: add --yes", param_hint="--yes")

    async def work(letters: DeadLetters, _: object) -> int:
        return await letters.purge(_select(await letters.all(), ids or [], repo, every))

    _echo_json({"purged": _run(work)})
