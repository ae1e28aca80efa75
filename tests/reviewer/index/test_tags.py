"""Tag queries per language: the definitions and references a file holds, with their lines."""

from __future__ import annotations

import pytest

from argoai_reviewer.index.languages import language_of, languages
from argoai_reviewer.index.tags import MAX_PARSE_BYTES, extract_tags

PYTHON = b"""from shop.pricing import apply_discount
RATE = 3

class Cart:
    def total(self, items: list[Item]) -> Money:
        return apply_discount(sum(i.price for i in items), RATE)
"""
TYPESCRIPT = b"""import { applyDiscount } from "./pricing";
export interface Priced { price: number }
export const total = (items: Priced[]): number => applyDiscount(sum(items), 15);
class Cart extends Base { add(item: Priced) { return new Line(item); } }
"""
GO = b"""package shop

type Cart struct{ Items []Item }

func (c *Cart) Total() Money {
\treturn ApplyDiscount(sum(c.Items), 15)
}
"""
JAVA = b"""class Cart {
  static final int RATE = 3;
  Money total(List<Item> items) { return Pricing.applyDiscount(sum(items), 15); }
}
"""


def _names(tags: tuple, role_kind: bool = False) -> set:  # type: ignore[type-arg]
    return {(t.name, t.kind, t.line) if role_kind else t.name for t in tags}


def test_python_definitions_and_references() -> None:
    """Classes, functions (methods), module constants; calls, imports, types, values passed."""
    tags = extract_tags("python", PYTHON)
    assert _names(tags.definitions, True) == {
        ("RATE", "constant", 2),
        ("Cart", "class", 4),
        ("total", "function", 5),
    }
    refs = _names(tags.references, True)
    assert {("apply_discount", "import", 1), ("apply_discount", "call", 6), ("Item", "type", 5)} <= refs
    assert ("RATE", "value", 6) in refs
    cart = next(t for t in tags.definitions if t.name == "Cart")
    assert (cart.start, cart.end) == (4, 6)


def test_typescript_definitions_and_references() -> None:
    """Interfaces, arrow functions bound to constants, classes, methods; calls, imports, news, types."""
    tags = extract_tags("typescript", TYPESCRIPT)
    assert {("Priced", "interface"), ("total", "function"), ("Cart", "class"), ("add", "method")} <= {
        (t.name, t.kind) for t in tags.definitions
    }
    assert {"applyDiscount", "sum", "Line", "Priced"} <= _names(tags.references)


def test_go_definitions_and_references() -> None:
    """Types and methods; calls and type uses (not the definition's own name)."""
    tags = extract_tags("go", GO)
    assert _names(tags.definitions, True) == {("Cart", "type", 3), ("Total", "method", 5)}
    refs = _names(tags.references, True)
    assert ("ApplyDiscount", "call", 6) in refs
    assert ("Cart", "type", 3) not in refs


def test_java_definitions_and_references() -> None:
    """Classes, fields, methods; method calls and type uses."""
    tags = extract_tags("java", JAVA)
    assert {"Cart", "RATE", "total"} == _names(tags.definitions)
    assert {"applyDiscount", "Item", "Money"} <= _names(tags.references)


def test_every_language_compiles_its_query_and_extensions_map_to_it() -> None:
    """All grammars load from their wheels with their queries; unknown extensions have no language."""
    for language in languages():
        assert extract_tags(language, b"") is not None
    assert [language_of(p) for p in ("a.py", "b.tsx", "c.mjs", "d.go", "E.java", "f.rb")] == [
        "python", "tsx", "javascript", "go", "java", None
    ]  # fmt: skip


def test_huge_files_are_not_parsed() -> None:
    """A file over the parse limit gives no tags (text search still finds it)."""
    source = b"def f():\n    pass\n" * (MAX_PARSE_BYTES // 16 + 1)
    assert extract_tags("python", source).definitions == ()


@pytest.mark.parametrize("garbage", [b"def (((:\n", b"\xff\xfe\x00 class", b"}}}}"])
def test_broken_code_parses_without_error(garbage: bytes) -> None:
    """Syntax errors and invalid bytes never raise."""
    extract_tags("python", garbage)
