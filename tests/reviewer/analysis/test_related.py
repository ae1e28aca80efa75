"""Related code per LLM call: definitions the change uses, callers of what it changes or removes."""

from __future__ import annotations

from argoai_reviewer.analysis.context import build_batches
from argoai_reviewer.analysis.diff import FileDiff, by_path, parse_patch
from argoai_reviewer.analysis.related import CALLER, DEFINITION, RelatedLimits, find_related
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.index.code_index import CodeIndex
from reviewer.index.trees import MemoryTree

PRICING = (
    "def apply_discount(price, percent):\n"
    '    """The price reduced by ``percent`` percent (0-100)."""\n'
    "    return price * (100 - percent) / 100\n"
)
CART = "from shop.pricing import apply_discount\n\n\ndef total(p):\n    return apply_discount(p, 0.15)\n"
COUNTER = EstimateCounter()


def _added(path: str, text: str) -> FileDiff:
    lines = text.splitlines(keepends=True)
    return parse_patch(path, f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}" for line in lines))


def _plan(files: dict[str, str], diffs: list[FileDiff], limits: RelatedLimits | None = None):  # type: ignore[no-untyped-def]
    tree = MemoryTree(files)
    plan = build_batches(diffs, {d.path: files.get(d.path) for d in diffs}, counter=COUNTER)
    return find_related(CodeIndex(tree), plan.batches, by_path(diffs), COUNTER, limits or RelatedLimits())


def test_the_definition_a_new_call_uses_is_shown_with_path_and_lines() -> None:
    """A call to a function of another file brings that function's whole definition, numbered, marked
    unchanged, in rows that cannot pass for diff lines."""
    related = _plan({"shop/pricing.py": PRICING, "shop/cart.py": CART}, [_added("shop/cart.py", CART)])
    [snippet] = related.snippets
    assert (snippet.kind, snippet.path, snippet.start, snippet.end) == (DEFINITION, "shop/pricing.py", 1, 3)
    text = related.texts[0]
    assert text.splitlines()[0].startswith("--- shop/pricing.py lines 1-3 (unchanged) — definition of")
    assert "1 | def apply_discount(price, percent):" in text
    assert "shop/cart.py:5" in text
    assert related.files == 1


def test_callers_of_a_removed_function_are_shown() -> None:
    """A definition removed from a file brings the call sites that still use it, a few lines around each."""
    old = "def keep():\n    return 1\n\n\ndef legacy_rate():\n    return 3\n"
    patch = "@@ -1,6 +1,2 @@\n def keep():\n     return 1\n-\n-\n-def legacy_rate():\n-    return 3\n"
    caller = "import rates\n\n\ndef price(x):\n    return x * rates.legacy_rate()\n"
    files = {"rates.py": "def keep():\n    return 1\n", "billing/price.py": caller}
    related = _plan(files, [parse_patch("rates.py", patch)])
    assert old  # the base, for the reader
    assert [(s.kind, s.path, s.start, s.end) for s in related.snippets] == [
        (CALLER, "billing/price.py", 2, 8)
    ]
    assert "which this change removes or renames in rates.py" in related.texts[0]


def test_budgets_per_call_and_per_review_are_respected() -> None:
    """Snippets stop at the per-call budget; a zero budget gives none at all."""
    helpers = {
        f"lib/h{i}.py": f"def helper_{i}(x):\n" + "    x += 1\n" * 30 + "    return x\n" for i in range(6)
    }
    user = "".join(f"from lib.h{i} import helper_{i}\n" for i in range(6)) + "\n\ndef run(x):\n"
    user += "".join(f"    x = helper_{i}(x)\n" for i in range(6)) + "    return x\n"
    files = {**helpers, "app.py": user}
    small = _plan(files, [_added("app.py", user)], RelatedLimits(tokens_per_call=300, tokens_per_review=300))
    assert 1 <= len(small.snippets) < 6
    assert small.tokens <= 300
    full = _plan(
        files, [_added("app.py", user)], RelatedLimits(tokens_per_call=10_000, tokens_per_review=10_000)
    )
    assert len(full.snippets) == 6
    none = _plan(files, [_added("app.py", user)], RelatedLimits(enabled=False))
    assert none.snippets == []
    assert none.texts == [""]


def test_snippets_are_redacted() -> None:
    """A credential in a related file is redacted before it reaches the prompt."""
    key = "AKIA" + "Q3EXAMPLE7KEY2XZ"
    pricing = PRICING + f'\nAWS_KEY = "{key}"\n'
    config = f'def apply_discount(price, percent):\n    token = "{key}"\n    return price\n'
    related = _plan({"shop/pricing.py": config, "shop/cart.py": CART}, [_added("shop/cart.py", CART)])
    assert key in pricing
    assert key not in related.texts[0]
    assert "[REDACTED" in related.texts[0]


def test_tests_rank_below_code_and_code_shown_as_diff_is_not_repeated() -> None:
    """A definition in a test file ranks below the same name in code; the changed file is no snippet."""
    files = {
        "shop/pricing.py": PRICING,
        "tests/test_pricing.py": "def apply_discount(price, percent):\n    return 0\n",
        "shop/cart.py": CART,
    }
    one = RelatedLimits(tokens_per_call=120, tokens_per_review=120)
    related = _plan(files, [_added("shop/cart.py", CART)], one)
    assert [s.path for s in related.snippets] == ["shop/pricing.py"]
