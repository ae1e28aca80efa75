"""Parse checks of suggestions: a ````suggestion```` block is offered only if it keeps the file parseable.

Before a suggestion is posted, the file at head with the suggestion applied (the commented lines replaced)
is parsed with tree-sitter (``tree-sitter-language-pack``, grammars inside the wheel, nothing downloaded)
for the file's language, and so is the file as it is. A suggestion whose file has more syntax errors
(``ERROR`` or ``MISSING`` nodes) than the original is dropped from the comment, which says so; the finding
itself is still posted. Files in a language without a grammar here are not checked (their suggestions are
kept); a suggestion for a file whose text could not be read, in a language that has one, is dropped, since it
cannot be checked. Parsing is in-process and takes about a millisecond for a file of a few hundred lines;
both parses are counted in ``argoai_suggestion_checks_total``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from argoai_reviewer.analysis.analyzers.lines import extension
from argoai_reviewer.analysis.analyzers.tools.hadolint import is_dockerfile
from argoai_reviewer.analysis.anchoring import Anchored, Placement
from argoai_reviewer.metrics import SUGGESTION_CHECKS

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

# Extension → tree-sitter-language-pack grammar.
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
    "kt": "kotlin",
    "kts": "kotlin",
    "scala": "scala",
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
    "swift": "swift",
    "lua": "lua",
    "sh": "bash",
    "bash": "bash",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "css": "css",
    "scss": "scss",
    "html": "html",
    "tf": "hcl",
    "hcl": "hcl",
    "ex": "elixir",
    "exs": "elixir",
    "erl": "erlang",
    "hs": "haskell",
    "dart": "dart",
    "zig": "zig",
    "sql": "sql",
    "proto": "proto",
}
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
    if is_dockerfile(path):
        return "dockerfile"
    return LANGUAGES.get(extension(path))


@cache
def _parser(language: str) -> Parser | None:
    try:
        from tree_sitter_language_pack import get_parser
    except ImportError:  # pragma: no cover - a dependency; absent only in a broken install
        return None
    try:
        return get_parser(language)  # type: ignore[arg-type]
    except (LookupError, ValueError, OSError, AttributeError):
        return None


def _errors(node: Node) -> tuple[int, int | None]:
    """Error and missing nodes under ``node`` and the first one's line (error-free subtrees skipped)."""
    count, first = 0, None
    stack = [node]
    while stack:
        current = stack.pop()
        if current.is_error or current.is_missing:
            count += 1
            line = current.start_point[0] + 1
            first = line if first is None else min(first, line)
            if current.is_missing:
                continue
        stack.extend(child for child in current.children if child.has_error or child.is_missing)
    return count, first


def apply_suggestion(text: str, start: int, end: int, suggestion: str) -> str:
    """``text`` with lines ``start``..``end`` (1-based) replaced by ``suggestion``, line endings kept."""
    lines = text.splitlines(keepends=True)
    ending = "\r\n" if lines and lines[min(start, len(lines)) - 1].endswith("\r\n") else "\n"
    replacement = [line + ending for line in suggestion.split("\n")] if suggestion else []
    last = lines[end - 1] if 0 < end <= len(lines) else ""
    if replacement and not last.endswith(("\n", "\r")):
        replacement[-1] = replacement[-1].rstrip("\r\n")
    return "".join([*lines[: start - 1], *replacement, *lines[end:]])


def check_suggestion(
    path: str,
    text: str | None,
    start: int,
    end: int,
    suggestion: str,
    originals: dict[str, int] | None = None,
) -> Verdict:
    """Whether replacing lines ``start``..``end`` of ``path`` (whose head text is ``text``) by ``suggestion``
    introduces a syntax error the file did not have. ``originals`` caches the original files' error counts.

    One parse when the result parses cleanly (the usual case); the original is parsed only otherwise.
    """
    language = language_of(path)
    parser = _parser(language) if language is not None else None
    if parser is None or language is None:
        return Verdict(ok=True, result="no_parser")
    if text is None:
        return Verdict(ok=False, reason=UNCHECKED, result="dropped_unchecked")
    changed = parser.parse(apply_suggestion(text, start, end, suggestion).encode("utf-8")).root_node
    if not changed.has_error:
        return Verdict(ok=True)
    cache = originals if originals is not None else {}
    if path not in cache:
        cache[path] = _errors(parser.parse(text.encode("utf-8")).root_node)[0]
    after, line = _errors(changed)
    if after > cache[path]:
        return Verdict(ok=False, reason=REASON.format(language=language, line=line), result="dropped_syntax")
    return Verdict(ok=True)


def check_suggestions(placements: Sequence[Placement], texts: Mapping[str, str | None]) -> list[Placement]:
    """``placements`` with each suggestion that would break its file's syntax dropped, saying why."""
    checked: list[Placement] = []
    originals: dict[str, int] = {}
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
    parser: Any = _parser(language)
    if parser is None:
        return -1
    return _errors(parser.parse(source.encode("utf-8")).root_node)[0]
