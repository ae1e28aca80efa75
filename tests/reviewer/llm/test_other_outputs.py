"""The review clients answer `argoai eval`'s judge verdict via the generic call (both providers)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from argoai_core.settings import LLMSettings
from argoai_reviewer.evaluation.judge import JudgeVerdict
from argoai_reviewer.llm.schema import OutputSpec
from argoai_reviewer.wiring import build_model
from support.fake_llm import FakeLLM, Reply

from .conftest import FAST, KEY


def _settings(fake: FakeLLM, provider: str) -> LLMSettings:
    values: dict[str, Any] = {
        "provider": provider,
        "base_url": fake.openai_base_url if provider == "openai" else fake.url,
        "api_key": SecretStr(KEY),
        "model": "fake-model",
        "timeout_seconds": 5.0,
    }
    return LLMSettings(**values)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_verdict_client_sends_its_schema_and_asks_again_on_an_invalid_answer(
    fake_llm: FakeLLM, provider: str
) -> None:
    """The schema and name sent are the verdict's; an answer breaking it is asked again; the valid one is a
    JudgeVerdict."""
    fake_llm.enqueue(Reply.json({"matches": "one"}), Reply.json({"matches": [2], "reason": "same bug"}))
    client = build_model(_settings(fake_llm, provider), retry=FAST)
    try:
        reply = await client.ask(
            system="Grade.", prompt="Which findings?", output=JudgeVerdict, model="judge-model"
        )
    finally:
        await client.aclose()
    assert reply.output == JudgeVerdict(matches=[2], reason="same bug")
    assert reply.model == "judge-model"
    first, second = fake_llm.requests[:2]
    assert first.schema == OutputSpec.of(JudgeVerdict).schema()
    assert "matches" in second.text  # the correction names what was wrong
    if provider == "anthropic":
        assert first.body["tool_choice"] == {"type": "tool", "name": "submit_verdict"}
    else:
        assert first.body["response_format"]["json_schema"]["name"] == "submit_verdict"
