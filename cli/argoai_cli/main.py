"""Entrypoint of the ``argoai`` command: registers one subcommand per component.

Usage errors (an unknown option, ``--port 99999``) are printed as one line naming the flag, exit status 2,
like configuration errors; ``-h`` is ``--help`` on every command.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import typer

# typer 0.29 vendors click as typer._click (pinned exactly): its exceptions are not re-exported.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from argoai_cli.commands import (
    api,
    dev,
    dlq,
    evaluate,
    feedback,
    gateway,
    history,
    operator,
    redeliver,
    review,
    reviewer,
)

app = typer.Typer(
    name="argoai",
    help="ArgoAI: LLM code review for GitHub pull requests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Inherited by every subcommand's context.
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("gateway")(gateway.command)
app.command("reviewer")(reviewer.command)
app.command("dev")(dev.command)
app.command("review")(review.command)
app.command("eval")(evaluate.command)
app.command("operator")(operator.command)
app.command("redeliver")(redeliver.command)
app.command("feedback")(feedback.command)
app.command("history")(history.command)
app.command("api")(api.command)
app.add_typer(dlq.app, name="dlq")


def installed_version() -> str:
    """The installed ArgoAI version (the package's metadata)."""
    try:
        return version("argoai")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"argoai {installed_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
    ),
) -> None:
    """ArgoAI: LLM code review for GitHub pull requests."""


def main() -> None:
    """Run the ``argoai`` command line."""
    _configure_logging()
    try:
        status = app(standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "argoai"
        typer.echo(f"{command}: {exc.format_message()} ('{command} -h' for help)", err=True)
        sys.exit(exc.exit_code)
    except ClickException as exc:
        typer.echo(f"argoai: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


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
