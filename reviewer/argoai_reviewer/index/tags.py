"""The tags of one file: the names it defines (with the lines of each definition) and the names it uses.

A tag query (``queries/<language>.scm``) captures ``@name`` and a ``@definition.<kind>`` or
``@reference.<kind>`` node in each match; this module turns the matches into plain :class:`Tag` values
(1-based line numbers). A reference captured at the very spot of a definition's name (Go and Java type
identifiers match both) is the definition itself and is dropped. Files longer than :data:`MAX_PARSE_BYTES`
are not parsed (their tags are empty; text search still finds them): tree-sitter's time grows with size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import tree_sitter

from argoai_reviewer.index.languages import grammar

Role = Literal["definition", "reference"]
MAX_PARSE_BYTES = 1024 * 1024


class Tag(NamedTuple):
    """One tag: ``name`` at line ``line``; ``start``..``end`` are the lines of the whole captured node."""

    name: str
    role: Role
    kind: str
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class FileTags:
    """Every definition and reference of one file, in source order."""

    definitions: tuple[Tag, ...] = ()
    references: tuple[Tag, ...] = ()

    def defined(self, name: str) -> list[Tag]:
        """The definitions of ``name`` in this file."""
        return [tag for tag in self.definitions if tag.name == name]


EMPTY = FileTags()


def extract_tags(language: str, source: bytes) -> FileTags:
    """The tags of ``source`` written in ``language`` (see :func:`~.languages.language_of`)."""
    if len(source) > MAX_PARSE_BYTES:
        return EMPTY
    tree = tree_sitter.Parser(grammar(language).language).parse(source)
    cursor = tree_sitter.QueryCursor(grammar(language).query)
    definitions: dict[tuple[str, int], Tag] = {}
    references: dict[tuple[str, int, int], Tag] = {}
    for _, captures in cursor.matches(tree.root_node):
        names = captures.get("name")
        if not names:
            continue
        name_node = names[-1]
        text = name_node.text
        if not text:
            continue
        name = text.decode("utf-8", errors="replace")
        line = name_node.start_point.row + 1
        for capture, nodes in captures.items():
            prefix, _, kind = capture.partition(".")
            if not nodes or prefix not in ("definition", "reference"):
                continue
            role: Role = "definition" if prefix == "definition" else "reference"
            node = nodes[0]
            tag = Tag(name, role, kind, line, node.start_point.row + 1, node.end_point.row + 1)
            if role == "definition":
                # A function bound to a constant matches both patterns: the more specific kind wins.
                known = definitions.get((name, line))
                if known is None or (known.kind == "constant" and kind != "constant"):
                    definitions[(name, line)] = tag
            else:
                references.setdefault((name, line, name_node.start_point.column), tag)
    # A definition's own name is no reference to it.
    kept = [tag for (name, line, _), tag in references.items() if (name, line) not in definitions]
    return FileTags(
        definitions=tuple(sorted(definitions.values(), key=lambda t: (t.line, t.name))),
        references=tuple(sorted(kept, key=lambda t: (t.line, t.name))),
    )
