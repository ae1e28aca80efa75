"""yamllint (YAML): ArgoAI's configuration only (``-c``; a repository's ``.yamllint`` is never read), run as
``python -I -m yamllint``: only what breaks a file or changes its meaning (syntax errors, duplicate keys,
undefined anchors, ambiguous booleans and octals), no style rules. Workflows are left to actionlint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from argoai_core.models.findings import Category, Severity
from argoai_reviewer.analysis.analyzers.base import CONFIG_DIR, Executables, Report, ToolContext, Wanted
from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit
from argoai_reviewer.analysis.analyzers.tools._output import message, relative
from argoai_reviewer.analysis.analyzers.tools.actionlint import is_workflow

# path:line:column: [level] message (rule)   (the "parsable" format)
_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): \[(?P<level>error|warning)\] "
    r"(?P<message>.*?)(?: \((?P<rule>[a-z-]+)\))?$"
)
_DOCS = "https://yamllint.readthedocs.io/en/stable/rules.html#module-yamllint.rules."


def rule_url(rule: str) -> str | None:
    """yamllint's documentation of ``rule`` (syntax errors have none)."""
    return None if rule == "syntax" else _DOCS + rule.replace("-", "_")


class Yamllint:
    """The ``yamllint`` analyzer."""

    name = "yamllint"
    distribution = "yamllint"
    memory_kind: MemoryLimit = "as"
    ok_exit_codes = frozenset({0, 1, 2})

    def program(self, executables: Executables) -> list[str] | None:
        """``python -I -m yamllint``."""
        return executables.python_module("yamllint")

    def matches(self, path: str, text: str) -> bool:
        """YAML files other than workflows."""
        return extension(path) in ("yml", "yaml") and not is_workflow(path)

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: ``.yamllint`` is never read."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """Parsable output, ArgoAI's configuration."""
        return [
            *program,
            "--format",
            "parsable",
            "--config-file",
            str(CONFIG_DIR / "yamllint.yaml"),
            "--",
            *files,
        ]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """One report per parsable line."""
        known = frozenset(files)
        reports = []
        for raw in stdout.decode("utf-8", errors="replace").splitlines():
            match = _LINE.match(raw)
            if match is None:
                continue
            path = relative(match["path"], known, root)
            if path is None or not wanted(path, int(match["line"])):
                continue
            rule = match["rule"] or "syntax"
            # Broken or ambiguous structure is major; a value YAML 1.1 reads unexpectedly is minor.
            severity = Severity.MAJOR if rule in ("syntax", "key-duplicates", "anchors") else Severity.MINOR
            reports.append(
                Report(
                    path=path,
                    line=int(match["line"]),
                    rule=rule,
                    message=message(match["message"]),
                    severity=severity,
                    category=Category.BUG,
                    url=rule_url(rule),
                )
            )
        return reports
