"""Built-in analyzer ``conflicts``: merge-conflict markers added by the change (rule ``conflict-markers``).

Only a complete conflict counts: a ``<<<<<<<`` line, then ``=======``, then ``>>>>>>>``, all added in one
hunk; a lone ``=======`` is a heading underline in many formats. Documentation files are left alone, since
they often show conflicts as examples.
"""

from __future__ import annotations

import re

from argoai_core.models.findings import Category, Severity, ToolFinding
from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.diff import FileDiff

_OURS = re.compile(r"^<{7}(?: |$)")
_SEPARATOR = re.compile(r"^={7}\s*$")
_THEIRS = re.compile(r"^>{7}(?: |$)")
_DOCUMENTATION = frozenset({"md", "markdown", "rst", "adoc", "asciidoc", "txt", "org"})


NAME = "conflicts"


def conflict_findings(diff: FileDiff) -> list[ToolFinding]:
    """One finding per complete conflict block, on its ``<<<<<<<`` line."""
    if extension(diff.path) in _DOCUMENTATION:
        return []
    findings = []
    for hunk in diff.hunks:
        lines = [line for line in hunk.lines if line.kind == "+" and line.new is not None]
        opened = None
        separated = False
        for line in lines:
            if _OURS.match(line.text):
                opened, separated = line, False
            elif _SEPARATOR.match(line.text) and opened is not None:
                separated = True
            elif _THEIRS.match(line.text) and opened is not None and separated:
                assert opened.new is not None
                findings.append(
                    ToolFinding(
                        tool=NAME,
                        rule="conflict-markers",
                        path=diff.path,
                        start_line=opened.new,
                        end_line=opened.new,
                        quote=opened.text,
                        severity=Severity.CRITICAL,
                        category=Category.BUG,
                        title="Unresolved merge conflict",
                        body=(
                            "This change adds merge-conflict markers (`<<<<<<<`, `=======`, `>>>>>>>`): the "
                            "conflict was committed unresolved. Keep the intended side, delete the markers, "
                            "and run the tests again."
                        ),
                        suggestion=None,
                    )
                )
                opened, separated = None, False
    return findings


class ConflictsAnalyzer:
    """The ``conflicts`` built-in analyzer."""

    name = NAME

    def check(self, diff: FileDiff) -> list[ToolFinding]:
        """Complete conflict blocks added by ``diff``."""
        return conflict_findings(diff)
