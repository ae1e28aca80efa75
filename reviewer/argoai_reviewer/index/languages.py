"""Which tree-sitter grammar parses a path, and the compiled tag query of each language (loaded once).

Grammars come from the official prebuilt wheels (``tree-sitter-python`` …), whose ``language()`` returns
the compiled grammar: nothing is compiled or downloaded at run time.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import tree_sitter
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_typescript

QUERIES = Path(__file__).parent / "queries"

_EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
}

_GRAMMARS: dict[str, Callable[[], object]] = {
    "python": tree_sitter_python.language,
    "javascript": tree_sitter_javascript.language,
    "typescript": tree_sitter_typescript.language_typescript,
    "tsx": tree_sitter_typescript.language_tsx,
    "go": tree_sitter_go.language,
    "java": tree_sitter_java.language,
}

_QUERY_FILES = {
    "python": ("python.scm",),
    "javascript": ("javascript.scm",),
    "typescript": ("javascript.scm", "typescript_extra.scm"),
    "tsx": ("javascript.scm", "typescript_extra.scm"),
    "go": ("go.scm",),
    "java": ("java.scm",),
}


@dataclass(frozen=True)
class Grammar:
    """A language's parser grammar and its tag query."""

    name: str
    language: tree_sitter.Language
    query: tree_sitter.Query


def language_of(path: str) -> str | None:
    """The language whose grammar parses ``path`` (by extension), or None."""
    return _EXTENSIONS.get(posixpath.splitext(path)[1].lower())


@cache
def grammar(name: str) -> Grammar:
    """The grammar and compiled tag query of language ``name`` (one of :func:`language_of`'s answers)."""
    language = tree_sitter.Language(_GRAMMARS[name]())
    source = "\n".join((QUERIES / file).read_text(encoding="utf-8") for file in _QUERY_FILES[name])
    return Grammar(name=name, language=language, query=tree_sitter.Query(language, source))


def languages() -> list[str]:
    """Every language with a grammar."""
    return sorted(_GRAMMARS)
