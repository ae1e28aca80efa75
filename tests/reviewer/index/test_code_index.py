"""The code index: definitions and references by name, text fallback, caching per content."""

from __future__ import annotations

from argoai_reviewer.index.cache import IndexCache
from argoai_reviewer.index.code_index import CodeIndex
from reviewer.index.trees import MemoryTree

FILES = {
    "shop/pricing.py": "def apply_discount(price, percent):\n    return price * (100 - percent) / 100\n",
    "shop/cart.py": (
        "from shop.pricing import apply_discount\n\ndef total(p):\n    return apply_discount(p, 10)\n"
    ),
    "web/cart.ts": (
        "import { total } from './cart';\nexport function show() { return apply_discount(1, 2); }\n"
    ),
    "docs/pricing.md": "Call `apply_discount(price, percent)` with a percentage.\n",
    "unrelated.py": "def other():\n    return 1\n",
}


def test_definitions_are_found_only_in_files_holding_the_name() -> None:
    """The definition of a name, from the files whose identifiers include it (others are never parsed)."""
    cache = IndexCache()
    index = CodeIndex(MemoryTree(FILES), cache)
    [found] = index.definitions("apply_discount")
    assert (found.path, found.tag.kind, found.tag.start, found.tag.end) == (
        "shop/pricing.py",
        "function",
        1,
        2,
    )
    assert cache.parsed == 3  # pricing.py, cart.py, cart.ts: not unrelated.py, and docs have no grammar


def test_references_include_calls_imports_and_text_mentions() -> None:
    """References: tag captures in code files, whole-word text matches in files without a grammar."""
    index = CodeIndex(MemoryTree(FILES))
    found = {(r.path, r.tag.kind, r.tag.line) for r in index.references("apply_discount")}
    assert found == {
        ("shop/cart.py", "import", 1),
        ("shop/cart.py", "call", 4),
        ("web/cart.ts", "call", 2),
        ("docs/pricing.md", "text", 1),
    }
    assert index.references("discount") == []


def test_the_next_head_reuses_what_did_not_change() -> None:
    """A second snapshot sharing most contents re-tokenizes and re-parses only the changed file."""
    cache = IndexCache()
    CodeIndex(MemoryTree(FILES), cache).definitions("apply_discount")
    tokenized, parsed = cache.tokenized, cache.parsed
    changed = {**FILES, "shop/cart.py": FILES["shop/cart.py"] + "\nEXTRA = apply_discount(1, 2)\n"}
    tree = MemoryTree(changed)
    assert len(CodeIndex(tree, cache).definitions("apply_discount")) == 1
    assert cache.tokenized == tokenized + 1
    assert cache.parsed == parsed + 1
    assert tree.reads == ["shop/cart.py", "shop/cart.py"]  # tokenized, then parsed; nothing else read


def test_files_with_answers_many_names_in_one_pass() -> None:
    """files_with: for each name, the files that contain it as an identifier (not as part of a word)."""
    index = CodeIndex(MemoryTree(FILES))
    found = index.files_with(["total", "percent", "missing_name"])
    assert found == {
        "total": ["shop/cart.py", "web/cart.ts"],
        "percent": ["docs/pricing.md", "shop/pricing.py"],
        "missing_name": [],
    }
