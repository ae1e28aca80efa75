"""The static-analysis tools ArgoAI runs, one module each, in the order their findings are listed."""

from __future__ import annotations

from argoai_reviewer.analysis.analyzers.base import ToolAnalyzer
from argoai_reviewer.analysis.analyzers.tools.actionlint import Actionlint
from argoai_reviewer.analysis.analyzers.tools.bandit import Bandit
from argoai_reviewer.analysis.analyzers.tools.biome import Biome
from argoai_reviewer.analysis.analyzers.tools.hadolint import Hadolint
from argoai_reviewer.analysis.analyzers.tools.ruff import Ruff
from argoai_reviewer.analysis.analyzers.tools.shellcheck import Shellcheck
from argoai_reviewer.analysis.analyzers.tools.yamllint import Yamllint

TOOLS: tuple[ToolAnalyzer, ...] = (
    Ruff(),
    Bandit(),
    Shellcheck(),
    Hadolint(),
    Actionlint(),
    Yamllint(),
    Biome(),
)
"""Every tool analyzer, by policy name order of precedence in deduplication."""

__all__ = ["TOOLS"]
