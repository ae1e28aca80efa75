"""Built-in checks: problems found without the LLM, at no token cost, as :class:`Finding` values.

They see only the diff (added lines), so their line numbers are exact: a built-in finding always lies on
added lines of one hunk. Anchoring should place them by their lines and not re-locate them by ``quote``: a
secret finding's quote is deliberately only a secret-free piece of its first line (see
:mod:`argoai_reviewer.analysis.checks.secrets`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from argoai_core.models.findings import Finding
from argoai_reviewer.analysis.checks.conflicts import conflict_findings
from argoai_reviewer.analysis.checks.leftovers import leftover_findings
from argoai_reviewer.analysis.checks.secrets import secret_findings
from argoai_reviewer.analysis.diff import FileDiff

__all__ = ["merge_findings", "run_checks"]


def run_checks(files: Sequence[FileDiff]) -> list[Finding]:
    """Every built-in finding in ``files``: added credentials, merge-conflict markers, debugger leftovers."""
    findings: list[Finding] = []
    for diff in files:
        if diff.binary or not diff.hunks:
            continue
        findings += secret_findings(diff)
        findings += conflict_findings(diff)
        findings += leftover_findings(diff)
    return findings


def _overlap(a: Finding, b: Finding) -> bool:
    return (
        a.path == b.path
        and a.category == b.category
        and a.start_line <= b.end_line
        and b.start_line <= a.end_line
    )


def merge_findings(builtin: Iterable[Finding], llm: Iterable[Finding]) -> list[Finding]:
    """Built-in findings plus the LLM's, one per problem.

    Two findings are the same problem when they share path and category and their line ranges overlap. A
    built-in finding always wins (exact lines, and a secret finding never echoes the secret); between two
    LLM findings (e.g. from calls that both saw a line) the more severe one wins, the first on a tie.
    The LLM's findings come after the built-in ones, most severe first.
    """
    kept = list(builtin)
    # Most severe first, so that of two overlapping LLM findings the more severe one is kept (stable sort).
    for finding in sorted(llm, key=lambda item: item.severity.rank):
        if not any(_overlap(finding, other) for other in kept):
            kept.append(finding)
    return kept
