"""``argoai history``: what ArgoAI did — the audit history, brought up to date from the history stream, as a
table or JSON. Reads the same settings as the reviewer (ARGOAI_NATS_*, ARGOAI_HISTORY_*)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated

import typer

from argoai_cli.errors import config_errors

if TYPE_CHECKING:
    from argoai_cli.audit_services import AuditConfig
    from argoai_core.models.history import HistoryRecord
    from argoai_reviewer.audit.store import HistoryStore


def command(
    repo: Annotated[str | None, typer.Option(help="Only this repository (owner/name)")] = None,
    pr: Annotated[int | None, typer.Option(min=1, help="Only this pull request (with --repo)")] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="Only this outcome: posted, updated, skipped, duplicate, superseded, failed, "
            "retried, dead_lettered, replayed"
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From this ISO date/time, or an age: 7d, 12h, 30m")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO date/time, or an age")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Records to print, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table")] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not read the stream: print what the query store holds")
    ] = False,
) -> None:
    """Print the audit history (newest first): reviews posted, skips, duplicates, failures, dead letters,
    replays and commands, with findings, tokens, cost and duration.

    The query store (ARGOAI_HISTORY_STORE) is first brought up to date from the history stream. Exit status
    1 when NATS cannot be reached (what the store already holds is printed, with a warning), 2 on a
    configuration error.
    """
    from argoai_cli.audit_services import AuditConfig, parse_moment
    from argoai_core.errors import UnavailableError
    from argoai_core.logs import configure_logging
    from argoai_core.models.history import OUTCOMES
    from argoai_reviewer.audit.store import Filters, HistoryStore

    with config_errors():
        config = AuditConfig.load()
        configure_logging(config.common.log_level)
        if outcome is not None and outcome not in OUTCOMES:
            raise typer.BadParameter(f"{outcome!r}: one of {', '.join(OUTCOMES)}", param_hint="--outcome")
        filters = Filters(
            repo=repo,
            number=pr,
            outcome=outcome,
            since=parse_moment(since, "--since"),
            until=parse_moment(until, "--until"),
        )
        store = HistoryStore(config.history.store_path(config.nats.prefix))
        status = 0
        if not offline:
            try:
                asyncio.run(_catch_up(config, store))
            except UnavailableError as exc:
                typer.echo(f"argoai: history may be incomplete: {exc}", err=True)
                status = 1
        page = store.reviews(filters, limit=limit)
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json", exclude_none=True) for r in page.records], indent=1))
    else:
        typer.echo(_table([_row(r) for r in page.records]))
    raise typer.Exit(status)


async def _catch_up(config: AuditConfig, store: HistoryStore) -> None:
    from argoai_cli.audit_services import nats_connection
    from argoai_core.adapters.history_stream import HistoryReader
    from argoai_reviewer.audit.sync import catch_up

    async with nats_connection(config, "argoai-history") as nc:
        await catch_up(store, HistoryReader(nc.jetstream(), config.names))


def _row(record: HistoryRecord) -> list[str]:
    usage = record.usage
    what = record.command or (record.head_sha[:12] if record.head_sha else record.subject)
    if record.actor:
        what = f"{what} by @{record.actor}"
    findings = ",".join(f"{k}:{v}" for k, v in sorted(usage.findings.items())) if usage else ""
    return [
        record.at.strftime("%Y-%m-%d %H:%M:%S"),
        record.outcome,
        f"{record.repo_name}#{record.number}" if record.repo else "-",
        what,
        findings,
        f"{usage.input_tokens + usage.output_tokens}" if usage else "",
        f"{usage.cost_usd:.4f}" if usage else "",
        f"{record.duration_seconds:.1f}s" if record.duration_seconds is not None else "",
        record.reason[:80],
    ]


def _table(rows: list[list[str]]) -> str:
    from argoai_core.sanitize import sanitize_terminal

    header = [
        "TIME (UTC)",
        "OUTCOME",
        "PULL REQUEST",
        "WHAT",
        "FINDINGS",
        "TOKENS",
        "COST $",
        "TOOK",
        "REASON",
    ]
    # Reasons and names come from GitHub and the model: no escape sequence reaches the terminal.
    rows = [[sanitize_terminal(cell).replace("\n", " ") for cell in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]
    ]
    return "\n".join(lines) if rows else "\n".join(lines) + "\n(no records)"
