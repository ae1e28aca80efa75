"""Suggestions are parse-checked with tree-sitter before they are offered: one that breaks the file's syntax
is dropped (the comment says why), a valid one is still offered."""

from __future__ import annotations

import random
from pathlib import Path

from prometheus_client import REGISTRY

from argoai_core.models.findings import Category, Finding, ReviewOutput, Severity
from argoai_core.models.policy import PolicySpec
from argoai_core.settings import LLMSettings
from argoai_reviewer.analysis.analyzers.syntax import (
    apply_suggestion,
    check_suggestion,
    language_of,
    parse_errors,
    parser_for,
)
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.conversation.render import compose_review
from argoai_reviewer.local.review import review_local
from argoai_reviewer.wiring import build_model
from support.analyzer_repos import make_repo
from support.fake_llm import FakeLLM, Reply

SOURCE = "def area(width, height):\n    return width * height\n\n\ndef half(x):\n    return x / 2\n"


def test_a_suggestion_that_breaks_python_is_dropped_and_a_valid_one_kept() -> None:
    """An unbalanced parenthesis is refused with the line it breaks; a correct replacement passes."""
    broken = check_suggestion("geo.py", SOURCE, 2, 2, "    return (width * height")
    assert not broken.ok
    assert broken.result == "dropped_syntax"
    assert broken.reason is not None
    assert "python: syntax error at line" in broken.reason
    assert check_suggestion("geo.py", SOURCE, 2, 2, "    return abs(width * height)").ok


def test_typescript_and_shell_are_checked_with_their_own_grammar() -> None:
    """TypeScript and shell suggestions are parsed with their grammars (TSX for .tsx)."""
    ts = "export function f(a: number): number {\n  return a + 1;\n}\n"
    assert not check_suggestion("f.ts", ts, 2, 2, "  return a +;").ok
    assert check_suggestion("f.ts", ts, 2, 2, "  return a + 2;").ok
    assert check_suggestion("v.tsx", "const v = <div>{a}</div>;\n", 1, 1, "const v = <p>{a}</p>;").ok
    sh = '#!/bin/sh\nif [ -n "$A" ]; then\n  echo a\nfi\n'
    assert not check_suggestion("run.sh", sh, 4, 4, "").ok  # removing `fi` leaves the if open
    assert check_suggestion("run.sh", sh, 3, 3, '  echo "$A"').ok


def test_a_file_already_broken_is_not_held_against_the_suggestion() -> None:
    """A suggestion elsewhere in a file that already has a syntax error is kept when it adds none."""
    text = "def ok():\n    return 1\n\ndef broken(:\n    pass\n"
    assert parse_errors("python", text) > 0
    assert check_suggestion("m.py", text, 2, 2, "    return 2").ok
    assert not check_suggestion("m.py", text, 2, 2, "    return [2").ok


def test_languages_without_a_grammar_and_unreadable_files() -> None:
    """Markdown is not checked (kept); a Python file whose text is unknown cannot be checked (dropped)."""
    assert check_suggestion("README.md", "# Title\n", 1, 1, "# Better title").result == "no_parser"
    unread = check_suggestion("a.py", None, 1, 1, "x = 1")
    assert (unread.ok, unread.result) == (False, "dropped_unchecked")


def test_apply_suggestion_keeps_line_endings_and_the_last_line() -> None:
    """Replacing lines keeps CRLF endings and a missing final newline; an empty suggestion deletes lines."""
    assert apply_suggestion("a\r\nb\r\nc\r\n", 2, 2, "B") == "a\r\nB\r\nc\r\n"
    assert apply_suggestion("a\nb", 2, 2, "B1\nB2") == "a\nB1\nB2"
    assert apply_suggestion("a\nb\nc\n", 2, 3, "") == "a\n"


def _finding(line: int, quote: str, suggestion: str, title: str) -> Finding:
    return Finding(
        path="geo.py",
        start_line=line,
        end_line=line,
        quote=quote,
        severity=Severity.MAJOR,
        category=Category.BUG,
        title=title,
        body="Explained.",
        suggestion=suggestion,
    )


def _dropped() -> float:
    return REGISTRY.get_sample_value("argoai_suggestion_checks_total", {"result": "dropped_syntax"}) or 0.0


async def test_the_posted_review_offers_only_the_suggestion_that_parses(tmp_path: Path) -> None:
    """Via the LLM adapter and the fake LLM: the breaking suggestion becomes a note, the other is offered."""
    (tmp_path / "repo").mkdir()
    head = SOURCE.replace("x / 2", "x // 2").replace("width * height", "width * height * 1")
    repo = make_repo(tmp_path / "repo", {"geo.py": SOURCE}, {"geo.py": head})
    output = ReviewOutput(
        summary="Two changes.",
        findings=[
            _finding(2, "    return width * height * 1", "    return (width * height", "Pointless factor"),
            _finding(6, "    return x // 2", "    return x / 2", "Integer division"),
        ],
    )
    before = _dropped()
    with FakeLLM(api_key="k") as fake:
        fake.enqueue(Reply.output(output))
        model = build_model(
            LLMSettings(provider="openai", model="gpt-4o", base_url=fake.openai_base_url, api_key="k")
        )
        try:
            result = await review_local(
                repo, "HEAD~1", "HEAD", policy=PolicySpec(), model=model, counter=EstimateCounter(),
                options=AnalysisOptions(), progress=lambda _: None,
            )  # fmt: skip
        finally:
            await model.aclose()
    draft = compose_review(
        result.analysis.placements, policy=PolicySpec(), head_sha=result.change.head_sha
    ).draft
    comments = {comment.line: comment.body for comment in draft.comments}
    assert "```suggestion" not in comments[2]
    assert "Suggestion omitted: the code with it applied would not parse (python: syntax error" in comments[2]
    assert "```suggestion\n    return x / 2\n```" in comments[6]
    assert _dropped() == before + 1


def test_verdicts_agree_with_parsing_the_whole_edited_file() -> None:
    """Random edits of clean Python, TypeScript and shell files: the check (which parses only the top-level
    statements an edit touches) drops exactly the suggestions after which the whole file does not parse."""
    cases = [
        (
            "a.py",
            "".join(f"def f{i}(x):\n    return [x + {i}, (x * 2)]\n\n" for i in range(40)),
            [
                "    return x",
                "    return (x",
                "]",
                "    if x:",
                "        pass",
                "def g(:",
                "",
                "x = {",
                '    y = "a',
            ],
        ),
        (
            "a.ts",
            "".join(
                f"export function f{i}(x: number): number {{\n  return x + {i};\n}}\n\n" for i in range(30)
            ),
            ["  return x;", "  return (x;", "}", "{", "function g() {", "", "  const y = `a", "/*"],
        ),
        (
            "a.sh",
            "".join(f"f{i}() {{\n  echo {i}\n}}\n\n" for i in range(30)),
            ["  echo x", "if true; then", "fi", "}", "{", '  echo "a', "done", ""],
        ),
    ]
    rng = random.Random(7)
    for path, source, pieces in cases:
        language = language_of(path)
        assert language is not None
        parser = parser_for(language)
        assert parser is not None
        lines = source.count("\n")
        for _ in range(100):
            start = rng.randint(1, lines - 1)
            end = min(lines, start + rng.randint(0, 2))
            suggestion = "\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
            verdict = check_suggestion(path, source, start, end, suggestion)
            edited = apply_suggestion(source, start, end, suggestion)
            assert verdict.ok is not parser.parse(edited.encode()).root_node.has_error, (
                path,
                start,
                suggestion,
            )
