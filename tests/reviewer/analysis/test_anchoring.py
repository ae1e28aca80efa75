"""Anchoring findings on the diff: exact, re-anchored by quote, or a summary note — never a 422."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from argoai_core.models.findings import Category, Finding, Severity
from argoai_reviewer.analysis.anchoring import (
    MIN_FRAGMENT,
    Anchored,
    How,
    Reason,
    Unanchored,
    anchor,
    anchor_all,
    normalize_block,
)
from argoai_reviewer.analysis.diff import FileDiff, parse_patch, parse_unified_diff

FIXTURES = Path(__file__).parents[2] / "fixtures" / "diffs"

STORE_PATCH = """@@ -10,6 +10,8 @@ class Store:
     def get(self, key):
         value = self._data.get(key)
-        return value
+        if value is None:
+            raise KeyError(key)
+        return value
\x20
     def put(self, key, value):
         self._data[key] = value
@@ -40,3 +42,4 @@ class Store:
     def delete(self, key):
-        del self._data[key]
+        self._data.pop(key)
+        return value
         # end"""

DIFFS: dict[str, FileDiff] = {
    "store.py": parse_patch("store.py", STORE_PATCH),
    "gone.py": parse_patch("gone.py", "@@ -1,2 +0,0 @@\n-a = 1\n-b = 2", status="removed"),
    "moved.py": parse_patch("moved.py", "", status="renamed", old_path="was.py"),
    "logo.png": FileDiff(path="logo.png", old_path=None, status="modified", hunks=(), binary=True),
    "new_name.py": parse_patch(
        "new_name.py",
        "@@ -1 +1 @@\n-x = compute()\n+x = compute_all()",
        status="renamed",
        old_path="old_name.py",
    ),
}


def finding(
    quote: str,
    start: int,
    end: int | None = None,
    *,
    path: str = "store.py",
    suggestion: str | None = None,
) -> Finding:
    """A finding with the given location, quote and suggestion."""
    return Finding(
        path=path,
        start_line=start,
        end_line=start if end is None else end,
        quote=quote,
        severity=Severity.MAJOR,
        category=Category.BUG,
        title="t",
        body="b",
        suggestion=suggestion,
    )


def anchored(result: Anchored | Unanchored) -> Anchored:
    """The result, asserting it is anchored."""
    assert isinstance(result, Anchored), result
    return result


def unanchored(result: Anchored | Unanchored) -> Unanchored:
    """The result, asserting it is not anchored."""
    assert isinstance(result, Unanchored), result
    return result


def test_exact_single_line() -> None:
    """A quote that is the claimed line is EXACT on that line."""
    result = anchored(anchor(finding("raise KeyError(key)", 13), DIFFS))
    assert (result.start, result.end, result.how) == (13, 13, How.EXACT)


def test_exact_multi_line_with_original_indentation() -> None:
    """A multi-line quote equal to the claimed lines is EXACT on that range."""
    quote = "        if value is None:\n            raise KeyError(key)\n"
    result = anchored(anchor(finding(quote, 12, 13), DIFFS))
    assert (result.start, result.end, result.how) == (12, 13, How.EXACT)


def test_exact_ignores_common_indentation_trailing_space_and_crlf() -> None:
    """Common indentation, trailing whitespace, CRLF and blank edge lines do not prevent a match."""
    quote = "\r\nif value is None:   \r\n    raise KeyError(key)\t\r\n\r\n"
    result = anchored(anchor(finding(quote, 12, 13), DIFFS))
    assert (result.start, result.end, result.how) == (12, 13, How.EXACT)


def test_relative_indentation_must_match() -> None:
    """Lines whose relative indentation differs from the file's do not match."""
    quote = "if value is None:\nraise KeyError(key)"
    assert unanchored(anchor(finding(quote, 12, 13), DIFFS)).reason is Reason.QUOTE_NOT_FOUND


def test_context_line_is_anchorable() -> None:
    """Unchanged context lines of a hunk are commentable and can be anchored on."""
    result = anchored(anchor(finding("def put(self, key, value):", 16), DIFFS))
    assert (result.start, result.how) == (16, How.EXACT)


def test_shifted_line_is_reanchored_to_quote() -> None:
    """A claimed line that does not hold the quote is moved to where the quote is."""
    result = anchored(anchor(finding("raise KeyError(key)", 11), DIFFS))
    assert (result.start, result.end, result.how) == (13, 13, How.REANCHORED)


def test_line_outside_diff_is_reanchored() -> None:
    """A claimed line outside every hunk is re-anchored by the quote."""
    result = anchored(anchor(finding("self._data.pop(key)", 30), DIFFS))
    assert (result.start, result.end, result.how) == (43, 43, How.REANCHORED)


def test_duplicate_quote_goes_to_nearest_match() -> None:
    """When the quote occurs several times, the match nearest the claimed line wins."""
    assert anchored(anchor(finding("return value", 20), DIFFS)).start == 14
    assert anchored(anchor(finding("return value", 40), DIFFS)).start == 44


def test_duplicate_quote_tie_goes_to_earlier_line() -> None:
    """Equally near matches resolve to the earlier line (deterministic)."""
    assert anchored(anchor(finding("return value", 29), DIFFS)).start == 14


def test_multi_line_quote_across_hunks_is_not_found() -> None:
    """A quote whose lines are split over two hunks cannot be anchored (no range spans hunks)."""
    quote = "self._data[key] = value\ndef delete(self, key):"
    result = unanchored(anchor(finding(quote, 17, 18), DIFFS))
    assert result.reason is Reason.QUOTE_NOT_FOUND


def test_quote_of_removed_line_is_not_found() -> None:
    """Code that only exists on removed lines is not a RIGHT-side anchor."""
    result = unanchored(anchor(finding("del self._data[key]", 43), DIFFS))
    assert result.reason is Reason.QUOTE_NOT_FOUND


def test_claimed_range_wider_than_quote_is_narrowed() -> None:
    """A quote inside a wider claimed range is anchored on the quote's lines only."""
    result = anchored(anchor(finding("raise KeyError(key)", 12, 14), DIFFS))
    assert (result.start, result.end, result.how) == (13, 13, How.REANCHORED)


def test_fragment_on_claimed_line_is_exact() -> None:
    """A long enough part of the claimed line matches it exactly."""
    result = anchored(anchor(finding("KeyError(key)", 13), DIFFS))
    assert (result.start, result.how) == (13, How.EXACT)


def test_fragment_elsewhere_is_reanchored() -> None:
    """A fragment not on the claimed line is re-anchored to the line containing it."""
    result = anchored(anchor(finding("_data.pop(", 10), DIFFS))
    assert (result.start, result.how) == (43, How.REANCHORED)


def test_short_fragment_does_not_match() -> None:
    """A fragment shorter than MIN_FRAGMENT non-blank characters is too ambiguous to match."""
    short = "key)"
    assert len(short) < MIN_FRAGMENT
    assert unanchored(anchor(finding(short, 13), DIFFS)).reason is Reason.QUOTE_NOT_FOUND


def test_full_match_preferred_over_nearer_fragment() -> None:
    """A whole-line match is chosen over a nearer line that merely contains the quote."""
    patch = "@@ -0,0 +1,3 @@\n+call(value_total)\n+x = 1\n+value_total"
    diffs = {"f.py": parse_patch("f.py", patch, status="added")}
    result = anchored(anchor(finding("value_total", 2, path="f.py"), diffs))
    assert (result.start, result.how) == (3, How.REANCHORED)


def test_path_not_in_diff() -> None:
    """A finding on a file that is not in the diff goes to the summary."""
    result = unanchored(anchor(finding("x", 1, path="other.py"), DIFFS))
    assert (result.reason, result.path) == (Reason.NOT_IN_DIFF, "other.py")


def test_removed_file() -> None:
    """A finding on a removed file goes to the summary."""
    assert unanchored(anchor(finding("a = 1", 1, path="gone.py"), DIFFS)).reason is Reason.REMOVED


def test_binary_file() -> None:
    """A finding on a binary file goes to the summary."""
    assert unanchored(anchor(finding("PNG", 1, path="logo.png"), DIFFS)).reason is Reason.NO_PATCH


def test_pure_rename() -> None:
    """A finding on a file renamed without changes has no line to go on."""
    assert unanchored(anchor(finding("x", 1, path="moved.py"), DIFFS)).reason is Reason.NO_LINES


def test_empty_quote() -> None:
    """A whitespace-only quote cannot locate code."""
    assert unanchored(anchor(finding(" \n\t", 13), DIFFS)).reason is Reason.EMPTY_QUOTE


@pytest.mark.parametrize("path", ["./store.py", "/store.py", "b/store.py", "a/store.py"])
def test_path_prefixes_are_resolved(path: str) -> None:
    """'./', a leading '/', and git's 'a/'/'b/' prefixes resolve to the diff's path."""
    result = anchored(anchor(finding("raise KeyError(key)", 13, path=path), DIFFS))
    assert result.path == "store.py"


def test_old_path_of_rename_resolves_to_new_path() -> None:
    """A finding naming a renamed file's old path is anchored on the new path."""
    result = anchored(anchor(finding("x = compute_all()", 1, path="old_name.py"), DIFFS))
    assert (result.path, result.start) == ("new_name.py", 1)


def test_suggestion_kept_when_exact() -> None:
    """An EXACT full match keeps its suggestion unchanged."""
    item = finding("            raise KeyError(key)", 13, suggestion="            raise")
    result = anchored(anchor(item, DIFFS))
    assert result.suggestion == "            raise"
    assert result.suggestion_dropped is None


def test_suggestion_kept_when_shifted_with_same_length() -> None:
    """A full match moved to other lines but of the claimed length keeps its suggestion."""
    quote = "if value is None:\n    raise KeyError(key)"
    item = finding(quote, 2, 3, suggestion="if not value:\n    raise KeyError(key)")
    result = anchored(anchor(item, DIFFS))
    assert (result.start, result.end, result.how) == (12, 13, How.REANCHORED)
    assert result.suggestion == "        if not value:\n            raise KeyError(key)"


def test_suggestion_reindented_to_file_indentation() -> None:
    """A suggestion written at the quote's indentation is moved to the file's indentation."""
    item = finding("raise KeyError(key)", 13, suggestion="raise LookupError(key)\n")
    result = anchored(anchor(item, DIFFS))
    assert result.suggestion == "            raise LookupError(key)"


def test_suggestion_dropped_when_length_differs() -> None:
    """A suggestion for a claimed range of another length than the anchored one is dropped."""
    result = anchored(anchor(finding("raise KeyError(key)", 12, 14, suggestion="raise X"), DIFFS))
    assert result.suggestion is None
    assert result.suggestion_dropped is not None
    assert "length" in result.suggestion_dropped


def test_suggestion_dropped_for_fragment() -> None:
    """A suggestion of a fragment match would replace the whole line: dropped."""
    result = anchored(anchor(finding("KeyError(key)", 13, suggestion="LookupError(key)"), DIFFS))
    assert (result.how, result.suggestion) == (How.EXACT, None)
    assert result.suggestion_dropped is not None


def test_suggestion_dropped_when_indentation_inconsistent() -> None:
    """A suggestion with lines less indented than the quote cannot be re-indented: dropped."""
    quote = "    if value is None:\n        raise KeyError(key)"
    result = anchored(anchor(finding(quote, 12, 13, suggestion="if x:\n    y"), DIFFS))
    assert result.suggestion is None
    assert result.suggestion_dropped is not None


def test_noop_suggestion_dropped() -> None:
    """A suggestion identical to the code it replaces is dropped."""
    result = anchored(anchor(finding("return value", 14, suggestion="return value"), DIFFS))
    assert result.suggestion is None
    assert result.suggestion_dropped == "the suggestion does not change the code"


def test_empty_suggestion_deletes_lines() -> None:
    """An empty suggestion (delete the lines) is kept as an empty replacement."""
    result = anchored(anchor(finding("return value", 14, suggestion=""), DIFFS))
    assert result.suggestion == ""


def test_normalize_block() -> None:
    """normalize_block drops CR, trailing space, blank edge lines and common indentation."""
    assert normalize_block("\n  a  \r\n    b\r\n\n") == ("a", "  b")


def test_anchor_all_keeps_every_finding_in_order() -> None:
    """anchor_all returns one placement per finding, in input order."""
    findings = [finding("raise KeyError(key)", 13), finding("nope nope nope", 1), finding("x", 1, path="z")]
    results = anchor_all(findings, DIFFS)
    assert [r.finding for r in results] == findings
    assert [type(r) for r in results] == [Anchored, Unanchored, Unanchored]


def _corpus_diffs() -> dict[str, FileDiff]:
    text = (FIXTURES / "local.diff").read_bytes().decode("utf-8")
    diffs = {d.path: d for d in parse_unified_diff(text)}
    diffs.update(DIFFS)
    return diffs


def _random_quote(rng: random.Random, diff: FileDiff) -> tuple[str, int]:
    """A quote drawn from the diff (right lines, removed lines, across hunks) or made up."""
    lines = [line for hunk in diff.hunks for line in hunk.lines]
    if not lines or rng.random() < 0.15:
        made_up = ["value", "nope nope nope", "return value", "  ", "line 3\nline 4"]
        return rng.choice(made_up), rng.randint(1, 60)
    i = rng.randrange(len(lines))
    chosen = lines[i : i + rng.randint(1, 4)]
    text = "\n".join(line.text for line in chosen)
    if rng.random() < 0.3:
        text = "    " + text.replace("\n", "\n    ") + "\r\n"
    return text or " ", chosen[0].new or chosen[0].old or 1


def test_every_anchored_range_is_commentable_in_one_hunk() -> None:
    """For 5,000 random findings every anchored range is commentable, in one hunk, and holds the quote."""
    rng = random.Random(20261120)
    diffs = _corpus_diffs()
    paths = [*diffs, "missing.py", "./store.py"]
    counts = {"anchored": 0, "unanchored": 0, "exact": 0}
    for _ in range(5000):
        path = rng.choice(paths)
        diff = diffs.get(path.removeprefix("./"))
        quote, near = _random_quote(rng, diff) if diff else ("x = 1", 1)
        start = max(1, near + rng.choice([0, 0, 0, -3, -1, 1, 2, 25]))
        item = finding(quote, start, start + rng.choice([0, 0, 1, 2, 5]), path=path, suggestion="pass")
        result = anchor(item, diffs)
        assert result.finding is item
        if isinstance(result, Unanchored):
            counts["unanchored"] += 1
            continue
        counts["anchored"] += 1
        counts["exact"] += result.how is How.EXACT
        target = diffs[result.path]
        assert result.start <= result.end
        assert all(n in target.commentable for n in range(result.start, result.end + 1))
        assert target.in_one_hunk(result.start, result.end)
        hunk = target.hunk_of(result.start)
        assert hunk is not None
        assert all(target.hunk_of(n) is hunk for n in range(result.start, result.end + 1))
        text = "\n".join(target.new_text(n) or "" for n in range(result.start, result.end + 1))
        wanted = normalize_block(quote)
        assert normalize_block(text) == wanted or (len(wanted) == 1 and wanted[0].strip() in text)
        if result.how is How.EXACT:
            assert (result.start, result.end) == (item.start_line, item.end_line)
        if result.suggestion is not None:
            assert result.end - result.start == item.end_line - item.start_line
    assert counts["anchored"] > 1000
    assert counts["unanchored"] > 500
    assert counts["exact"] > 200


TOKEN = "ghp_" + "a1B2c3D4" * 4 + "e5F6"
SECRET_PATCH = (
    "@@ -1,2 +1,4 @@\n"
    " import os\n"
    f'+API_TOKEN = "{TOKEN}"\n'
    '+TIMEOUT = float(os.environ.get("TIMEOUT", "5"))\n'
    " \n"
)


def test_quote_of_a_redacted_secret_lands_on_its_line() -> None:
    """The model quotes the token line as it saw it (value redacted): the finding is placed on that line."""
    diffs = {"settings.py": parse_patch("settings.py", SECRET_PATCH)}
    result = anchored(anchor(finding('API_TOKEN = "[REDACTED]"', 2, path="settings.py"), diffs))
    assert (result.path, result.start, result.end, result.how) == ("settings.py", 2, 2, How.EXACT)


def test_suggestion_on_redacted_lines_is_dropped() -> None:
    """A suggestion written over a redacted line would commit the placeholder: it is not kept."""
    diffs = {"settings.py": parse_patch("settings.py", SECRET_PATCH)}
    proposed = 'API_TOKEN = os.environ["API_TOKEN"]'
    result = anchored(
        anchor(finding('API_TOKEN = "[REDACTED]"', 2, path="settings.py", suggestion=proposed), diffs)
    )
    assert result.suggestion is None
    assert result.suggestion_dropped == "the quoted code holds a redacted credential"
