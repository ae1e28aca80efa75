"""Rendering the review: comment bodies, selection by policy, summary body, marker, event."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from argoai_core.models.findings import Category, Finding, Severity
from argoai_core.models.policy import PolicySpec
from argoai_core.sanitize import COMMENT_MAX, REVIEW_BODY_MAX
from argoai_reviewer.analysis.anchoring import Anchored, How, Reason, Unanchored, anchor_all
from argoai_reviewer.analysis.coverage import Coverage
from argoai_reviewer.analysis.diff import FileDiff, parse_patch, parse_unified_diff
from argoai_reviewer.conversation.markers import find_marker, marker
from argoai_reviewer.conversation.render import build_review, inline_comment, render_comment, select

SHA = "0123456789abcdef0123456789abcdef01234567"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "diffs"


def make(
    severity: Severity = Severity.MAJOR,
    *,
    path: str = "a.py",
    line: int = 1,
    quote: str = "x = 1",
    title: str = "Title",
    body: str = "Body.",
    suggestion: str | None = None,
    category: Category = Category.BUG,
) -> Finding:
    """A finding with the given fields."""
    return Finding(
        path=path,
        start_line=line,
        end_line=line,
        quote=quote,
        severity=severity,
        category=category,
        title=title,
        body=body,
        suggestion=suggestion,
    )


def placed(
    finding: Finding, start: int | None = None, end: int | None = None, suggestion: str | None = None
) -> Anchored:
    """An anchored placement of ``finding`` on its own lines unless given."""
    first = finding.start_line if start is None else start
    return Anchored(finding, finding.path, first, first if end is None else end, How.EXACT, suggestion)


def test_marker_round_trip() -> None:
    """find_marker reads back the head sha from a body ending with marker()."""
    assert find_marker(f"text\n\n{marker(SHA)}\n") == SHA


def test_marker_must_end_the_body() -> None:
    """A marker followed by other text (e.g. placed by the model) is not ours."""
    assert find_marker(f"{marker(SHA)}\nmore text") is None
    assert find_marker("no marker") is None
    assert find_marker(None) is None


def test_marker_rejects_non_sha() -> None:
    """marker() refuses anything but a hex commit sha (it ends up in HTML)."""
    with pytest.raises(ValueError, match="sha"):
        marker("abc --><img>")


def test_comment_with_suggestion() -> None:
    """An inline comment shows badge, category, title, body and the suggestion block."""
    item = placed(make(Severity.CRITICAL, suggestion="y = 2"), suggestion="y = 2")
    assert render_comment(item, bot_handle="argoai") == (
        "**🔴 Critical** · bug — **Title**\n\nBody.\n\n```suggestion\ny = 2\n```"
    )


def test_comment_without_suggestion() -> None:
    """A finding without a suggestion renders no suggestion block and no note."""
    assert (
        render_comment(placed(make(Severity.NIT)), bot_handle="argoai")
        == "**⚪ Nit** · bug — **Title**\n\nBody."
    )


def test_dropped_suggestion_is_noted() -> None:
    """A suggestion anchoring rejected is absent, and the comment says why."""
    item = Anchored(
        make(suggestion="y"), "a.py", 1, 1, How.REANCHORED, None, "the quote is only part of the line"
    )
    text = render_comment(item, bot_handle="argoai")
    assert "```suggestion" not in text
    assert text.endswith("<sub>Suggestion omitted: the quote is only part of the line.</sub>")


def test_unsafe_suggestion_is_dropped() -> None:
    """A suggestion with a slash-command line is not posted (it cannot be neutralized)."""
    item = placed(make(suggestion="/approve"), suggestion="/approve")
    text = render_comment(item, bot_handle="argoai")
    assert "```suggestion" not in text
    assert "Suggestion omitted" in text


def test_suggestion_fence_outlasts_backticks() -> None:
    """A suggestion containing ``` is fenced with a longer backtick run."""
    code = 'doc = """\n```\n"""'
    text = render_comment(placed(make(suggestion=code), suggestion=code), bot_handle="argoai")
    assert text.endswith(f"````suggestion\n{code}\n````")


def test_empty_suggestion_deletes_lines() -> None:
    """An empty suggestion renders an empty block (GitHub deletes the lines)."""
    text = render_comment(placed(make(suggestion=""), suggestion=""), bot_handle="argoai")
    assert text.endswith("```suggestion\n```")


def test_comment_text_is_sanitized() -> None:
    """Title and body of a comment are sanitized (mentions, HTML, images)."""
    item = placed(make(title="@octocat look", body="![x](https://e.example/i.png) <img src=x>"))
    text = render_comment(item, bot_handle="argoai")
    assert "@octocat" not in text
    assert "<img" not in text
    assert "![" not in text


def test_inline_comment_range() -> None:
    """A one-line placement has no start_line; a range has start_line < line."""
    single = inline_comment(placed(make(line=4)), bot_handle="argoai")
    assert (single.path, single.start_line, single.line) == ("a.py", None, 4)
    ranged = inline_comment(placed(make(line=4), 4, 6), bot_handle="argoai")
    assert (ranged.start_line, ranged.line) == (4, 6)


def test_select_orders_by_severity_and_caps() -> None:
    """The most severe findings become inline comments; the rest are over the cap."""
    items = [placed(make(s, line=n, quote=f"q{n}")) for n, s in enumerate(Severity, start=1)]
    selection = select(list(reversed(items)), PolicySpec(max_comments=2, min_severity=Severity.NIT))
    assert [a.finding.severity for a in selection.inline] == [Severity.CRITICAL, Severity.MAJOR]
    assert [a.finding.severity for a in selection.over_cap] == [Severity.MINOR, Severity.NIT]


def test_select_filters_min_severity() -> None:
    """Findings below min_severity are counted, not shown."""
    items = [placed(make(Severity.NIT, quote="a")), placed(make(Severity.MINOR, quote="b"))]
    selection = select(items, PolicySpec(min_severity=Severity.MINOR))
    assert [a.finding.severity for a in selection.inline] == [Severity.MINOR]
    assert selection.below_min == 1


def test_select_merges_duplicates() -> None:
    """Two findings with one fingerprint are posted once (the more severe), the other counted."""
    items = [placed(make(Severity.MINOR, line=1)), placed(make(Severity.MAJOR, line=9))]
    selection = select(items, PolicySpec())
    assert [a.finding.severity for a in selection.inline] == [Severity.MAJOR]
    assert selection.duplicates == 1


def test_every_finding_is_accounted_for() -> None:
    """Inline + notes + over cap + below minimum + duplicates = all findings (none silently dropped)."""
    rng = random.Random(7)
    items: list[Anchored | Unanchored] = []
    for n in range(60):
        finding = make(rng.choice(list(Severity)), line=n + 1, quote=f"q{rng.randint(0, 40)}")
        items.append(
            placed(finding) if rng.random() < 0.6 else Unanchored(finding, "a.py", Reason.QUOTE_NOT_FOUND)
        )
    selection = select(items, PolicySpec(max_comments=10, min_severity=Severity.MINOR))
    total = len(selection.inline) + len(selection.notes) + len(selection.over_cap)
    assert total + selection.below_min + selection.duplicates == len(items)
    assert len(selection.inline) == 10


def _review(items: list[Anchored | Unanchored], **policy: object) -> tuple[str, str, int]:
    draft = build_review(
        items,
        policy=PolicySpec.model_validate(policy),
        coverage=Coverage(reviewed=("a.py",), lines_sent=3, lines_total=3),
        summary="Summary.",
        head_sha=SHA,
    )
    return draft.event, draft.body, len(draft.comments)


def test_event_comment_by_default() -> None:
    """A critical finding does not request changes unless the policy says so."""
    event, _, _ = _review([placed(make(Severity.CRITICAL))])
    assert event == "COMMENT"


def test_event_request_changes_with_critical() -> None:
    """request_changes + a critical finding → REQUEST_CHANGES; without a critical → COMMENT."""
    assert _review([placed(make(Severity.CRITICAL))], request_changes=True)[0] == "REQUEST_CHANGES"
    assert _review([placed(make(Severity.MAJOR))], request_changes=True)[0] == "COMMENT"


def test_event_request_changes_for_critical_note() -> None:
    """A critical finding that could only go to the summary still requests changes."""
    note = Unanchored(make(Severity.CRITICAL), "a.py", Reason.QUOTE_NOT_FOUND)
    assert _review([note], request_changes=True)[0] == "REQUEST_CHANGES"


def test_body_lists_notes_over_cap_and_counts() -> None:
    """The body shows notes with reasons, findings over the cap, counts, and ends with the marker."""
    items: list[Anchored | Unanchored] = [
        placed(make(Severity.MAJOR, quote="one", title="First")),
        placed(make(Severity.MINOR, quote="two", title="Second", line=5)),
        Unanchored(
            make(Severity.MAJOR, path="gone.py", title="Gone", body="Explain."), "gone.py", Reason.REMOVED
        ),
        placed(make(Severity.NIT, quote="three")),
    ]
    _, body, comments = _review(items, max_comments=1)
    assert comments == 1
    assert "1 inline comment, 1 file-level note." in body
    assert "**🟠 Major** · bug — **Gone**\n`gone.py` · line 1 · file removed\n\nExplain." in body
    assert "1 more finding exceeded the limit of 1 inline comment:" in body
    assert "- **🟡 Minor** `a.py` line 5 — Second" in body
    assert "1 finding(s) below minor not shown" in body
    assert body.endswith(marker(SHA))
    assert find_marker(body) == SHA


def test_body_coverage_section() -> None:
    """Skipped and clipped files are listed with reasons; line counts are shown."""
    coverage = Coverage(
        reviewed=("a.py", "b.py"),
        skipped=(("poetry.lock", "generated file"),),
        clipped=(("big.py", "clipped to 400 of 2,000 changed lines"),),
        lines_sent=400,
        lines_total=2100,
    )
    draft = build_review([], policy=PolicySpec(), coverage=coverage, summary="", head_sha=SHA)
    assert "Reviewed 2 files; 400 of 2,100 changed lines were sent to the model." in draft.body
    assert "**Not reviewed:**\n- `poetry.lock`: generated file" in draft.body
    assert "**Reviewed in part:**\n- `big.py`: clipped to 400 of 2,000 changed lines" in draft.body
    assert "Nothing was skipped" not in draft.body


def test_complete_coverage_says_so() -> None:
    """When every file and line was reviewed, the body says nothing was skipped."""
    _, body, _ = _review([])
    assert "Nothing was skipped." in body


def test_fake_marker_in_summary_does_not_fool_find_marker() -> None:
    """A marker the model writes into the summary is escaped; find_marker returns the real head."""
    fake = "<!-- argoai:review head=" + "f" * 40 + " -->"
    draft = build_review([], policy=PolicySpec(), coverage=Coverage(), summary=fake, head_sha=SHA)
    assert "<!-- argoai:review head=ffff" not in draft.body
    assert find_marker(draft.body) == SHA


def test_huge_inputs_stay_under_github_limits() -> None:
    """100 long notes, 3,000 skipped files and a huge summary still fit, with 'more' counts."""
    long_body = "word <b> @x " * 400
    notes: list[Anchored | Unanchored] = [
        Unanchored(
            make(path=f"f{n}.py", quote=f"q{n}", body=long_body[:4000]), f"f{n}.py", Reason.QUOTE_NOT_FOUND
        )
        for n in range(100)
    ]
    coverage = Coverage(
        reviewed=tuple(f"src/{'d' * 200}/{n}.py" for n in range(3000)),
        skipped=tuple((f"vendor/{'v' * 200}/{n}.js", "vendored " * 20) for n in range(3000)),
        lines_sent=1,
        lines_total=10**6,
    )
    draft = build_review(notes, policy=PolicySpec(), coverage=coverage, summary="s" * 50_000, head_sha=SHA)
    assert len(draft.body) <= REVIEW_BODY_MAX
    assert re.search(r"… and \d+ more not shown", draft.body)
    assert re.search(r"- … and \d+ more", draft.body)
    assert find_marker(draft.body) == SHA


def test_comment_stays_under_limit() -> None:
    """An inline comment with maximal title, body and suggestion stays under the comment cap."""
    finding = make(title="t" * 200, body="<" * 4000, suggestion="s" * 7999)
    text = render_comment(placed(finding, suggestion="s" * 7999), bot_handle="argoai")
    assert len(text) <= COMMENT_MAX
    assert "```suggestion" in text


def _diffs() -> dict[str, FileDiff]:
    text = (FIXTURES / "local.diff").read_bytes().decode("utf-8")
    diffs = {d.path: d for d in parse_unified_diff(text)}
    diffs["w.py"] = parse_patch("w.py", "@@ -1,3 +1,4 @@\n a = 1\n-b = 2\n+b = 3\n+c = 4\n d = 5")
    return diffs


def test_review_comments_are_always_on_commentable_lines() -> None:
    """Across many random findings, every comment of the built review is on RIGHT lines of one hunk."""
    rng = random.Random(99)
    diffs = _diffs()
    paths = [*diffs, "nowhere.py"]
    posted = 0
    for _ in range(200):
        findings = []
        for _ in range(rng.randint(0, 30)):
            path = rng.choice(paths)
            diff = diffs.get(path)
            texts = [line.text for hunk in diff.hunks for line in hunk.lines] if diff else []
            quote = rng.choice(texts) if texts and rng.random() < 0.8 else "no such code"
            start = rng.randint(1, 50)
            findings.append(
                make(
                    rng.choice(list(Severity)),
                    path=path,
                    line=start,
                    quote=quote or "x",
                    suggestion=rng.choice([None, "fixed()"]),
                )
            )
        policy = PolicySpec(max_comments=rng.randint(0, 10), min_severity=rng.choice(list(Severity)))
        draft = build_review(
            anchor_all(findings, diffs), policy=policy, coverage=Coverage(), summary="", head_sha=SHA
        )
        assert len(draft.comments) <= policy.max_comments
        posted += len(draft.comments)
        for comment in draft.comments:
            diff = diffs[comment.path]
            start = comment.start_line or comment.line
            assert start < comment.line or comment.start_line is None
            assert diff.in_one_hunk(start, comment.line)
    assert posted > 200
