"""Analyzers: static analysis of the changed lines, without the LLM and at no token cost.

Every analyzer reports :class:`~argoai_core.models.findings.ToolFinding` values (a finding with its
``tool``, ``rule`` and ``rule_url``) on lines the change adds, so they are placed on their exact lines, never
re-located by quote. Two kinds, one interface (:mod:`~argoai_reviewer.analysis.analyzers.base`):

* built-in, in-process, on the diff: ``secrets`` (credentials), ``conflicts`` (merge-conflict markers),
  ``debugger`` (breakpoints left in the code);
* tools, on the changed files at head in sandboxed processes (:mod:`.sandbox`): ``ruff`` and ``bandit``
  (Python), ``shellcheck`` (shell), ``hadolint`` (Dockerfiles), ``actionlint`` (GitHub workflows),
  ``yamllint`` (YAML), ``biome`` (JavaScript, TypeScript). All are wheels pip installs; none compiles or
  downloads anything.

Safe by construction: tools read a private copy of the changed files (or a snapshot, through
:class:`~.workspace.HeadTree`), always with ArgoAI's own configuration and isolation flags (a repository's
linter configuration is never loaded, except ruff's plain-data TOML when the policy allows), with an
environment built from nothing (no proxies, no secrets), under CPU, memory, output and wall-time limits; no
repository code runs. A tool that fails is a note in the review summary, never a failed review.

The policy (``analyzers`` in a ``ReviewPolicy``, narrowed by ``.github/argoai.yaml``) enables or disables
analyzers and rules and sets minimum severities; :func:`min_severity_for` is the threshold a finding is
shown at.
"""

from __future__ import annotations

from argoai_core.models.findings import Finding, Severity, ToolFinding
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.analyzers.base import BuiltinAnalyzer, Executables, Report, ToolAnalyzer
from argoai_reviewer.analysis.analyzers.merge import merge_findings
from argoai_reviewer.analysis.analyzers.runner import (
    BUILTINS,
    AnalyzerInfo,
    AnalyzerLimits,
    AnalyzerResult,
    AnalyzerRunner,
    describe,
)
from argoai_reviewer.analysis.analyzers.tools import TOOLS
from argoai_reviewer.analysis.analyzers.workspace import FileText, HeadTree, TempCopy

__all__ = [
    "BUILTINS",
    "TOOLS",
    "AnalyzerInfo",
    "AnalyzerLimits",
    "AnalyzerResult",
    "AnalyzerRunner",
    "BuiltinAnalyzer",
    "Executables",
    "FileText",
    "HeadTree",
    "Report",
    "TempCopy",
    "ToolAnalyzer",
    "describe",
    "is_analyzer_finding",
    "merge_findings",
    "min_severity_for",
]


def is_analyzer_finding(finding: Finding) -> bool:
    """True for a finding an analyzer reported (exact lines, its own comment cap when the policy says so)."""
    return isinstance(finding, ToolFinding)


def min_severity_for(finding: Finding, policy: PolicySpec) -> Severity:
    """The least severity ``finding`` is shown at: the policy's, or its analyzer's when that is stricter."""
    threshold = policy.min_severity
    if isinstance(finding, ToolFinding):
        own = policy.analyzers.min_severity.for_analyzer(finding.tool)
        if own is not None and own.rank < threshold.rank:
            threshold = own
    return threshold
