"""Print a local review in the terminal: findings by severity, where they sit, and what was covered.

Everything here goes to stdout and nothing else does (progress and logs are on stderr), so the report can be
piped or saved. What the model wrote, and paths from the repository, are untrusted: they pass through
:func:`~argoai_core.sanitize.sanitize_terminal`, so no escape sequence in them reaches the terminal.
"""

from __future__ import annotations

import typer

from argoai_cli.review_setup import LocalResult
from argoai_core.models.findings import Severity, ToolFinding
from argoai_core.sanitize import sanitize_terminal as clean
from argoai_reviewer.analysis.analyzers import min_severity_for
from argoai_reviewer.analysis.anchoring import Anchored, Placement

_COLOURS = {
    Severity.CRITICAL: typer.colors.RED,
    Severity.MAJOR: typer.colors.YELLOW,
    Severity.MINOR: typer.colors.CYAN,
    Severity.NIT: typer.colors.BRIGHT_BLACK,
}


def severity_option(value: str | None) -> Severity | None:
    """Parse ``--fail-on``; a clear error for an unknown severity."""
    if value is None:
        return None
    try:
        return Severity(value.lower())
    except ValueError:
        choices = ", ".join(s.value for s in Severity)
        raise typer.BadParameter(f"{value!r} is not a severity ({choices})", param_hint="--fail-on") from None


HIDDEN_SHOWN = 20
"""Findings below the minimum severity listed one line each, at most."""


def _source(placement: Placement) -> str:
    finding = placement.finding
    source = f"{finding.tool} {finding.rule}: " if isinstance(finding, ToolFinding) else ""
    return clean(source + " ".join(finding.title.split()))


def _where(placement: Placement) -> str:
    if isinstance(placement, Anchored):
        lines = (
            f"{placement.start}" if placement.start == placement.end else f"{placement.start}-{placement.end}"
        )
        moved = " (re-anchored by its quote)" if placement.how.value == "reanchored" else ""
        return f"{clean(placement.path)}:{lines}{moved}"
    return f"{clean(placement.path)} (not on a changed line: {clean(placement.reason.text)})"


def print_review(result: LocalResult, *, fail_on: Severity | None) -> bool:
    """Print ``result``; True when a finding at or above ``fail_on`` was found."""
    review, analysis = result.review, result.review.analysis
    change = review.change
    typer.secho(f"ArgoAI review of {change.base}...{change.head} ({change.head_sha[:12]})", bold=True)
    if result.llm:
        typer.echo(
            f"Reviewed by {result.llm} and the built-in checks ({analysis.calls} LLM call(s), "
            f"{analysis.input_tokens} tokens in, {analysis.output_tokens} out)."
        )
    else:
        typer.echo(
            "Built-in checks only: no LLM is configured (set ARGOAI_LLM_PROVIDER, ARGOAI_LLM_MODEL "
            "and ARGOAI_LLM_API_KEY to add an LLM review)."
        )
    coverage = analysis.coverage
    typer.echo(
        f"Coverage: {len(coverage.reviewed)} file(s) reviewed, {coverage.lines_sent}/{coverage.lines_total} "
        f"changed lines sent, {len(analysis.selection.skipped)} file(s) skipped."
    )
    checked = analysis.analyzers.checked
    if checked:
        typer.echo(
            "Analyzers: " + ", ".join(f"{name} ({files} file(s))" for name, files in checked.items()) + "."
        )
    for path, reason in analysis.selection.skipped:
        typer.echo(f"  skipped {clean(path)}: {clean(reason)}")
    for path, reason in coverage.clipped:
        typer.echo(f"  clipped {clean(path)}: {clean(reason)}")
    if analysis.summary:
        typer.echo("")
        typer.echo(clean(analysis.summary))
    shown = [
        p
        for p in analysis.placements
        if p.finding.severity.rank <= min_severity_for(p.finding, result.policy).rank
    ]
    shown.sort(key=lambda p: (p.finding.severity.rank, p.path))
    typer.echo("")
    if not shown:
        typer.secho("No findings.", fg=typer.colors.GREEN)
    for placement in shown:
        finding = placement.finding
        typer.secho(f"[{finding.severity.value}] ", fg=_COLOURS[finding.severity], bold=True, nl=False)
        typer.secho(clean(" ".join(finding.title.split())), bold=True, nl=False)
        typer.echo(f"  ({finding.category.value})")
        typer.echo(f"  {_where(placement)}")
        if isinstance(finding, ToolFinding):
            link = f" {finding.rule_url}" if finding.rule_url else ""
            typer.echo(f"  {finding.tool} {finding.rule}{link}")
        if not isinstance(finding, ToolFinding) or finding.body != finding.title:
            for line in clean(finding.body).splitlines():
                typer.echo(f"    {line}")
    hidden = [p for p in analysis.placements if p not in shown]
    if hidden:
        minimum = result.policy.min_severity.value
        typer.echo(
            f"\n{len(hidden)} finding(s) below the policy's minimum severity ({minimum}, or their "
            "analyzer's), not posted on GitHub:"
        )
        for placement in sorted(hidden, key=lambda p: (p.finding.severity.rank, p.path))[:HIDDEN_SHOWN]:
            typer.echo(f"  [{placement.finding.severity.value}] {_where(placement)}  {_source(placement)}")
        if len(hidden) > HIDDEN_SHOWN:
            typer.echo(f"  … and {len(hidden) - HIDDEN_SHOWN} more")
    return fail_on is not None and any(p.finding.severity.rank <= fail_on.rank for p in shown)
