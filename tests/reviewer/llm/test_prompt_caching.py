"""Provider prompt caching: the cached part of a prompt, as each provider reports it, in the token and cost
metrics (against the fake server, which caches prefixes as OpenAI and Anthropic document)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from reviewer.llm.conftest import ModelFactory
from support.fake_llm import FakeLLM

# A system prompt long enough to be cached (both providers cache from 1,024 tokens).
SYSTEM = "You review code. " * 400
PROMPT = "=== a.py (added) ===\n1 + x = 1\n"


def counted(model: str, direction: str) -> float:
    """argoai_llm_tokens_total of ``model`` and ``direction`` so far (outside any experiment)."""
    labels = {"model": model, "direction": direction, "variant": "none"}
    value = REGISTRY.get_sample_value("argoai_llm_tokens_total", labels)
    return value or 0.0


def cost(model: str) -> float:
    """argoai_llm_cost_usd_total of ``model`` so far (outside any experiment)."""
    return REGISTRY.get_sample_value("argoai_llm_cost_usd_total", {"model": model, "variant": "none"}) or 0.0


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_the_cached_prefix_of_a_second_call_is_counted_and_priced_as_cached(
    fake_llm: FakeLLM, make_model: ModelFactory, provider: str
) -> None:
    """A first call caches nothing; a second with the same system prompt reads it from the provider's cache:
    those tokens go to direction=cached_input (still counted as input) and cost the cached-input price."""
    name = f"cache-{provider}"
    model = make_model(
        provider,
        model=name,
        input_price_per_mtok=1_000_000.0,
        output_price_per_mtok=0.0,
        cached_input_price_per_mtok=0.0,
    )
    await model.review(system=SYSTEM, prompt=PROMPT)
    assert counted(name, "cached_input") == 0
    first_input, first_cost = counted(name, "input"), cost(name)
    assert first_cost == pytest.approx(first_input)

    await model.review(system=SYSTEM, prompt=PROMPT + "2 + y = 2\n")
    cached = counted(name, "cached_input")
    second_input = counted(name, "input") - first_input
    assert cached >= 1024
    assert cached < second_input
    # Only the uncached part of the second prompt is charged (the cached price is 0 here).
    assert cost(name) - first_cost == pytest.approx(second_input - cached)
