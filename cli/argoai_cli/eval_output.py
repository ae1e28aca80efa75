"""Print an ``argoai eval`` report: a table per variant, the differences between variants, or JSON.

Paths and titles come from the reviewed cases and the model: they pass through the terminal sanitiser.
"""

from __future__ import annotations

import typer

from argoai_core.sanitize import sanitize_terminal as clean
from argoai_reviewer.evaluation.runner import CaseReport, EvalReport, VariantReport


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _delta(new: float | None, old: float | None) -> str:
    if new is None or old is None:
        return "—"
    return f"{100 * (new - old):+.1f} pt"


_HEADER = (
    "case",
    "kind",
    "findings",
    "matched",
    "golden",
    "found",
    "precision",
    "recall",
    "F1",
    "tokens in",
    "tokens out",
    "cost $",
    "seconds",
)


def _row(name: str, kind: str, report: CaseReport | VariantReport) -> tuple[str, ...]:
    s = report.scores
    return (
        clean(name),
        clean(kind),
        str(s.findings),
        str(s.true_positives),
        str(s.goldens),
        str(s.found),
        _pct(report.precision),
        _pct(report.recall),
        _pct(report.f1),
        str(report.input_tokens),
        str(report.output_tokens),
        f"{report.cost_usd:.4f}",
        f"{report.seconds:.1f}",
    )


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        typer.echo("  ".join(cells).rstrip())
        if number == 0 or number == len(rows) - 2:
            typer.echo("  ".join("-" * width for width in widths))


def print_variant(variant: VariantReport) -> None:
    """The variant's per-case table and its total."""
    what = [f"policy {variant.policy_file}" if variant.policy_file else "default policy"]
    if variant.model:
        what.append(f"model {variant.model}")
    if variant.prompts:
        what.append(f"prompts {variant.prompts}")
    typer.secho(f"Variant {clean(variant.name)} ({clean(', '.join(what))})", bold=True)
    rows = [_HEADER, *(_row(c.case, c.kind, c) for c in variant.cases), _row("TOTAL", "", variant)]
    _table(rows)
    unjudged = sum(c.unjudged for c in variant.cases)
    if unjudged:
        typer.echo(f"{unjudged} golden comment(s) without a path were not judged and count as not found.")
    for case in variant.cases:
        for finding in case.findings:
            if not finding.matched:
                typer.echo(
                    f"  {clean(case.case)}: unmatched finding {clean(finding.path)}:{finding.start} "
                    f"[{finding.severity}] {clean(' '.join(finding.title.split()))}"
                )
        for golden in case.missed:
            where = f"{golden.path}:{golden.line or ''}" if golden.path else "(no place)"
            typer.echo(
                f"  {clean(case.case)}: missed {clean(where)} {clean(' '.join(golden.comment.split()))}"
            )
    typer.echo("")


def print_differences(base: VariantReport, other: VariantReport) -> None:
    """How ``other`` differs from ``base``: totals, then the cases whose findings changed."""
    typer.secho(f"Differences: {clean(other.name)} against {clean(base.name)}", bold=True)
    typer.echo(
        f"  precision {_delta(other.precision, base.precision)}, recall {_delta(other.recall, base.recall)}, "
        f"F1 {_delta(other.f1, base.f1)}; tokens in {other.input_tokens - base.input_tokens:+d}, "
        f"out {other.output_tokens - base.output_tokens:+d}; cost {other.cost_usd - base.cost_usd:+.4f} $; "
        f"time {other.seconds - base.seconds:+.1f} s"
    )
    theirs = {case.case: case for case in other.cases}
    for case in base.cases:
        changed = theirs.get(case.case)
        if changed is None:
            continue
        if (case.scores.found, case.scores.findings) != (changed.scores.found, changed.scores.findings):
            typer.echo(
                f"  {clean(case.case)}: found {case.scores.found} → {changed.scores.found} of "
                f"{case.scores.goldens}, findings {case.scores.findings} → {changed.scores.findings}"
            )
    typer.echo("")


def print_report(report: EvalReport) -> None:
    """Every variant's table, then each later variant's differences from the first."""
    for variant in report.variants:
        print_variant(variant)
    first, *others = report.variants
    for other in others:
        print_differences(first, other)
    if report.judge_calls:
        typer.echo(
            f"Judge ({clean(report.judge_model or '')}): {report.judge_calls} call(s), "
            f"{report.judge_input_tokens} tokens in, {report.judge_output_tokens} out, "
            f"{report.judge_cost_usd:.4f} $ (not in the variants' costs)."
        )


def print_json(report: EvalReport) -> None:
    """The report as JSON (model text sanitised for the terminal, like the table)."""
    typer.echo(clean(report.model_dump_json(indent=2)))
