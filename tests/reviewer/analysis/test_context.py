"""Context building: rendering the model can cite, token budgets, coverage accounting, redaction."""

from __future__ import annotations

import re

import pytest

from argoai_core.models.findings import Category, Finding, Severity
from argoai_reviewer.analysis.anchoring import Anchored, How, anchor
from argoai_reviewer.analysis.context import ContextLimits, build_batches
from argoai_reviewer.analysis.diff import FileDiff, parse_patch
from argoai_reviewer.analysis.tokens import EstimateCounter, TiktokenCounter, counter_for

ROW = re.compile(r"^ *(\d*) ([+ -]) (.*)$")
AWS_KEY = "AKIAZ7QK3M5N8P2R4T6V"


def tiktoken() -> TiktokenCounter:
    """The exact counter."""
    counter = counter_for("openai", "gpt-4o")
    assert isinstance(counter, TiktokenCounter)
    return counter


def new_file(path: str, lines: list[str]) -> FileDiff:
    """A diff adding a whole new file."""
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines)
    return parse_patch(path, patch, status="added")


def code(n: int, seed: int = 0) -> list[str]:
    """``n`` lines of plausible Python."""
    return [f"    result_{seed}_{i} = compute(items[{i}], limit={i % 97})  # step {i}" for i in range(n)]


def rows(text: str) -> list[tuple[int | None, str, str]]:
    """The (number, marker, code) rows of rendered file text."""
    found = []
    for line in text.split("\n"):
        if line.startswith(("===", "@@")):
            continue
        match = ROW.match(line)
        assert match, line
        number = int(match.group(1)) if match.group(1) else None
        found.append((number, match.group(2), match.group(3)))
    return found


def modified(head: list[str], changes: dict[int, str]) -> tuple[str, str]:
    """A one-hunk-per-change patch replacing head lines (1-based) and the new head text."""
    new = list(head)
    patch = ""
    for number, text in sorted(changes.items()):
        old = head[number - 1]
        new[number - 1] = text
        patch += f"@@ -{number},1 +{number},1 @@\n-{old}\n+{text}\n"
    return patch, "\n".join(new) + "\n"


def test_twenty_thousand_line_pr_fits_budgets_and_every_changed_line_is_sent_once() -> None:
    """A 20,000-line PR splits into calls all within budget; each changed line is sent exactly once."""
    counter = tiktoken()
    diffs = [new_file(f"pkg/mod_{i}.py", code(n, i)) for i, n in enumerate([12000, 5000, 2000, 600, 400])]
    limits = ContextLimits(file_tokens=12_000)
    plan = build_batches(diffs, {}, counter=counter, limits=limits)
    assert len(plan.batches) > 10
    for batch in plan.batches:
        assert counter.count(batch.text) <= limits.file_tokens
        assert batch.tokens == counter.count(batch.text)
    sent = [
        (block.path, number)
        for batch in plan.batches
        for block in batch.files
        for number, marker, _ in rows(block.text)
        if marker == "+"
    ]
    assert len(sent) == len(set(sent)) == 20_000
    assert plan.coverage.lines_sent == plan.coverage.lines_total == 20_000
    assert plan.coverage.clipped == ()
    assert plan.coverage.reviewed == tuple(diff.path for diff in diffs)


def test_estimate_counter_budgets_hold_too() -> None:
    """With the character estimate, every call is within budget by that same estimate."""
    counter = EstimateCounter()
    plan = build_batches([new_file("a.py", code(5000))], {}, counter=counter, limits=ContextLimits(2000))
    assert all(counter.count(batch.text) <= 2000 for batch in plan.batches)
    assert plan.coverage.lines_sent == 5000


def test_small_files_are_kept_whole_and_share_a_call() -> None:
    """Files that fit are not split, and several go in one call, in order."""
    diffs = [new_file("a.py", code(30)), new_file("b.py", code(30, 1))]
    plan = build_batches(diffs, {}, counter=tiktoken())
    assert len(plan.batches) == 1
    assert [(b.path, b.part, b.parts) for b in plan.batches[0].files] == [("a.py", 1, 1), ("b.py", 1, 1)]


def test_large_file_is_split_into_numbered_parts() -> None:
    """A file over the budget comes in parts, each labelled "part i of n"."""
    plan = build_batches([new_file("big.py", code(3000))], {}, counter=tiktoken(), limits=ContextLimits(4000))
    blocks = [block for batch in plan.batches for block in batch.files]
    assert len(blocks) > 1
    assert [block.part for block in blocks] == list(range(1, len(blocks) + 1))
    assert all(f"part {b.part} of {len(blocks)}" in b.text.split("\n")[0] for b in blocks)


def test_rendering_numbers_new_lines_and_marks_removed_lines_without_number() -> None:
    """Added and context lines carry new-file numbers; removed lines carry none."""
    patch = "@@ -5,4 +5,4 @@ def f():\n a = 1\n-b = 2\n+b = 3\n+c = 4\n d = 5\n-e = 6\n"
    plan = build_batches([parse_patch("m.py", patch)], {}, counter=tiktoken())
    text = plan.batches[0].files[0].text
    assert text.split("\n")[:2] == ["=== m.py (modified) ===", "@@ lines 5-8 @@ def f():"]
    assert rows(text) == [
        (5, " ", "a = 1"),
        (None, "-", "b = 2"),
        (6, "+", "b = 3"),
        (7, "+", "c = 4"),
        (8, " ", "d = 5"),
        (None, "-", "e = 6"),
    ]
    assert plan.coverage.lines_sent == plan.coverage.lines_total == 4


def test_quotes_copied_from_the_rendering_anchor_exactly() -> None:
    """Any numbered line as rendered, quoted verbatim at its number, anchors exactly on the diff."""
    head = code(600)
    patch, text = modified(head, {100: "    changed_a = 1", 400: "    changed_b = 2"})
    diff = parse_patch("x.py", patch)
    plan = build_batches([diff], {"x.py": text}, counter=tiktoken())
    for number, marker, line in rows(plan.batches[0].text):
        if number is None or number not in diff.commentable:
            continue
        finding = Finding(
            path="x.py",
            start_line=number,
            end_line=number,
            quote=line,
            severity=Severity.MINOR,
            category=Category.BUG,
            title="t",
            body="b",
            suggestion=None,
        )
        placed = anchor(finding, {"x.py": diff})
        assert isinstance(placed, Anchored)
        assert placed.how == How.EXACT, (number, marker, line)


def test_hunks_are_widened_with_head_context() -> None:
    """With the head text, each hunk shows context_lines lines around it, numbered from the file."""
    head = code(1000)
    patch, text = modified(head, {500: "    changed = True"})
    plan = build_batches([parse_patch("x.py", patch)], {"x.py": text}, counter=tiktoken())
    numbers = [n for n, _, _ in rows(plan.batches[0].text) if n is not None]
    assert numbers == list(range(480, 521))
    shown = {n: line for n, _, line in rows(plan.batches[0].text) if n is not None}
    assert shown[480] == head[479]
    assert shown[520] == head[519]


def test_close_hunks_merge_and_far_hunks_stay_apart() -> None:
    """Hunks whose context windows meet are one group; distant hunks are separate @@ groups."""
    head = code(2000)
    patch, text = modified(head, {100: "    a = 1", 130: "    b = 2", 900: "    c = 3"})
    plan = build_batches([parse_patch("x.py", patch)], {"x.py": text}, counter=tiktoken())
    headers = [line for line in plan.batches[0].text.split("\n") if line.startswith("@@")]
    assert headers == ["@@ lines 80-150 @@", "@@ lines 880-920 @@"]


def test_small_files_are_shown_whole() -> None:
    """A file of at most whole_file_lines lines is shown entirely around its change."""
    head = code(250)
    patch, text = modified(head, {120: "    x = 0"})
    plan = build_batches([parse_patch("x.py", patch)], {"x.py": text}, counter=tiktoken())
    numbers = [n for n, _, _ in rows(plan.batches[0].text) if n is not None]
    assert numbers == list(range(1, 251))


def test_head_text_from_another_commit_is_not_used() -> None:
    """When the head text disagrees with the diff, only the hunks are shown (no misnumbered context)."""
    head = code(1000)
    patch, _ = modified(head, {500: "    changed = True"})
    plan = build_batches([parse_patch("x.py", patch)], {"x.py": "\n".join(head)}, counter=tiktoken())
    assert [n for n, _, _ in rows(plan.batches[0].text) if n is not None] == [500]


def test_aws_key_in_diff_and_head_never_reaches_a_batch() -> None:
    """A credential added by the diff, or present in the context around it, is redacted in every batch."""
    head = code(400)
    head[10] = f'AWS_KEY = "{AWS_KEY}"'
    patch, text = modified(head, {20: f"    token = '{AWS_KEY}'", 300: "    y = 1"})
    diff = parse_patch("cfg.py", patch)
    for texts in ({"cfg.py": text}, {}):
        plan = build_batches([diff], texts, counter=tiktoken())
        joined = "\n".join(batch.text for batch in plan.batches)
        assert AWS_KEY not in joined
        assert "[REDACTED]" in joined


def test_private_key_partly_in_context_is_redacted_line_by_line() -> None:
    """A key block whose BEGIN line is outside the shown lines is still redacted, keeping line numbers."""
    body = ["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVT" + str(i) for i in range(40)]
    head = [
        *code(500),
        "-----BEGIN RSA PRIVATE KEY-----",
        *body,
        "-----END RSA PRIVATE KEY-----",
        *code(20, 1),
    ]
    patch, text = modified(head, {560: "    z = 9"})
    plan = build_batches([parse_patch("k.py", patch)], {"k.py": text}, counter=tiktoken())
    rendered = rows(plan.batches[0].text)
    assert not any("MIIE" in line for _, _, line in rendered)
    assert [n for n, _, _ in rendered if n is not None] == list(range(540, 563))


def test_long_lines_are_shortened_and_reported() -> None:
    """A minified changed line is cut, not counted as sent, and the file is reported as clipped."""
    diff = new_file("app.js", ["var a = 1;", "x" * 5000, "var b = 2;"])
    plan = build_batches([diff], {}, counter=tiktoken(), limits=ContextLimits(max_line_chars=200))
    assert "line shortened: 4800 of 5000 characters not shown" in plan.batches[0].text
    assert (plan.coverage.lines_sent, plan.coverage.lines_total) == (2, 3)
    assert plan.coverage.clipped == (("app.js", "1 changed lines too long to send whole, shortened"),)


def test_calls_beyond_max_calls_are_reported_with_their_lines() -> None:
    """With max_calls, the changed lines of dropped calls are counted as not sent, per file."""
    diffs = [new_file(f"f{i}.py", code(400, i)) for i in range(6)]
    limits = ContextLimits(file_tokens=6000, max_calls=2)
    plan = build_batches(diffs, {}, counter=tiktoken(), limits=limits)
    assert len(plan.batches) == 2
    sent_paths = {block.path for batch in plan.batches for block in batch.files}
    not_sent = 0
    for _path, reason in plan.coverage.clipped:
        count = int(reason.split()[0])
        assert reason.endswith("not sent: over the limit of 2 LLM calls per review")
        not_sent += count
    assert plan.coverage.lines_sent + not_sent == plan.coverage.lines_total == 2400
    assert set(plan.coverage.reviewed) == sent_paths


def test_binary_and_omitted_files_are_reported_as_clipped() -> None:
    """A binary file or one whose patch GitHub omitted is reported, not silently dropped."""
    binary = FileDiff(path="a.bin", old_path=None, status="modified", hunks=(), binary=True)
    omitted = FileDiff(path="b.sql", old_path=None, status="modified", hunks=(), patch_omitted=True)
    plan = build_batches([binary, omitted], {}, counter=tiktoken())
    assert plan.batches == []
    assert [path for path, _ in plan.coverage.clipped] == ["a.bin", "b.sql"]


def test_budget_below_minimum_is_rejected() -> None:
    """A per-call budget too small to hold a line is a configuration error."""
    with pytest.raises(ValueError, match="file_tokens"):
        ContextLimits(file_tokens=100)


def test_a_file_ending_in_a_blank_line_keeps_every_line() -> None:
    """A change that adds a blank last line is rendered whole (the redacted head keeps its line count)."""
    head = "a = 1\nb = 2\n\n"
    diff = parse_patch("f.py", "@@ -1,2 +1,3 @@\n a = 1\n b = 2\n+")
    plan = build_batches([diff], {"f.py": head}, counter=EstimateCounter())
    assert plan.coverage.lines_sent == 1
    assert plan.batches[0].text.splitlines()[-1].rstrip() == "3 +"
