"""``argoai eval``: review a dataset of cases with known bugs and print precision, recall and F1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from argoai_cli.errors import config_errors

# argoai_reviewer.evaluation.matching.DEFAULT_LINE_WINDOW, not imported here: commands import the reviewer
# lazily so that ``argoai -h`` stays fast.
DEFAULT_LINE_WINDOW = 5


def command(
    dataset: Annotated[
        Path, typer.Argument(help="Directory of cases (each a subdirectory with a case.yaml)")
    ],
    variant: Annotated[
        list[str] | None,
        typer.Option(
            help="A setup to compare, repeatable: NAME:policy=FILE,model=MODEL,prompts=DIR (each part "
            "optional; without any, the configured LLM and ARGOAI_POLICY_FILE)"
        ),
    ] = None,
    case: Annotated[list[str] | None, typer.Option(help="Run only this case (repeatable)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    line_window: Annotated[
        int,
        typer.Option(min=0, max=1000, help="A finding matches a golden line within this many lines of it"),
    ] = DEFAULT_LINE_WINDOW,
) -> None:
    """Review every case of DATASET with the configured LLM and score the findings against golden comments."""
    from argoai_cli.eval_output import print_json, print_report
    from argoai_cli.eval_setup import run_dataset

    with config_errors():
        report = asyncio.run(run_dataset(dataset, variant or [], case or [], line_window))
    if json_output:
        print_json(report)
    else:
        print_report(report)
