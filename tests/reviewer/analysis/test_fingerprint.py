"""Finding fingerprints: same file, code and category → same fingerprint, whatever the line numbers."""

from __future__ import annotations

from argoai_core.models.findings import Category, Finding, Severity
from argoai_reviewer.analysis.anchoring import anchor
from argoai_reviewer.analysis.diff import parse_patch
from argoai_reviewer.analysis.fingerprint import fingerprint, fingerprint_of


def make(
    quote: str = "x = eval(data)",
    *,
    path: str = "a.py",
    line: int = 3,
    category: Category = Category.SECURITY,
    severity: Severity = Severity.MAJOR,
    title: str = "eval on input",
) -> Finding:
    """A finding with the given distinguishing fields."""
    return Finding(
        path=path,
        start_line=line,
        end_line=line,
        quote=quote,
        severity=severity,
        category=category,
        title=title,
        body="body",
        suggestion=None,
    )


def test_independent_of_lines_wording_and_severity() -> None:
    """Line numbers, title, body and severity do not change the fingerprint."""
    assert fingerprint(make(line=3)) == fingerprint(make(line=90, title="other", severity=Severity.NIT))


def test_independent_of_whitespace_normalisation() -> None:
    """Indentation, trailing whitespace, CRLF and blank edge lines of the quote do not count."""
    assert fingerprint(make("x = eval(data)")) == fingerprint(make("\r\n        x = eval(data)   \r\n"))


def test_changes_with_code_path_and_category() -> None:
    """Different code, file or category give different fingerprints."""
    base = fingerprint(make())
    assert fingerprint(make("x = eval(other)")) != base
    assert fingerprint(make(path="b.py")) != base
    assert fingerprint(make(category=Category.BUG)) != base


def test_path_prefix_does_not_count() -> None:
    """'./a.py' and 'a.py' are the same file."""
    assert fingerprint(make(path="./a.py")) == fingerprint(make(path="a.py"))


def test_format() -> None:
    """A fingerprint is 32 lowercase hex characters and deterministic across calls."""
    value = fingerprint(make())
    assert len(value) == 32
    assert int(value, 16) >= 0
    assert value == value.lower()
    assert value == fingerprint(make())


def test_fingerprint_of_uses_resolved_path() -> None:
    """A placement's fingerprint uses the diff path the finding resolved to (b/a.py → a.py)."""
    diffs = {"a.py": parse_patch("a.py", "@@ -0,0 +1 @@\n+x = eval(data)", status="added")}
    placement = anchor(make(path="b/a.py", line=1), diffs)
    assert placement.path == "a.py"
    assert fingerprint_of(placement) == fingerprint(make(path="a.py"))
