"""Entrypoint of the ``argoai`` command: registers one subcommand per component."""

from __future__ import annotations

import typer

from argoai_cli.commands import dev, feedback, gateway, operator, redeliver, review, reviewer

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
app.command("feedback")(feedback.command)


def main() -> None:
    """Run the ``argoai`` command line."""
    app()
