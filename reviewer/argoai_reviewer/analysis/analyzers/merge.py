"""One finding per problem: analyzer findings deduplicated among themselves, then merged with the LLM's.

Analyzer findings have exact lines (a tool's line, on a changed line) and win over the model's: two findings
are the same problem when they share path and category and their line ranges overlap (the model often
restates what a linter found, less precisely). Between analyzers, a finding is dropped only when it repeats
another exactly (same file, line, tool, rule and title), or when two tools are known to report the same
thing (:data:`SAME_PROBLEM`, e.g. a ``debugger;`` statement is both the built-in ``debugger`` check's and
Biome's ``noDebugger``): the first analyzer listed keeps it. A file with unresolved merge-conflict markers
gets the ``conflicts`` finding, not the syntax errors the markers cause to every parser
(:data:`PARSE_ERRORS`).
"""

from __future__ import annotations

from collections.abc import Iterable

from argoai_core.models.findings import Finding, ToolFinding

__all__ = ["SAME_PROBLEM", "dedupe_tool_findings", "merge_findings"]

SAME_PROBLEM: tuple[frozenset[str], ...] = (
    frozenset({"debugger:breakpoint", "biome:lint/suspicious/noDebugger", "ruff:T100"}),
)
"""Rules (``tool:rule``) of different tools that report the same problem on a line."""

PARSE_ERRORS = frozenset({"ruff:invalid-syntax", "biome:parse", "yamllint:syntax"})
"""Rules that only say a file does not parse."""
CONFLICT = "conflicts:conflict-markers"


_FAMILY = {rule: min(family) for family in SAME_PROBLEM for rule in family}


def _family(finding: ToolFinding) -> str:
    rule = finding.rule_ref
    return _FAMILY.get(rule, rule)


def dedupe_tool_findings(findings: Iterable[ToolFinding]) -> list[ToolFinding]:
    """``findings`` without exact repeats and without a second tool's report of the same problem."""
    findings = list(findings)
    conflicted = {finding.path for finding in findings if finding.rule_ref == CONFLICT}
    seen: set[tuple[str, int, str, str]] = set()
    kept = []
    for finding in findings:
        if finding.path in conflicted and finding.rule_ref in PARSE_ERRORS:
            continue
        family = _family(finding)
        # Within a family the wording differs from tool to tool; otherwise the title tells remarks apart.
        key = (finding.path, finding.start_line, family, "" if finding.rule_ref in _FAMILY else finding.title)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


def _overlap(a: Finding, b: Finding) -> bool:
    return (
        a.path == b.path
        and a.category == b.category
        and a.start_line <= b.end_line
        and b.start_line <= a.end_line
    )


def merge_findings(analyzers: Iterable[Finding], llm: Iterable[Finding]) -> list[Finding]:
    """Analyzer findings plus the LLM's, one per problem.

    Two findings are the same problem when they share path and category and their line ranges overlap. An
    analyzer finding always wins (exact lines, and a secret finding never echoes the secret); between two
    LLM findings (e.g. from calls that both saw a line) the more severe one wins, the first on a tie.
    The LLM's findings come after the analyzers', most severe first.
    """
    kept = list(analyzers)
    # Most severe first, so that of two overlapping LLM findings the more severe one is kept (stable sort).
    for finding in sorted(llm, key=lambda item: item.severity.rank):
        if not any(_overlap(finding, other) for other in kept):
            kept.append(finding)
    return kept
