"""The Anthropic adapter against the fake server over real HTTP: forced tool call, retries, errors."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from argoai_core.errors import ConfigError, PermanentError, RetryableError, UnavailableError
from argoai_reviewer.llm.schema import SCHEMA_NAME, review_schema
from support.fake_llm import FakeLLM, Reply

from .conftest import FAST, KEY, ModelFactory

SYSTEM = "You are a careful code reviewer."
PROMPT = """Review this change.

=== lib/parse.go (added) ===
@@ lines 40-42 @@
40 + func parse(s string) int {
41 + \tn, _ := strconv.Atoi(s) // FIXME-BUG error ignored
42 + \treturn n
"""


async def test_tool_call_round_trip(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """The review is the input of one forced tool whose input_schema is the ReviewOutput schema."""
    model = make_model("anthropic", model="claude-fake")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    [finding] = reply.output.findings
    assert (finding.path, finding.start_line, finding.end_line) == ("lib/parse.go", 41, 41)
    assert finding.quote == "\tn, _ := strconv.Atoi(s) // FIXME-BUG error ignored"
    [sent] = fake_llm.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["authorization"] == f"Bearer {KEY}"  # anthropic 2.x: the key as a Bearer token
    assert sent.headers["anthropic-version"]
    assert KEY not in str(sent.body)
    assert sent.body["tool_choice"] == {"type": "tool", "name": SCHEMA_NAME}
    assert sent.schema == review_schema()
    # One block marked cache_control: the tools and the system prompt are the prefix Anthropic caches.
    assert sent.body["system"] == [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}]
    assert sent.body["max_tokens"] == 4096
    assert sent.model == "claude-fake"
    assert reply.model == "claude-fake"
    assert reply.input_tokens == len(sent.text) // 4
    assert reply.output_tokens > 0


async def test_schema_violation_is_answered_with_an_error_tool_result(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """A tool input breaking the schema gets an is_error tool_result naming the problem; the retry is used."""
    fake_llm.enqueue(Reply.json({"summary": "s", "findings": [{"path": "x.go"}]}))
    model = make_model("anthropic")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    first, second = fake_llm.requests
    assert second.messages[0] == first.messages[0]
    assistant, correction = second.messages[1], second.messages[2]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0]["type"] == "tool_use"
    [result] = correction["content"]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == assistant["content"][0]["id"]
    assert result["is_error"] is True
    assert "findings.0.start_line" in result["content"]


async def test_answer_without_tool_call_is_asked_again(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Plain text instead of the tool call is rejected and asked again in a user turn."""
    fake_llm.enqueue(Reply.text("Looks good to me!"))
    model = make_model("anthropic")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    correction = fake_llm.requests[1].messages[2]
    assert correction["role"] == "user"
    assert f"no call of the {SCHEMA_NAME} tool" in correction["content"]


async def test_truncated_answer_is_asked_again(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """An answer cut off at max_tokens is not used even if its input happens to validate."""
    fake_llm.enqueue(Reply.json({"summary": "cut", "findings": []}, truncated=True))
    model = make_model("anthropic")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert len(fake_llm.requests) == 2


async def test_persistent_invalid_output_is_permanent(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Invalid tool input every time ends in PermanentError after exactly validation_attempts requests."""
    fake_llm.enqueue(*[Reply.json({"summary": 3, "findings": []})] * 10)
    model = make_model("anthropic")

    with pytest.raises(PermanentError, match="no valid review"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.validation_attempts


async def test_overloaded_is_retried(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """529 overloaded is transient: retried, then the answer is used."""
    fake_llm.enqueue(Reply.overloaded(), Reply.overloaded())
    model = make_model("anthropic")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert len(fake_llm.requests) == 3


async def test_rate_limit_retry_after_is_honoured(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 429 is retried after the server's retry-after."""
    fake_llm.enqueue(Reply.rate_limited(retry_after=0.3))
    model = make_model("anthropic")

    started = time.monotonic()
    await model.review(system=SYSTEM, prompt=PROMPT)

    assert time.monotonic() - started >= 0.3
    assert len(fake_llm.requests) == 2


async def test_server_errors_are_bounded(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Persistent 5xx/529 end in a retryable UnavailableError after the bounded attempts."""
    fake_llm.enqueue(*[Reply.server_error(500), Reply.overloaded()] * 5)
    model = make_model("anthropic")

    with pytest.raises(UnavailableError):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.attempts


async def test_stalled_stream_is_retried_once_then_names_the_idle_setting(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """A stream that stops sending is left after the idle timeout, tried once more, then RetryableError."""
    fake_llm.enqueue(*[Reply.stalling(3)] * 5)
    model = make_model("anthropic", idle_timeout_seconds=0.3)

    with pytest.raises(RetryableError, match=r"no data within 0.3s \(ARGOAI_LLM_IDLE_TIMEOUT_SECONDS=0.3\)"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.timeout_attempts
    assert [fake_llm.wait_outcome(r.number) for r in fake_llm.requests] == ["client left"] * 2


async def test_wrong_key_is_permanent(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 401 is a configuration error, not retried."""
    model = make_model("anthropic", api_key=SecretStr("sk-ant-wrong"))

    with pytest.raises(ConfigError, match="ARGOAI_LLM_API_KEY"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == 1


async def test_bad_request_is_permanent(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 400 (e.g. prompt too long) is permanent and not retried."""
    fake_llm.enqueue(Reply.error(400, "prompt is too long: 250000 tokens > 200000 maximum"))
    model = make_model("anthropic")

    with pytest.raises(PermanentError, match="prompt is too long"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == 1


async def test_tokens_are_counted_per_model(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Token usage of every request, including rejected answers, is reported and counted."""
    name = "metrics-model-anthropic"
    fake_llm.enqueue(Reply.text("no tool"))
    model = make_model("anthropic", model=name, input_price_per_mtok=1.0, output_price_per_mtok=5.0)

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    first, second = fake_llm.requests
    assert reply.input_tokens == len(first.text) // 4 + len(second.text) // 4
    assert REGISTRY.get_sample_value(
        "argoai_llm_tokens_total", {"model": name, "direction": "input", "variant": "none"}
    ) == (reply.input_tokens)
    cost = REGISTRY.get_sample_value("argoai_llm_cost_usd_total", {"model": name, "variant": "none"})
    assert cost == pytest.approx((reply.input_tokens * 1.0 + reply.output_tokens * 5.0) / 1e6)
