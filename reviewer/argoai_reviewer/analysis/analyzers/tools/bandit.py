"""bandit (Python security): ArgoAI's configuration only (``-c``), run as ``python -I -m bandit``.

Severity follows bandit's own: HIGH → major, MEDIUM → minor, LOW → nit, one step lower when bandit's
confidence is LOW. Every finding is a security finding. ``# nosec`` comments in the code are honoured, as
bandit does (a reviewer sees them in the diff).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from argoai_core.models.findings import Category, Severity
from argoai_reviewer.analysis.analyzers.base import CONFIG_DIR, Executables, Report, ToolContext, Wanted
from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.analyzers.narrow import narrow_python
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit
from argoai_reviewer.analysis.analyzers.tools._output import (
    OutputError,
    integer,
    load_json,
    message,
    relative,
    rule_id,
)

_SEVERITY = {"HIGH": Severity.MAJOR, "MEDIUM": Severity.MINOR, "LOW": Severity.NIT}
_ORDER = list(Severity)


def classify(severity: str, confidence: str) -> Severity:
    """Our severity for bandit's severity and confidence."""
    ours = _SEVERITY.get(severity.upper(), Severity.NIT)
    if confidence.upper() == "LOW" and ours is not Severity.NIT:
        ours = _ORDER[ours.rank + 1]
    return ours


class Bandit:
    """The ``bandit`` analyzer."""

    name = "bandit"
    distribution = "bandit"
    memory_kind: MemoryLimit = "as"
    ok_exit_codes = frozenset({0, 1})

    def program(self, executables: Executables) -> list[str] | None:
        """``python -I -m bandit``."""
        return executables.python_module("bandit")

    def matches(self, path: str, text: str) -> bool:
        """Python sources (stubs hold no code)."""
        return extension(path) == "py"

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: bandit always runs with ArgoAI's configuration."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """The module with the statements the change does not touch emptied (imports kept)."""
        return narrow_python(text, changed)

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """JSON output, quiet, ArgoAI's configuration."""
        return [*program, "-f", "json", "-q", "-c", str(CONFIG_DIR / "bandit.yaml"), "--", *files]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """bandit's ``results``."""
        known = frozenset(files)
        document = load_json(stdout)
        if not isinstance(document, dict) or not isinstance(document.get("results"), list):
            raise OutputError("expected an object with results")
        reports = []
        for item in document["results"]:
            if not isinstance(item, dict):
                continue
            path = relative(str(item.get("filename", "")), known, root)
            line = integer(item.get("line_number"))
            code = rule_id(item.get("test_id"))
            if path is None or line is None or code is None or not wanted(path, line):
                continue
            url = item.get("more_info")
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=message(item.get("issue_text")),
                    severity=classify(
                        str(item.get("issue_severity", "")), str(item.get("issue_confidence", ""))
                    ),
                    category=Category.SECURITY,
                    url=url
                    if isinstance(url, str) and url.startswith("https://bandit.readthedocs.io/")
                    else None,
                )
            )
        return reports
