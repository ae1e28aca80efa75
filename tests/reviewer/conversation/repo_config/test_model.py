"""``.github/argoai.yaml``: only the safe subset is accepted, anything else voids the file with a note."""

from __future__ import annotations

import pytest

from argoai_core.models.findings import Severity
from argoai_core.models.policy import PathInstruction, PolicySpec
from argoai_reviewer.conversation.repo_config.model import (
    CONFIG_PATH,
    MAX_CONFIG_CHARS,
    RepoConfig,
    apply_repo_config,
    parse_repo_config,
)

CLUSTER = PolicySpec(
    instructions="Flag PII in logs.",
    path_instructions=[PathInstruction(path="api/**", instructions="Check auth.")],
    exclude=["vendor/**"],
    max_comments=10,
    min_severity=Severity.MINOR,
    provider="openai",
    model="gpt-4o",
    commands=["review"],
    token_budget_per_day=100_000,
)


def test_the_safe_subset_is_read_in_either_key_style() -> None:
    """camelCase and snake_case keys both set the allowed settings."""
    text = """
instructions: Prefer small functions.
pathInstructions:
  - path: "db/**"
    instructions: Check migrations are reversible.
include: ["src/**"]
exclude: ["docs/**"]
min_severity: major
maxComments: 5
reviewDrafts: true
"""
    parsed = parse_repo_config(text)
    assert parsed.note is None
    assert parsed.config == RepoConfig(
        instructions="Prefer small functions.",
        path_instructions=[PathInstruction(path="db/**", instructions="Check migrations are reversible.")],
        include=["src/**"],
        exclude=["docs/**"],
        min_severity=Severity.MAJOR,
        max_comments=5,
        review_drafts=True,
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("provider: anthropic\n", "provider"),
        ("model: gpt-5\n", "model"),
        ("commands: [review, ignore]\n", "commands"),
        ("tokenBudgetPerDay: 1000000000\n", "tokenBudgetPerDay"),
        ("events: [opened]\n", "events"),
        ("base_url: https://evil.example/v1\n", "base_url"),
        ("api_key: sk-live-0123456789abcdef\n", "api_key"),
        ("scope: {repos: ['*/*']}\n", "scope"),
        ("requestChanges: true\n", "requestChanges"),
        ("instructions: fine\nllm:\n  url: https://evil.example\n", "llm"),
    ],
)
def test_a_file_naming_a_setting_outside_the_subset_is_ignored_whole(text: str, key: str) -> None:
    """Provider, model, commands, budget, URLs, keys…: the whole file is refused; the note names the key."""
    parsed = parse_repo_config(text)
    assert parsed.config is None
    assert parsed.note is not None
    assert f"`{key}` is not a setting a repository can make" in parsed.note
    assert CONFIG_PATH in parsed.note


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("instructions: [unclosed\n", "not valid YAML (line"),
        ("- just\n- a list\n", "not a mapping"),
        ("maxComments: 1000\n", "`maxComments` is not valid"),
        ("minSeverity: apocalyptic\n", "`minSeverity` is not valid"),
        ("reviewDrafts: perhaps\n", "`reviewDrafts` is not valid"),
        ("instructions: " + "x" * 4001 + "\n", "`instructions` is not valid"),
        ("exclude: " + "x" * (MAX_CONFIG_CHARS + 1), "larger than"),
    ],
)
def test_an_invalid_file_is_ignored_with_a_reason(text: str, why: str) -> None:
    """Broken YAML, a wrong shape, out-of-range values or a huge file: ignored, with a note saying why."""
    parsed = parse_repo_config(text)
    assert parsed.config is None
    assert parsed.note is not None
    assert why in parsed.note


def test_notes_never_quote_the_file() -> None:
    """A key that is not plainly a key (a mention, markup) is not echoed into the public summary."""
    parsed = parse_repo_config('"@everyone <img src=https://evil.example/x>": 1\n')
    assert parsed.note is not None
    assert "@everyone" not in parsed.note
    assert "evil" not in parsed.note
    assert "unknown setting" in parsed.note


def test_no_file_means_no_config_and_no_note() -> None:
    """A repository without the file gets the cluster policy, silently."""
    parsed = parse_repo_config(None)
    assert (parsed.config, parsed.note) == (None, None)


def test_an_empty_file_sets_nothing() -> None:
    """An empty file is a valid file that changes nothing."""
    parsed = parse_repo_config("# nothing yet\n")
    assert parsed.config == RepoConfig()
    policy, notes = apply_repo_config(CLUSTER, RepoConfig())
    assert policy == CLUSTER
    assert notes == []


def test_merge_adds_instructions_and_exclusions_and_keeps_what_only_the_cluster_sets() -> None:
    """Repo instructions and exclusions add to the cluster's; provider, model, commands, budget untouched."""
    config = RepoConfig(
        instructions="Prefer small functions.",
        path_instructions=[PathInstruction(path="api/**", instructions="Check pagination.")],
        exclude=["docs/**", "vendor/**"],
        min_severity=Severity.MAJOR,
    )
    policy, notes = apply_repo_config(CLUSTER, config)
    assert policy.instructions == "Flag PII in logs.\n\nPrefer small functions."
    assert [(p.path, p.instructions) for p in policy.path_instructions] == [
        ("api/**", "Check auth."),
        ("api/**", "Check pagination."),
    ]
    assert policy.exclude == ["vendor/**", "docs/**"]
    assert policy.min_severity is Severity.MAJOR
    assert (policy.provider, policy.model, policy.commands, policy.token_budget_per_day) == (
        "openai", "gpt-4o", ["review"], 100_000,
    )  # fmt: skip
    assert notes == []


@pytest.mark.parametrize(("repo", "effective"), [(3, 3), (10, 10), (50, 10), (0, 0)])
def test_max_comments_is_bounded_by_the_cluster_policy(repo: int, effective: int) -> None:
    """A repository may lower the comment cap, never raise it above the cluster policy's."""
    policy, _ = apply_repo_config(CLUSTER, RepoConfig(max_comments=repo))
    assert policy.max_comments == effective


def test_review_drafts_follows_the_repository() -> None:
    """``reviewDrafts`` set in the repository replaces the policy's; unset keeps it."""
    assert apply_repo_config(CLUSTER, RepoConfig(review_drafts=True))[0].review_drafts is True
    drafts_on = CLUSTER.model_copy(update={"review_drafts": True})
    assert apply_repo_config(drafts_on, RepoConfig())[0].review_drafts is True


def test_include_applies_only_when_the_cluster_sets_none() -> None:
    """A repo ``include`` narrows an all-files policy; against a policy with its own include it is noted."""
    config = RepoConfig(include=["src/**"])
    policy, notes = apply_repo_config(CLUSTER, config)
    assert policy.include == ["src/**"]
    assert notes == []
    narrowed = CLUSTER.model_copy(update={"include": ["lib/**"]})
    policy, notes = apply_repo_config(narrowed, config)
    assert policy.include == ["lib/**"]
    assert len(notes) == 1
    assert "`include`" in notes[0]
