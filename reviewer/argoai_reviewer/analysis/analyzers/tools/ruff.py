"""ruff (Python): ArgoAI's rule selection, or the repository's ruff configuration when the policy allows.

Without repository configuration ruff runs ``--isolated`` (no ``pyproject.toml``, ``ruff.toml`` or user
configuration is read) with ruff's default rules (``E4``, ``E7``, ``E9``, ``F``) plus flake8-bugbear
(``B``) and pylint's errors (``PLE``), for the newest Python. With ``analyzers.repositoryConfig`` the
repository's root ``.ruff.toml``, ``ruff.toml`` or ``pyproject.toml`` (``[tool.ruff]``) is passed with
``--config``: TOML is plain data and ruff loads no code from it; a configuration with ``extend`` (which
could name a file outside the repository) is not honoured and ArgoAI's selection applies.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import tomllib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from argoai_core.models.findings import Category, Severity
from argoai_reviewer.analysis.analyzers.base import Executables, Report, ToolContext, Wanted
from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit, clean_environment
from argoai_reviewer.analysis.analyzers.tools._output import message, rule_id

SELECT = "E4,E7,E9,F,B,PLE"
# B008 (function call in a default argument) is how FastAPI, Typer and friends declare parameters.
IGNORE = "B008"
TARGET_VERSION = "py314"
CONFIG_FILES = (".ruff.toml", "ruff.toml", "pyproject.toml")

DOCS = "https://docs.astral.sh/ruff/rules/"
_NAME = re.compile(r"^[a-z0-9-]{1,100}$")
# path:row:column: CODE [*] message   (``[*]``: a fix exists; syntax errors have ``invalid-syntax:``)
_CONCISE = re.compile(
    r"^(?P<path>.+?):(?P<row>\d+):(?P<column>\d+): (?P<code>[A-Z]+[0-9]+|invalid-syntax):?(?: \[\*\])? "
    r"(?P<message>.*)$"
)
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


@cache
def rule_names(program: str | None) -> dict[str, str]:
    """Rule code → rule name (the documentation page's name), asked once of the ruff binary itself.

    ``ruff rule --all`` reads no file and no configuration; it runs under a time limit in an empty
    environment, and any failure only costs the links.
    """
    if program is None:
        return {}
    with tempfile.TemporaryDirectory(prefix="argoai-ruff-rules-") as home:
        try:
            done = subprocess.run(  # noqa: S603 - our own binary, fixed arguments
                [program, "rule", "--all", "--output-format", "json"],
                cwd=home,
                env=clean_environment(Path(home), []),
                capture_output=True,
                timeout=30,
                check=False,
            )
            rules = orjson.loads(done.stdout)
        except (OSError, subprocess.SubprocessError, orjson.JSONDecodeError):
            return {}
    return {
        str(rule["code"]): str(rule["name"])
        for rule in rules
        if isinstance(rule, dict) and _NAME.match(str(rule.get("name", "")))
    }


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

    def __init__(self) -> None:
        self._program: str | None = None

    def program(self, executables: Executables) -> list[str] | None:
        """The ruff binary of the ``ruff`` wheel."""
        found = executables.binary("ruff")
        self._program = found
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """Python sources and stubs."""
        return extension(path) in ("py", "pyi")

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """The root configuration files, when the policy lets the repository's configuration apply."""
        return CONFIG_FILES if repository_config else ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """``ruff check``: one line per diagnostic, no cache, no fixes, exit status 0 unless ruff failed."""
        base = [*program, "check", "--no-cache", "--no-fix", "--exit-zero", "--output-format", "concise"]
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
        """ruff's concise diagnostics (``path:row:column: CODE [*] message``), a few bytes each: a file full
        of problems on unchanged lines costs little to skip. The rule's page is named after the rule."""
        known = frozenset(files)
        reports = []
        for raw in stdout.decode("utf-8", errors="replace").splitlines():
            match = _CONCISE.match(raw)
            if match is None:
                continue
            path, line = match["path"], int(match["row"])
            if path not in known or not wanted(path, line):
                continue
            code = rule_id(match["code"])
            if code is None:
                continue
            severity, category = classify(code)
            name = rule_names(self._program).get(code)
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(match["message"]),
                    severity=severity,
                    category=category,
                    url=f"{DOCS}{name}" if name else None,
                )
            )
        return reports
