"""Analyzer settings where a review is shaped: ``.github/argoai.yaml`` narrows the policy's analyzers and
never widens them; analyzer findings count towards ``maxComments`` or have their own cap."""

from __future__ import annotations

from argoai_core.models.findings import Category, Finding, Severity, ToolFinding
from argoai_core.models.policy import AnalyzerSeverities, AnalyzersPolicy, PolicySpec
from argoai_reviewer.analysis.anchoring import Anchored, How
from argoai_reviewer.conversation.render import compose_review, select
from argoai_reviewer.conversation.repo_config.model import apply_repo_config, parse_repo_config


def _apply(policy: PolicySpec, text: str) -> tuple[PolicySpec, list[str]]:
    parsed = parse_repo_config(text)
    assert parsed.config is not None, parsed.note
    return apply_repo_config(policy, parsed.config)


def test_repository_settings_narrow_the_analyzers() -> None:
    """A repository may disable analyzers and rules, raise minimums, lower the cap, count towards it."""
    policy = PolicySpec(
        analyzers=AnalyzersPolicy(
            disabled=["yamllint"],
            min_severity=AnalyzerSeverities(ruff="major"),
            count_towards_max_comments=False,
            max_comments=10,
            repository_config=True,
        )
    )
    merged, notes = _apply(
        policy,
        "analyzers:\n"
        "  disabled: [bandit]\n"
        "  disabledRules: ['ruff:E501']\n"
        "  minSeverity: {ruff: critical, shellcheck: major}\n"
        "  maxComments: 3\n"
        "  countTowardsMaxComments: true\n"
        "  repositoryConfig: false\n",
    )
    analyzers = merged.analyzers
    assert notes == []
    assert analyzers.disabled == ["yamllint", "bandit"]
    assert analyzers.disabled_rules == ["ruff:E501"]
    assert analyzers.min_severity.ruff == Severity.CRITICAL
    assert analyzers.min_severity.shellcheck == Severity.MAJOR
    assert analyzers.max_comments == 3
    assert analyzers.count_towards_max_comments is True
    assert analyzers.repository_config is False
    off, _ = _apply(policy, "analyzers:\n  enabled: false\n")
    assert off.analyzers.enabled is False


def test_repository_settings_cannot_widen_the_analyzers() -> None:
    """Turning analyzers back on, lowering a minimum, raising the cap or honouring repository configuration
    is refused with a note naming the settings; the policy's values stand."""
    policy = PolicySpec(
        analyzers=AnalyzersPolicy(
            enabled=False, min_severity=AnalyzerSeverities(ruff="major"), max_comments=5
        )
    )
    merged, notes = _apply(
        policy,
        "analyzers:\n"
        "  enabled: true\n"
        "  minSeverity: {ruff: nit}\n"
        "  maxComments: 50\n"
        "  countTowardsMaxComments: false\n"
        "  repositoryConfig: true\n",
    )
    assert merged.analyzers == policy.analyzers
    assert len(notes) == 1
    for name in ("enabled", "minSeverity.ruff", "maxComments", "repositoryConfig"):
        assert name in notes[0]


def test_unknown_analyzer_settings_refuse_the_file() -> None:
    """An analyzer name or setting the repository cannot use makes the whole file ignored, with a note."""
    assert parse_repo_config("analyzers:\n  disabled: [eslint]\n").config is None
    assert parse_repo_config("analyzers:\n  timeoutSeconds: 900\n").config is None


def _tool(line: int, tool: str = "ruff", severity: Severity = Severity.MINOR) -> Anchored:
    finding = ToolFinding(
        tool=tool,
        rule="F401",
        path="a.py",
        start_line=line,
        end_line=line,
        quote=f"import m{line}",
        severity=severity,
        category=Category.MAINTAINABILITY,
        title=f"`m{line}` imported but unused",
        body=f"`m{line}` imported but unused",
        suggestion=None,
    )
    return Anchored(finding, "a.py", line, line, How.EXACT)


def _llm(line: int) -> Anchored:
    finding = Finding(
        path="a.py",
        start_line=line,
        end_line=line,
        quote=f"call({line})",
        severity=Severity.MAJOR,
        category=Category.BUG,
        title="Bug",
        body="Explained.",
        suggestion=None,
    )
    return Anchored(finding, "a.py", line, line, How.EXACT)


def test_analyzer_findings_share_max_comments_by_default() -> None:
    """By default analyzer and LLM findings share the cap; the most severe go inline first."""
    placements = [*(_tool(n) for n in range(1, 6)), *(_llm(n) for n in range(10, 13))]
    selection = select(placements, PolicySpec(max_comments=4))
    assert len(selection.inline) == 4
    assert len(selection.over_cap) == 4
    assert all(not isinstance(a.finding, ToolFinding) for a in selection.inline[:3])


def test_analyzer_findings_can_have_their_own_cap() -> None:
    """With countTowardsMaxComments false the LLM keeps its whole cap; analyzers get analyzers.maxComments."""
    placements = [*(_tool(n) for n in range(1, 6)), *(_llm(n) for n in range(10, 13))]
    policy = PolicySpec(
        max_comments=3, analyzers=AnalyzersPolicy(count_towards_max_comments=False, max_comments=2)
    )
    selection = select(placements, policy)
    inline_llm = [a for a in selection.inline if not isinstance(a.finding, ToolFinding)]
    inline_tools = [a for a in selection.inline if isinstance(a.finding, ToolFinding)]
    assert (len(inline_llm), len(inline_tools), len(selection.over_cap)) == (3, 2, 3)


def test_a_per_analyzer_minimum_hides_only_that_analyzers_findings() -> None:
    """``minSeverity.ruff: major`` hides minor ruff findings and counts them; others are unaffected."""
    placements = [_tool(1), _tool(2, tool="bandit"), _llm(3)]
    policy = PolicySpec(analyzers=AnalyzersPolicy(min_severity=AnalyzerSeverities(ruff="major")))
    draft = compose_review(placements, policy=policy, head_sha="a" * 40).draft
    assert sorted(c.line for c in draft.comments) == [2, 3]
    assert "1 finding(s) below minor not shown" in draft.body
    bandit = next(c.body for c in draft.comments if c.line == 2)
    assert bandit.count("imported but unused") == 1  # a tool's message is shown once, as the title
    assert "Reported by bandit · rule `F401`" in bandit
