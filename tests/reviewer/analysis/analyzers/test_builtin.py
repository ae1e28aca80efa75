"""Built-in analyzers: added credentials, conflict markers, debugger leftovers, merging with the LLM."""

from __future__ import annotations

from collections.abc import Sequence

from argoai_core.models.findings import Category, Finding, Severity, ToolFinding
from argoai_reviewer.analysis.analyzers import BUILTINS, merge_findings
from argoai_reviewer.analysis.analyzers.merge import dedupe_tool_findings
from argoai_reviewer.analysis.anchoring import Anchored, How, anchor
from argoai_reviewer.analysis.diff import FileDiff, parse_patch

AWS_KEY = "AKIAZ7QK3M5N8P2R4T6V"
GITHUB_TOKEN = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0"


def run_checks(files: Sequence[FileDiff]) -> list[ToolFinding]:
    """Every built-in analyzer's findings in ``files``."""
    return [finding for diff in files for analyzer in BUILTINS for finding in analyzer.check(diff)]


def added(path: str, *lines: str, start: int = 10) -> FileDiff:
    """A diff of ``path`` adding ``lines`` after one context line at ``start``."""
    body = "".join(f"+{line}\n" for line in lines)
    patch = f"@@ -{start},2 +{start},{len(lines) + 2} @@\n ctx before\n{body} ctx after\n"
    return parse_patch(path, patch)


def test_aws_key_is_found_on_its_line_and_never_repeated() -> None:
    """An added AWS key gives a critical security finding on its line; no field repeats the key."""
    diff = added("app/settings.py", "DEBUG = False", f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"')
    (finding,) = run_checks([diff])
    assert (finding.start_line, finding.end_line) == (12, 12)
    assert finding.severity == Severity.CRITICAL
    assert finding.category == Category.SECURITY
    assert "AWS access key id" in finding.title
    assert AWS_KEY not in finding.model_dump_json()
    assert AWS_KEY[4:] not in finding.model_dump_json()
    assert finding.quote == 'AWS_ACCESS_KEY_ID = "'
    assert (finding.tool, finding.rule) == ("secrets", "aws-access-key-id")


def test_secret_findings_anchor_exactly_on_their_line() -> None:
    """The secret-free quote is found by anchoring, which places the finding on the claimed line."""
    diff = added("deploy/env.sh", "set -e", f"export GITHUB_TOKEN={GITHUB_TOKEN}")
    (finding,) = run_checks([diff])
    placed = anchor(finding, {diff.path: diff})
    assert isinstance(placed, Anchored)
    assert (placed.start, placed.end, placed.how) == (12, 12, How.EXACT)
    assert GITHUB_TOKEN not in finding.quote


def test_private_key_block_is_one_finding_on_its_begin_line() -> None:
    """A multi-line private key gives one finding on the BEGIN line, quoting only the BEGIN marker."""
    diff = added(
        "certs/key.pem.txt",
        "-----BEGIN RSA PRIVATE KEY-----",
        PEM_BODY,
        PEM_BODY[::-1],
        "-----END RSA PRIVATE KEY-----",
    )
    (finding,) = run_checks([diff])
    assert finding.start_line == 11
    assert finding.quote == "-----BEGIN RSA PRIVATE KEY-----"
    assert PEM_BODY not in finding.model_dump_json()


def test_password_assignment_is_major_and_removed_or_context_secrets_are_ignored() -> None:
    """A generic password assignment is major; a secret on a removed or unchanged line is not reported."""
    patch = (
        "@@ -1,3 +1,3 @@\n"
        f' old = "{AWS_KEY}"\n'
        f'-token = "{GITHUB_TOKEN}"\n'
        '+db_password = "hunter2hunter2"\n'
        " end\n"
    )
    (finding,) = run_checks([parse_patch("conf.py", patch)])
    assert finding.start_line == 2
    assert finding.severity == Severity.MAJOR
    assert "hunter2hunter2" not in finding.model_dump_json()


def test_complete_conflict_is_reported_once_on_its_opening_marker() -> None:
    """<<<<<<< … ======= … >>>>>>> added in code gives one critical finding on the <<<<<<< line."""
    diff = added("src/a.py", "<<<<<<< HEAD", "x = 1", "=======", "x = 2", ">>>>>>> feature")
    (finding,) = run_checks([diff])
    assert (finding.start_line, finding.quote, finding.severity) == (11, "<<<<<<< HEAD", Severity.CRITICAL)
    assert isinstance(anchor(finding, {diff.path: diff}), Anchored)


def test_heading_underlines_and_conflicts_in_docs_are_not_conflicts() -> None:
    """A lone ======= (RST heading) is not a conflict; conflict examples in Markdown are left alone."""
    rst = added("src/readme_data.py", "Title", "=======")
    md = added("docs/git.md", "<<<<<<< HEAD", "a", "=======", "b", ">>>>>>> other")
    assert run_checks([rst, md]) == []


def test_debugger_leftovers_are_found_per_language() -> None:
    """breakpoint()/pdb (Python), debugger; (TS), binding.pry (Ruby) are found; comments and logs not."""
    py = added("a.py", "x = 1", "breakpoint()", "import pdb; pdb.set_trace()", "# breakpoint()")
    ts = added("b.ts", "debugger;", "console.log(x)", "const debuggerMode = true;")
    rb = added("c.rb", "  binding.pry")
    found = {(f.path, f.start_line) for f in run_checks([py, ts, rb])}
    assert found == {("a.py", 12), ("a.py", 13), ("b.ts", 11), ("c.rb", 11)}


def test_clean_code_gives_no_findings() -> None:
    """Ordinary added code yields no built-in finding."""
    diff = added("svc.py", "def total(xs):", "    return sum(xs)", 'API_URL = "https://example.com"')
    assert run_checks([diff]) == []


def llm_finding(path: str, start: int, end: int, category: Category, severity: Severity) -> Finding:
    """A finding as the model would return it."""
    return Finding(
        path=path,
        start_line=start,
        end_line=end,
        quote="x",
        severity=severity,
        category=category,
        title="t",
        body="b",
        suggestion=None,
    )


def test_merge_prefers_builtin_and_keeps_the_more_severe_llm_duplicate() -> None:
    """Overlapping same-category findings collapse: built-in wins; among LLM ones the most severe wins."""
    diff = added("app.py", f'KEY = "{AWS_KEY}"')
    builtin = run_checks([diff])
    llm = [
        llm_finding("app.py", 10, 12, Category.SECURITY, Severity.MAJOR),  # duplicate of the built-in one
        llm_finding("app.py", 11, 11, Category.BUG, Severity.MINOR),  # other category: kept
        llm_finding("app.py", 30, 31, Category.BUG, Severity.MINOR),
        llm_finding("app.py", 31, 33, Category.BUG, Severity.CRITICAL),  # overlaps the previous one
        llm_finding("other.py", 11, 11, Category.SECURITY, Severity.MAJOR),  # other file: kept
    ]
    merged = merge_findings(builtin, llm)
    assert merged[0] is builtin[0]
    kept = {(f.path, f.start_line, f.category, f.severity) for f in merged[1:]}
    assert kept == {
        ("app.py", 11, Category.BUG, Severity.MINOR),
        ("app.py", 31, Category.BUG, Severity.CRITICAL),
        ("other.py", 11, Category.SECURITY, Severity.MAJOR),
    }


def _tool_finding(tool: str, rule: str, line: int, path: str = "a.py") -> ToolFinding:
    return ToolFinding(
        tool=tool, rule=rule, path=path, start_line=line, end_line=line, quote="x", severity=Severity.MAJOR,
        category=Category.BUG, title=f"{tool} {rule}", body="b", suggestion=None,
    )  # fmt: skip


def test_conflict_markers_replace_the_parse_errors_they_cause() -> None:
    """In a file with a conflict finding, parsers' syntax errors are dropped; elsewhere they stay."""
    found = [
        _tool_finding("conflicts", "conflict-markers", 12),
        _tool_finding("ruff", "invalid-syntax", 14),
        _tool_finding("ruff", "F821", 20),
        _tool_finding("ruff", "invalid-syntax", 3, path="b.py"),
        _tool_finding("debugger", "breakpoint", 30),
        _tool_finding("biome", "lint/suspicious/noDebugger", 30),
    ]
    kept = {(f.path, f.start_line, f.rule_ref) for f in dedupe_tool_findings(found)}
    assert kept == {
        ("a.py", 12, "conflicts:conflict-markers"),
        ("a.py", 20, "ruff:F821"),
        ("b.py", 3, "ruff:invalid-syntax"),
        ("a.py", 30, "debugger:breakpoint"),
    }
