"""Entrypoint of the ``argoai`` command: registers one subcommand per component."""

from __future__ import annotations

import typer

from argoai_cli.commands import dev, gateway, operator, redeliver, review, reviewer

app = typer.Typer(
    name="argoai",
    help="ArgoAI: LLM code review for GitHub pull requests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("gateway")(gateway.command)
app.command("reviewer")(reviewer.command)
app.command("dev")(dev.command)
app.command("review")(review.command)
app.command("operator")(operator.command)
app.command("redeliver")(redeliver.command)


def main() -> None:
    """Run the ``argoai`` command line."""
    _configure_logging()
    app()


def _configure_logging() -> None:
    """Every command logs the same way, from its first line: JSON on stderr at ``ARGOAI_LOG_LEVEL``, secrets
    redacted. Stdout is left to a command's own output (the report of ``argoai review``)."""
    from argoai_core.errors import ConfigError
    from argoai_core.logs import configure_logging
    from argoai_core.settings import CommonSettings, load

    try:
        level = load(CommonSettings).log_level
    except ConfigError:
        level = "INFO"  # each command reads its settings itself and reports the invalid one (exit 2)
    configure_logging(level)
