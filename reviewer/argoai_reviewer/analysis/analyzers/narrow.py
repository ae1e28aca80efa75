"""Narrowing a Python file to what a change touches, for tools that only look at statements one at a time.

bandit spends about 40 ms of CPU on a 160-line module, nearly all of it visiting every node of the syntax
tree, while ArgoAI keeps only what it reports on changed lines. :func:`narrow_python` returns the file with
every statement that has no changed line replaced by ``pass`` (on its first line, at its indentation) and
blank lines (on the others): line numbers stay the same, compound statements that contain a changed line
keep their headers and are narrowed inside, and every ``import`` is kept (bandit resolves names through
them: ``from subprocess import run`` makes ``run(…, shell=True)`` a subprocess call). bandit's checks look
at one statement and its expressions, so its findings on changed lines are the same; the benchmark of a
20-file pull request checks it. Tools that reason across statements (ruff's unused imports and names) must
see whole files and are never narrowed.

The file is parsed with tree-sitter (made for untrusted input; nothing is executed); a file that does not
parse cleanly, or whose narrowed form would not, is left whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from argoai_reviewer.analysis.analyzers.syntax import parser_for

if TYPE_CHECKING:
    from tree_sitter import Node

_KEPT = frozenset({"import_statement", "import_from_statement", "future_import_statement", "comment"})
# Children of a compound statement that hold blocks of statements (directly or through a clause).
_CLAUSES = frozenset(
    {
        "elif_clause",
        "else_clause",
        "except_clause",
        "except_group_clause",
        "finally_clause",
        "case_clause",
        "function_definition",
        "class_definition",
    }
)


def _blocks(node: Node) -> list[Node]:
    """The statement blocks directly inside compound statement ``node`` (through its clauses)."""
    found = []
    for child in node.children:
        if child.type == "block":
            found.append(child)
        elif child.type in _CLAUSES:
            found += _blocks(child)
    return found


def narrow_python(text: str, changed: frozenset[int]) -> str | None:
    """``text`` with the statements that have no line in ``changed`` (1-based) emptied, or None when the
    file is better left whole (it does not parse cleanly, or nothing would be removed)."""
    parser = parser_for("python")
    if parser is None:
        return None
    data = text.encode("utf-8")
    root = parser.parse(data).root_node
    if root.has_error:
        return None
    lines = text.splitlines(keepends=True)
    emptied: dict[int, str] = {}  # 0-based line → its new text

    def statements(block: Node) -> None:
        for statement in block.named_children:
            if statement.type in _KEPT:
                continue
            if statement.type == "case_clause":
                for inner in _blocks(statement):
                    statements(inner)
                continue
            first, (last, last_column) = statement.start_point[0], statement.end_point
            if last_column == 0 and last > first:
                last -= 1
            if any(number in changed for number in range(first + 1, last + 2)):
                for inner in _blocks(statement):
                    statements(inner)
                continue
            line = lines[first]
            indent = line[: len(line) - len(line.lstrip(" \t\f"))]
            if len(indent.encode("utf-8")) != statement.start_point[1]:
                continue  # shares its first line with something else (``if x: y``): left as it is
            ending = line[len(line.rstrip("\r\n")) :]
            emptied[first] = f"{indent}pass{ending}"
            for number in range(first + 1, last + 1):
                emptied[number] = lines[number][len(lines[number].rstrip("\r\n")) :]

    statements(root)
    if not emptied:
        return None
    narrowed = "".join(emptied.get(index, line) for index, line in enumerate(lines))
    if parser.parse(narrowed.encode("utf-8")).root_node.has_error:
        return None
    return narrowed
