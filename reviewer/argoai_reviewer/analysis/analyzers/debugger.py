"""Built-in analyzer ``debugger``: debugger calls left in the code (rule ``breakpoint``), only statements
that stop a program when reached.

High confidence only: a statement that is nothing but a breakpoint in a language where it halts execution
(``breakpoint()``, ``pdb.set_trace()``, ``debugger;``, ``binding.pry``…). Logging such as ``console.log`` is
often intended and is left to the model.
"""

from __future__ import annotations

import re

from argoai_core.models.findings import Category, Severity, ToolFinding
from argoai_core.redact import redact
from argoai_reviewer.analysis.analyzers.lines import added_lines, extension
from argoai_reviewer.analysis.diff import FileDiff

_PYTHON = re.compile(
    r"^\s*(?:import\s+(?:i?pdb|pudb)\s*;\s*)?"
    r"(?:breakpoint\(\)|(?:i?pdb|pudb|pdbpp|ipdb)\.set_trace\(.*\)|__import__\(['\"]i?pdb['\"]\)\.set_trace\(\))"
    r"\s*(?:#.*)?$"
)
_JAVASCRIPT = re.compile(r"^\s*debugger\s*;?\s*(?://.*)?$")
_RUBY = re.compile(r"^\s*(?:binding\.(?:pry|irb)|byebug|debugger)\s*(?:#.*)?$")
_ELIXIR = re.compile(r"^\s*(?:require\s+IEx\s*;\s*)?IEx\.pry(?:\(\))?\s*(?:#.*)?$")
_PHP = re.compile(r"^\s*(?:xdebug_break|debug_zval_dump)\(\)\s*;")

_BY_EXTENSION: dict[str, re.Pattern[str]] = {
    "py": _PYTHON,
    **dict.fromkeys(("js", "jsx", "mjs", "cjs", "ts", "tsx", "mts", "cts", "vue", "svelte"), _JAVASCRIPT),
    **dict.fromkeys(("rb", "rake"), _RUBY),
    **dict.fromkeys(("ex", "exs"), _ELIXIR),
    "php": _PHP,
}


NAME = "debugger"


def leftover_findings(diff: FileDiff) -> list[ToolFinding]:
    """One finding per added line that is a debugger breakpoint in the file's language."""
    pattern = _BY_EXTENSION.get(extension(diff.path))
    if pattern is None:
        return []
    return [
        ToolFinding(
            tool=NAME,
            rule="breakpoint",
            path=diff.path,
            start_line=line.new,
            end_line=line.new,
            quote=line.text,
            severity=Severity.MAJOR,
            category=Category.BUG,
            title="Debugger breakpoint left in the code",
            body=(
                f"`{redact(line.text.strip())}` stops the program and waits for a debugger when it runs (in "
                "production, or in CI where it hangs until a timeout). Remove it before merging."
            ),
            suggestion=None,
        )
        for line in added_lines(diff)
        if line.new is not None and pattern.match(line.text)
    ]


class DebuggerAnalyzer:
    """The ``debugger`` built-in analyzer."""

    name = NAME

    def check(self, diff: FileDiff) -> list[ToolFinding]:
        """Breakpoints added by ``diff``."""
        return leftover_findings(diff)
