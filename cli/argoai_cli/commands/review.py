"""``argoai review``: review a local git range and print the findings (no GitHub needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from argoai_cli.errors import config_errors


def command(
    base: Annotated[str, typer.Option(help="Base of the range (branch, tag or commit)")],
    head: Annotated[str, typer.Option(help="Head of the range")] = "HEAD",
    repo: Annotated[Path, typer.Option(help="Path of the git repository")] = Path("."),
    fail_on: Annotated[
        str | None,
        typer.Option(
            help="Exit with status 1 when a finding of this severity or worse is found (critical, major…)"
        ),
    ] = None,
) -> None:
    """Review the change base...head of a local repository with the configured LLM and the built-in checks."""
    from argoai_cli.review_output import print_review, severity_option
    from argoai_cli.review_setup import run_local_review

    threshold = severity_option(fail_on)
    with config_errors():
        result = asyncio.run(run_local_review(repo, base, head))
    if print_review(result, fail_on=threshold):
        raise typer.Exit(1)
