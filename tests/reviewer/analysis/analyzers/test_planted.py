"""Analyzers on a small repository with planted problems in Python, shell, a Dockerfile, a workflow, YAML and
TypeScript: each planted problem on a changed line is reported on that line with its tool and rule; nothing
is reported on unchanged lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from argoai_core.models.findings import ToolFinding
from argoai_core.models.policy import AnalyzerSeverities, AnalyzersPolicy, PolicySpec
from argoai_reviewer.analysis.anchoring import Anchored, How
from argoai_reviewer.analysis.diff import from_changed_file
from argoai_reviewer.conversation.render import compose_review, coverage_context
from argoai_reviewer.local.review import LocalReview
from support.analyzer_repos import HEAD, PLANTED, UNCHANGED, review


def _reported(placements: list[object]) -> dict[tuple[str, int, str, str], Anchored]:
    return {
        (p.path, p.start, p.finding.tool, p.finding.rule): p
        for p in placements
        if isinstance(p, Anchored) and isinstance(p.finding, ToolFinding)
    }


def test_every_planted_problem_is_reported_on_its_line_with_tool_and_rule(
    planted_review: LocalReview,
) -> None:
    """Each planted problem is an exact inline placement on its line, carrying tool, rule and a rule link."""
    result = planted_review
    reported = _reported(result.analysis.placements)
    missing = PLANTED - set(reported)
    assert not missing, f"not reported: {sorted(missing)}; reported: {sorted(reported)}"
    for key in PLANTED:
        placed = reported[key]
        assert placed.how is How.EXACT
        assert (placed.start, placed.end) == (key[1], key[1])
        lines = HEAD[key[0]].splitlines()
        assert placed.finding.quote == lines[key[1] - 1]
        assert placed.finding.rule_url is None or placed.finding.rule_url.startswith("https://")
    assert reported[("app/service.py", 8, "ruff", "F821")].finding.rule_url == (
        "https://docs.astral.sh/ruff/rules/undefined-name"
    )


def test_nothing_is_reported_on_unchanged_lines(planted_review: LocalReview) -> None:
    """Problems already in the base on lines the change keeps are never reported, by any analyzer."""
    result = planted_review
    reported = _reported(result.analysis.placements)
    assert not UNCHANGED & set(reported)
    added = {
        (diff.path, line.new)
        for diff in map(from_changed_file, result.change.files)
        for hunk in diff.hunks
        for line in hunk.lines
        if line.kind == "+"
    }
    for placement in result.analysis.placements:
        assert isinstance(placement.finding, ToolFinding)
        assert isinstance(placement, Anchored)
        assert (placement.path, placement.start) in added
    assert set(result.analysis.analyzers.checked) >= {
        "ruff",
        "bandit",
        "shellcheck",
        "hadolint",
        "actionlint",
    }
    assert result.analysis.analyzers.notes == []


def test_posted_comments_name_tool_and_rule_with_a_link(planted_review: LocalReview) -> None:
    """The GitHub comment of an analyzer finding ends with its tool and its rule linked to the rule's page."""
    result = planted_review
    draft = compose_review(
        result.analysis.placements, policy=PolicySpec(max_comments=100), head_sha=result.change.head_sha
    ).draft
    comments = {(c.path, c.line): c.body for c in draft.comments}
    body = comments[("app/service.py", 8)]
    assert "Undefined name `missing_name`" in body
    assert "Reported by ruff · rule [`F821`](https://docs.astral.sh/ruff/rules/undefined-name)" in body
    # The summary comment's coverage line names the analyzers that ran.
    coverage = coverage_context(result.analysis.coverage, "argoai")["coverage_line"]
    assert "Analyzers run on the changed lines: secrets, conflicts, debugger, ruff, bandit" in coverage


async def test_policy_disables_analyzers_rules_and_raises_severity(planted_repo: Path) -> None:
    """Disabled analyzers do not run, disabled rules are dropped, a per-analyzer minimum hides findings."""
    policy = PolicySpec(
        analyzers=AnalyzersPolicy(
            disabled=["bandit", "biome"],
            disabled_rules=["ruff:F401", "shellcheck:SC2115"],
            min_severity=AnalyzerSeverities(shellcheck="major"),
        )
    )
    result = await review(planted_repo, policy)
    reported = set(_reported(result.analysis.placements))
    tools = {key[2] for key in reported}
    assert "bandit" not in tools
    assert "biome" not in tools
    assert "bandit" not in result.analysis.analyzers.checked
    assert ("app/service.py", 3, "ruff", "F401") not in reported
    assert ("scripts/deploy.sh", 4, "shellcheck", "SC2115") not in reported
    assert ("app/service.py", 8, "ruff", "F821") in reported
    draft = compose_review(result.analysis.placements, policy=policy, head_sha=result.change.head_sha).draft
    assert not [c for c in draft.comments if c.path == "scripts/deploy.sh"]  # SC2164 is minor < major
    off = await review(planted_repo, PolicySpec(analyzers=AnalyzersPolicy(enabled=False)))
    assert off.analysis.placements == []
    assert off.analysis.analyzers.checked == {}


def test_argoai_review_without_an_llm_prints_analyzer_findings(planted_repo: Path) -> None:
    """`argoai review` (as `make run` runs it) without an LLM prints analyzer findings with tool and rule."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(planted_repo)}
    done = subprocess.run(
        [sys.executable, "-m", "argoai_cli", "review", "--repo", str(planted_repo), "--base", "HEAD~1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Built-in checks only" in done.stdout
    assert (
        "Analyzers: secrets (6 file(s)), conflicts (6 file(s)), debugger (6 file(s)), ruff (1 file(s))"
        in (done.stdout)
    )
    assert "app/service.py:8\n  ruff F821 https://docs.astral.sh/ruff/rules/undefined-name" in done.stdout
    assert "web/index.ts:6\n  biome lint/correctness/noConstAssign" in done.stdout
    assert "[critical] " in done.stdout  # the workflow's template injection
