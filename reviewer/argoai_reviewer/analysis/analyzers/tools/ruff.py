"""ruff (Python): ArgoAI's rule selection, or the repository's ruff configuration when the policy allows.

Without repository configuration ruff runs ``--isolated`` (no ``pyproject.toml``, ``ruff.toml`` or user
configuration is read) with ruff's default rules (``E4``, ``E7``, ``E9``, ``F``) plus flake8-bugbear
(``B``) and pylint's errors (``PLE``), for the newest Python. With ``analyzers.repositoryConfig`` the
repository's root ``.ruff.toml``, ``ruff.toml`` or ``pyproject.toml`` (``[tool.ruff]``) is passed with
``--config``: TOML is plain data and ruff loads no code from it; a configuration with ``extend`` (which
could name a file outside the repository) is not honoured and ArgoAI's selection applies.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from argoai_core.models.findings import Category, Severity
from argoai_reviewer.analysis.analyzers.base import Executables, Report, ToolContext, Wanted
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

SELECT = "E4,E7,E9,F,B,PLE"
# B008 (function call in a default argument) is how FastAPI, Typer and friends declare parameters.
IGNORE = "B008"
TARGET_VERSION = "py314"
CONFIG_FILES = (".ruff.toml", "ruff.toml", "pyproject.toml")

_MAJOR = ("E9", "F63", "F7", "F50", "F52", "F60", "F82", "PLE")
_MAINTAINABILITY = ("F401", "F403", "F405", "F811", "F841", "F842")


def classify(code: str) -> tuple[Severity, Category]:
    """Severity and category of ruff rule ``code``."""
    if code == "invalid-syntax" or code.startswith(_MAJOR):
        return Severity.MAJOR, Category.BUG
    if code.startswith(_MAINTAINABILITY):
        return Severity.MINOR, Category.MAINTAINABILITY
    if code.startswith("B"):
        return Severity.MINOR, Category.BUG
    if code in ("E722",):
        return Severity.MINOR, Category.RELIABILITY
    if code in ("E731", "E741", "E742", "E743"):
        return Severity.NIT, Category.STYLE
    if code.startswith("E7"):
        return Severity.MINOR, Category.BUG
    return Severity.MINOR, Category.MAINTAINABILITY


def _honoured_config(root: Path) -> str | None:
    """The repository's ruff configuration file to pass with ``--config``, if one may be honoured."""
    for name in CONFIG_FILES:
        path = root / name
        if not path.is_file():
            continue
        try:
            document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
            return None
        table = document.get("tool", {}).get("ruff") if name == "pyproject.toml" else document
        if name == "pyproject.toml" and not isinstance(table, dict):
            continue
        if not isinstance(table, dict) or "extend" in table:
            return None
        return name
    return None


class Ruff:
    """The ``ruff`` analyzer."""

    name = "ruff"
    distribution = "ruff"
    memory_kind: MemoryLimit = "as"
    ok_exit_codes = frozenset({0})

    def program(self, executables: Executables) -> list[str] | None:
        """The ruff binary of the ``ruff`` wheel."""
        found = executables.binary("ruff")
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """Python sources and stubs."""
        return extension(path) in ("py", "pyi")

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """The root configuration files, when the policy lets the repository's configuration apply."""
        return CONFIG_FILES if repository_config else ()

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """``ruff check`` with JSON output, no cache, no fixes, exit status 0 unless ruff itself failed."""
        base = [*program, "check", "--no-cache", "--no-fix", "--exit-zero", "--output-format", "json"]
        config = _honoured_config(context.root) if context.repository_config else None
        if config is not None:
            return [*base, "--config", config, "--force-exclude", "--", *files]
        return [
            *base,
            "--isolated",
            "--select",
            SELECT,
            "--ignore",
            IGNORE,
            "--target-version",
            TARGET_VERSION,
            "--",
            *files,
        ]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """ruff's JSON diagnostics."""
        document = load_json(stdout) or []
        if not isinstance(document, list):
            raise OutputError("expected a list of diagnostics")
        reports = []
        for item in document:
            if not isinstance(item, dict):
                continue
            path = relative(str(item.get("filename", "")), files, root)
            location = item.get("location") or {}
            line = integer(location.get("row")) if isinstance(location, dict) else None
            code = rule_id(item.get("code") or item.get("name") or "invalid-syntax")
            if path is None or line is None or code is None or not wanted(path, line):
                continue
            severity, category = classify(code)
            url = item.get("url")
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(item.get("message")),
                    severity=severity,
                    category=category,
                    url=url
                    if isinstance(url, str) and url.startswith("https://docs.astral.sh/ruff/")
                    else None,
                )
            )
        return reports
