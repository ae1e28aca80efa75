"""A policy's provider/model choice is honoured only for the provider this installation is configured for."""

from __future__ import annotations

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.review import within_configured_llm


def test_a_model_of_the_configured_provider_is_kept() -> None:
    """A policy choosing a model of the configured provider keeps it, without a note."""
    policy = PolicySpec(provider="openai", model="gpt-4.1")
    assert within_configured_llm(policy, "openai") == (policy, "")


def test_another_provider_falls_back_to_the_configured_one_visibly() -> None:
    """A policy naming a provider without credentials here falls back to the configured LLM, with a note."""
    kept, note = within_configured_llm(PolicySpec(provider="anthropic", model="claude-x"), "openai")
    assert (kept.provider, kept.model) == (None, None)
    assert "anthropic (claude-x)" in note
    assert "configured openai" in note


def test_a_policy_without_a_choice_is_untouched() -> None:
    """No provider in the policy: nothing changes."""
    policy = PolicySpec()
    assert within_configured_llm(policy, "anthropic") == (policy, "")
