"""Experiments: stable assignment of pull requests to variants, and what a variant changes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError

from argoai_core.errors import ConfigError
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.conversation.experiment import apply_to_analysis, apply_to_policy, assign, bucket

POLICY = PolicySpec.model_validate(
    {
        "provider": "openai",
        "model": "gpt-base",
        "experiment": {
            "name": "prompts-v2",
            "variants": [
                {"name": "control"},
                {"name": "v2", "provider": "anthropic", "model": "claude-x", "promptDir": "v2"},
                {"name": "tight", "maxInputTokensPerCall": 4000, "verification": {"mode": "same-model"}},
            ],
        },
    }
)
REPO = RepoRef(host="api.github.com", owner="Octo-Org", name="Hello")


def test_assignment_is_stable_and_ignores_case_and_host() -> None:
    """The same pull request always gets the same variant, whatever the host or the name's case."""
    other = RepoRef(host="ghe.example.com", owner="octo-org", name="hello")
    for number in range(1, 50):
        first = assign(POLICY, REPO, number)
        assert first is not None
        assert first == assign(POLICY, REPO, number)
        assert first == assign(POLICY, other, number)


def test_variants_share_pull_requests_about_equally() -> None:
    """Over 3,000 pull requests each of three variants gets close to a third."""
    shares = Counter(bucket("prompts-v2", REPO, number, 3) for number in range(1, 3001))
    assert set(shares) == {0, 1, 2}
    assert all(900 < count < 1100 for count in shares.values())


def test_no_experiment_means_no_assignment() -> None:
    """A policy without an experiment assigns nothing and changes nothing."""
    plain = PolicySpec()
    assert assign(plain, REPO, 1) is None
    assert apply_to_policy(plain, None) is plain


def _assignment_named(name: str) -> object:
    for number in range(1, 100):
        found = assign(POLICY, REPO, number)
        if found is not None and found.variant.name == name:
            return found
    raise AssertionError(name)


def test_a_variant_changes_model_budget_and_prompts(tmp_path: Path) -> None:
    """A variant's model and verification replace the policy's; its context budget and prompt directory
    reach the analysis."""
    v2 = _assignment_named("v2")
    tight = _assignment_named("tight")
    control = _assignment_named("control")
    assert apply_to_policy(POLICY, v2).model == "claude-x"  # type: ignore[arg-type]
    assert apply_to_policy(POLICY, v2).provider == "anthropic"  # type: ignore[arg-type]
    assert apply_to_policy(POLICY, control).model == "gpt-base"  # type: ignore[arg-type]
    assert apply_to_policy(POLICY, tight).verification.mode == "same-model"  # type: ignore[arg-type]
    assert apply_to_policy(POLICY, control).verification.mode == "off"  # type: ignore[arg-type]
    options = AnalysisOptions()
    assert apply_to_analysis(options, tight, None).input_tokens_per_call == 4000  # type: ignore[arg-type]
    (tmp_path / "v2").mkdir()
    assert apply_to_analysis(options, v2, tmp_path).prompts == tmp_path / "v2"  # type: ignore[arg-type]


def test_a_missing_prompt_directory_is_a_configuration_error(tmp_path: Path) -> None:
    """A variant naming a prompt directory the reviewer lacks fails loudly, naming the setting."""
    v2 = _assignment_named("v2")
    with pytest.raises(ConfigError, match="ARGOAI_REVIEWER_PROMPTS_DIR"):
        apply_to_analysis(AnalysisOptions(), v2, None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no directory 'v2'"):
        apply_to_analysis(AnalysisOptions(), v2, tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "experiment",
    [
        {"name": "one", "variants": [{"name": "only"}]},
        {"name": "dup", "variants": [{"name": "a"}, {"name": "a"}]},
        {"name": "bad", "variants": [{"name": "A B"}, {"name": "b"}]},
        {"name": "model", "variants": [{"name": "a", "model": "x"}, {"name": "b"}]},
        {"name": "many", "variants": [{"name": f"v{i}"} for i in range(9)]},
    ],
)
def test_invalid_experiments_are_refused(experiment: dict[str, object]) -> None:
    """Fewer than two or more than eight variants, duplicate or unlabelable names, a model without a
    provider: refused."""
    with pytest.raises(ValidationError):
        PolicySpec.model_validate({"experiment": experiment})
