"""Parse checks of suggestions: a ````suggestion```` block is offered only if it keeps the file parseable.

Before a suggestion is posted, the file at head with the suggestion applied (the commented lines replaced)
is parsed with tree-sitter (the tree-sitter project's grammar wheels: compiled, nothing downloaded) for the
file's language: the file is parsed once; a suggestion is checked on the top-level statements it touches
(:func:`_check_region`), or else as an edit of the file's tree re-parsed incrementally. A suggestion that
gives a clean file a syntax error, or an already broken file more syntax errors (``ERROR`` or ``MISSING``
nodes), is dropped from the comment, which says so; the finding itself is still posted. Files in a language
without a grammar here are not checked (their suggestions are kept); a suggestion for a file whose text
could not be read, in a language that has one, is dropped, since it cannot be checked. Every check is
counted in ``argoai_suggestion_checks_total``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.anchoring import Anchored, Placement
from argoai_reviewer.metrics import SUGGESTION_CHECKS

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree

# Extension → grammar: the tree-sitter project's own grammar wheels (abi3, compiled, nothing downloaded).
LANGUAGES: Mapping[str, str] = {
    "py": "python",
    "pyi": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "mts": "typescript",
    "cts": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rs": "rust",
    "java": "java",
    "rb": "ruby",
    "php": "php",
    "c": "c",
    "h": "c",
    "cc": "cpp",
    "cpp": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "hh": "cpp",
    "cs": "csharp",
    "sh": "bash",
    "bash": "bash",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "css": "css",
    "html": "html",
    "tf": "hcl",
    "hcl": "hcl",
}
# Grammar → (module, function returning the language pointer).
GRAMMARS: Mapping[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "bash": ("tree_sitter_bash", "language"),
    "json": ("tree_sitter_json", "language"),
    "yaml": ("tree_sitter_yaml", "language"),
    "toml": ("tree_sitter_toml", "language"),
    "css": ("tree_sitter_css", "language"),
    "html": ("tree_sitter_html", "language"),
    "hcl": ("tree_sitter_hcl", "language"),
}
# Languages whose top-level statements parse on their own (not templates such as PHP or HTML, nor single
# documents such as JSON or YAML): a suggestion is checked on the statements it touches.
STANDALONE = frozenset(
    {"python", "javascript", "typescript", "tsx", "go", "rust", "java", "ruby", "c", "cpp", "csharp", "bash"}
)
REASON = "the code with it applied would not parse ({language}: syntax error at line {line})"
UNCHECKED = "the file could not be read to check that it still parses"


@dataclass(frozen=True)
class Verdict:
    """The result of one check: ``ok`` (or not checkable), and why not."""

    ok: bool
    reason: str | None = None
    result: str = "kept"


def language_of(path: str) -> str | None:
    """The grammar for ``path``, or None when there is none here."""
    return LANGUAGES.get(extension(path))


@cache
def parser_for(language: str) -> Parser | None:
    """A parser for ``language`` (a key of :data:`GRAMMARS`), or None when its grammar is not installed."""
    module_name, function = GRAMMARS.get(language, ("", ""))
    try:
        from tree_sitter import Language, Parser

        module = importlib.import_module(module_name)
        return Parser(Language(getattr(module, function)()))
    except (ImportError, AttributeError, ValueError):
        return None


def _errors(node: Node) -> int:
    """``ERROR`` and ``MISSING`` nodes under ``node``, nested ones included (error-free subtrees skipped)."""
    count = 0
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_error or current.is_missing:
            count += 1
        stack.extend(child for child in current.children if child.has_error or child.is_missing)
    return count


def _first_error_line(node: Node) -> int:
    """The line (1-based) of the first ``ERROR`` or ``MISSING`` node under ``node``."""
    current = node
    while not (current.is_error or current.is_missing):
        children = [child for child in current.children if child.has_error or child.is_missing]
        if not children:
            break
        current = children[0]
    return int(current.start_point[0]) + 1


def _point(data: bytes) -> tuple[int, int]:
    """The (row, column) just after ``data``, in bytes, as tree-sitter counts them."""
    return data.count(b"\n"), len(data) - (data.rfind(b"\n") + 1)


@dataclass
class _Original:
    tree: Tree
    errors: int | None = None


def _split(text: str, start: int, end: int, suggestion: str) -> tuple[str, str, str, str]:
    """``text`` as (before, replaced lines, replacement, after) for the suggestion on ``start``..``end``."""
    lines = text.splitlines(keepends=True)
    ending = "\r\n" if lines and lines[min(start, len(lines)) - 1].endswith("\r\n") else "\n"
    replacement = [line + ending for line in suggestion.split("\n")] if suggestion else []
    last = lines[end - 1] if 0 < end <= len(lines) else ""
    if replacement and not last.endswith(("\n", "\r")):
        replacement[-1] = replacement[-1].rstrip("\r\n")
    return (
        "".join(lines[: start - 1]),
        "".join(lines[start - 1 : end]),
        "".join(replacement),
        "".join(lines[end:]),
    )


def apply_suggestion(text: str, start: int, end: int, suggestion: str) -> str:
    """``text`` with lines ``start``..``end`` (1-based) replaced by ``suggestion``, line endings kept."""
    before, _, replacement, after = _split(text, start, end, suggestion)
    return before + replacement + after


def check_suggestion(
    path: str,
    text: str | None,
    start: int,
    end: int,
    suggestion: str,
    originals: dict[str, Any] | None = None,
) -> Verdict:
    """Whether replacing lines ``start``..``end`` of ``path`` (whose head text is ``text``) by ``suggestion``
    introduces a syntax error the file did not have. ``originals`` caches each file's parse between calls.

    The file is parsed once; a suggestion costs a parse of the statements it touches, or an incremental
    re-parse of the edited tree (tree-sitter reuses what the edit did not touch).
    """
    language = language_of(path)
    parser = parser_for(language) if language is not None else None
    if parser is None or language is None:
        return Verdict(ok=True, result="no_parser")
    if text is None:
        return Verdict(ok=False, reason=UNCHECKED, result="dropped_unchecked")
    cache = originals if originals is not None else {}
    original = cache.get(path)
    if not isinstance(original, _Original):
        original = cache[path] = _Original(parser.parse(text.encode("utf-8")))
    before, replaced, replacement, after = (
        part.encode("utf-8") for part in _split(text, start, end, suggestion)
    )
    if language in STANDALONE and not original.tree.root_node.has_error:
        verdict = _check_region(
            parser, language, original.tree.root_node, before, replaced, replacement, after
        )
        if verdict is not None:
            return verdict
    edited = original.tree.copy()
    edited.edit(
        start_byte=len(before),
        old_end_byte=len(before) + len(replaced),
        new_end_byte=len(before) + len(replacement),
        start_point=_point(before),
        old_end_point=_point(before + replaced),
        new_end_point=_point(before + replacement),
    )
    changed = parser.parse(before + replacement + after, edited).root_node
    if not changed.has_error:
        return Verdict(ok=True)
    # A clean file that now has an error: no need to count (counting a large error region is slow).
    if original.tree.root_node.has_error:
        if original.errors is None:
            original.errors = _errors(original.tree.root_node)
        if _errors(changed) <= original.errors:
            return Verdict(ok=True)
    line = _first_error_line(changed)
    return Verdict(ok=False, reason=REASON.format(language=language, line=line), result="dropped_syntax")


def _check_region(
    parser: Parser,
    language: str,
    root: Node,
    before: bytes,
    replaced: bytes,
    replacement: bytes,
    after: bytes,
) -> Verdict | None:
    """The verdict from parsing only the top-level statements the edit touches, or None when that region
    does not parse cleanly on its own (then the whole file is re-parsed).

    In a clean file of a language whose top-level statements parse on their own, the edited file parses
    cleanly exactly when the edited region does: the code around it is unchanged and starts at a top-level
    boundary. Parsing a few statements instead of a large file keeps a syntax-breaking suggestion (whose
    error recovery would run to the end of the file) as cheap as a valid one.
    """
    start, old_end = len(before), len(before) + len(replaced)
    region_start = max((child.end_byte for child in root.children if child.end_byte <= start), default=0)
    region_end = min(
        (child.start_byte for child in root.children if child.start_byte >= old_end),
        default=len(before) + len(replaced) + len(after),
    )
    data = before + replaced + after
    if parser.parse(data[region_start:region_end]).root_node.has_error:
        return None
    edited = data[region_start:start] + replacement + data[old_end:region_end]
    node = parser.parse(edited).root_node
    if not node.has_error:
        return Verdict(ok=True)
    line = data[:region_start].count(b"\n") + _first_error_line(node)
    return Verdict(ok=False, reason=REASON.format(language=language, line=line), result="dropped_syntax")


def check_suggestions(placements: Sequence[Placement], texts: Mapping[str, str | None]) -> list[Placement]:
    """``placements`` with each suggestion that would break its file's syntax dropped, saying why."""
    checked: list[Placement] = []
    originals: dict[str, Any] = {}
    for item in placements:
        if isinstance(item, Anchored) and item.suggestion is not None:
            verdict = check_suggestion(
                item.path, texts.get(item.path), item.start, item.end, item.suggestion, originals
            )
            SUGGESTION_CHECKS.labels(verdict.result).inc()
            if not verdict.ok:
                item = replace(item, suggestion=None, suggestion_dropped=verdict.reason)
        checked.append(item)
    return checked


def parse_errors(language: str, source: str) -> int:
    """Syntax errors tree-sitter finds in ``source`` (for tests and benchmarks); -1 without a grammar."""
    parser: Any = parser_for(language)
    if parser is None:
        return -1
    return _errors(parser.parse(source.encode("utf-8")).root_node)
