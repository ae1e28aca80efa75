"""Fixtures for the LLM adapter tests: a fake LLM server per test and models built against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from argoai_core.settings import LLMSettings
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.retry import RetryPolicy
from argoai_reviewer.llm.structured import LLMClient
from argoai_reviewer.wiring import build_model
from support.fake_llm import PERSONALITIES, PIECE_CHARS, FakeLLM, MarkerResponder

KEY = "sk-test-llm-key-123456"

# Fast but real: small waits so retry tests take milliseconds, three transient attempts, three answers.
FAST = RetryPolicy(
    attempts=3,
    wait_initial=0.01,
    wait_max=0.05,
    wait_jitter=0.0,
    max_in_process_wait=2.0,
    requeue_delay=7.0,
    validation_attempts=3,
    timeout_attempts=2,
    timeout_retry_wait=0.05,
)


@pytest.fixture(scope="session")
def _fake_llm_server() -> Iterator[FakeLLM]:
    with FakeLLM(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def fake_llm(_fake_llm_server: FakeLLM) -> FakeLLM:
    """The fake OpenAI/Anthropic server, reset: nothing recorded or queued, default behaviour."""
    fake = _fake_llm_server
    fake.reset()
    fake.api_key, fake.delay, fake.json_schema_supported = KEY, 0.0, True
    fake.personality = PERSONALITIES["openai"]
    fake.piece_chars = PIECE_CHARS
    fake.responder = MarkerResponder()
    return fake


ModelFactory = Callable[..., LLMClient]


@pytest.fixture
async def make_model(fake_llm: FakeLLM) -> AsyncIterator[ModelFactory]:
    """Build models against the fake: ``make_model("openai", retry=..., **settings)``; closed after."""
    built: list[LLMClient] = []

    def factory(
        provider: str,
        *,
        retry: RetryPolicy = FAST,
        instructions: ReplyInstructions | None = None,
        **overrides: Any,
    ) -> LLMClient:
        values: dict[str, Any] = {
            "provider": provider,
            "base_url": fake_llm.openai_base_url if provider == "openai" else fake_llm.url,
            "api_key": SecretStr(KEY),
            "model": "fake-model",
            "timeout_seconds": 5.0,
        }
        values.update(overrides)
        model = build_model(LLMSettings(**values), retry=retry, instructions=instructions)
        built.append(model)
        return model

    yield factory
    for model in built:
        await model.aclose()
