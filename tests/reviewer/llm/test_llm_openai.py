"""The OpenAI-compatible adapter against the fake server over HTTP: structured output, retries, errors."""

from __future__ import annotations

import time

import jsonschema
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from pydantic import SecretStr

from argoai_core.errors import (
    ConfigError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    UnavailableError,
)
from argoai_core.models.findings import Category, Finding, ReviewOutput, Severity
from argoai_core.settings import LLMSettings
from argoai_reviewer.adapters.llm_openai import OpenAIReviewModel, json_schema_refused
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.schema import review_schema
from support.fake_llm import FakeLLM, Reply

from .conftest import FAST, KEY, ModelFactory

SYSTEM = "You are a careful code reviewer."
PROMPT = """Review this change.

=== app/service.py (modified) ===
@@ lines 10-12 @@ class Service:
10 + def handler(x):
11 +     return x / 0  # FIXME-BUG divide by zero
12   # end
"""


def _sample(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


async def test_structured_output_round_trip(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A review is requested as strict json_schema built from ReviewOutput and comes back validated."""
    model = make_model("openai")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert reply.output.findings == [
        Finding(
            path="app/service.py",
            start_line=11,
            end_line=11,
            quote="    return x / 0  # FIXME-BUG divide by zero",
            severity=Severity.MAJOR,
            category=Category.BUG,
            title="Marked bug on line 11",
            body="This line is marked FIXME-BUG: fix the bug it marks.",
            suggestion=None,
        )
    ]
    [sent] = fake_llm.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(sent.body)
    response_format = sent.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert sent.schema == review_schema()
    assert sent.messages[0] == {"role": "system", "content": SYSTEM}
    assert sent.prompt == PROMPT
    assert sent.body["max_completion_tokens"] == 4096
    assert reply.model == "fake-model"
    assert reply.input_tokens == len(sent.text) // 4
    assert reply.output_tokens > 0


def test_schema_is_strict_compatible() -> None:
    """The schema sent closes every object, requires every property and still accepts valid output."""
    schema = review_schema()

    def objects(node: object) -> list[dict[str, object]]:
        if isinstance(node, dict):
            found = [node] if node.get("type") == "object" else []
            return found + [o for value in node.values() for o in objects(value)]
        if isinstance(node, list):
            return [o for item in node for o in objects(item)]
        return []

    for obj in objects(schema):
        assert obj["additionalProperties"] is False
        assert set(obj["required"]) == set(obj["properties"])  # type: ignore[call-overload]
    assert "minLength" not in str(schema)
    assert "maxLength" not in str(schema)
    valid = ReviewOutput(
        summary="s",
        findings=[
            Finding(
                path="a.py",
                start_line=1,
                end_line=1,
                quote="x",
                severity=Severity.NIT,
                category=Category.STYLE,
                title="t",
                body="b",
                suggestion=None,
            )
        ],
    )
    jsonschema.validate(valid.model_dump(mode="json"), schema)


async def test_model_per_call_overrides_default(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A model named in the call is the one requested, not the configured default."""
    model = make_model("openai")

    reply = await model.review(system=SYSTEM, prompt=PROMPT, model="bigger-model")

    assert [r.model for r in fake_llm.requests] == ["bigger-model"]
    assert reply.model == "bigger-model"


async def test_json_schema_refused_falls_back_and_is_remembered(make_model: ModelFactory) -> None:
    """A server refusing json_schema gets json_object with the schema in the instructions, from then on."""
    with FakeLLM(api_key=KEY, json_schema_supported=False) as old_server:
        model = make_model("openai", base_url=old_server.openai_base_url)

        first = await model.review(system=SYSTEM, prompt=PROMPT)
        second = await model.review(system=SYSTEM, prompt=PROMPT)
        # A second client of the same server (another worker) skips the failing request too.
        other = make_model("openai", base_url=old_server.openai_base_url)
        await other.review(system=SYSTEM, prompt=PROMPT)

    assert first.output == second.output
    assert len(first.output.findings) == 1
    modes = [r.structured_output for r in old_server.requests]
    assert modes == ["json_schema", "json_object", "json_object", "json_object"]
    assert json_schema_refused(old_server.openai_base_url)
    fallback = old_server.requests[1]
    assert fallback.system.startswith(SYSTEM)
    assert '"additionalProperties": false' in fallback.system


async def test_invalid_json_is_asked_again(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A reply that is not JSON is sent back with what was wrong, and the next valid reply is used."""
    fake_llm.enqueue(Reply.text('{"summary": "oops", "findings": ['))
    model = make_model("openai")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    first, second = fake_llm.requests
    assert second.messages[:2] == first.messages
    assert second.messages[2] == {"role": "assistant", "content": '{"summary": "oops", "findings": ['}
    assert second.messages[3]["role"] == "user"
    assert "does not match the schema" in second.messages[3]["content"]
    assert reply.input_tokens == len(first.text) // 4 + len(second.text) // 4


async def test_schema_violation_is_asked_again_naming_the_field(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """A reply breaking the schema (line 0) is asked again with the offending field named."""
    bad = {
        "summary": "s",
        "findings": [
            {
                "path": "a.py",
                "start_line": 0,
                "end_line": 1,
                "quote": "x",
                "severity": "major",
                "category": "bug",
                "title": "t",
                "body": "b",
                "suggestion": None,
            }
        ],
    }
    fake_llm.enqueue(Reply.json(bad))
    model = make_model("openai")

    await model.review(system=SYSTEM, prompt=PROMPT)

    correction = fake_llm.requests[1].messages[-1]["content"]
    assert "findings.0.start_line" in correction


async def test_correction_text_can_come_from_the_caller(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """The correction sent after a rejected reply is the caller's text with the problem filled in."""
    fake_llm.enqueue(Reply.text("nope"))
    model = make_model(
        "openai", instructions=ReplyInstructions(correction="Fix this: {problem} {not-a-field}")
    )

    await model.review(system=SYSTEM, prompt=PROMPT)

    correction = fake_llm.requests[1].messages[-1]["content"]
    assert correction.startswith("Fix this: it does not match the schema")
    assert correction.endswith("{not-a-field}")


async def test_refusal_is_asked_again(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A refusal counts as an invalid answer: the model is told and asked again."""
    fake_llm.enqueue(Reply.refusal("I won't."))
    model = make_model("openai")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert "refused" in fake_llm.requests[1].messages[-1]["content"]


async def test_truncated_answer_is_asked_again(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """An answer cut off at the token limit (finish_reason length) is not used even if it parses."""
    fake_llm.enqueue(Reply.json({"summary": "cut", "findings": []}, truncated=True))
    model = make_model("openai")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert "cut off" in fake_llm.requests[1].messages[-1]["content"]


async def test_persistent_invalid_output_is_permanent(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Invalid output every time ends in PermanentError after exactly validation_attempts requests."""
    fake_llm.enqueue(*[Reply.json({"summary": "no findings key"})] * 10)
    model = make_model("openai")

    with pytest.raises(PermanentError, match="no valid review in 3 answers"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.validation_attempts


async def test_rate_limit_retry_after_is_honoured(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 429 is retried after the server's retry-after, then succeeds."""
    fake_llm.enqueue(Reply.rate_limited(retry_after=0.4))
    model = make_model("openai")

    started = time.monotonic()
    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert time.monotonic() - started >= 0.4
    assert len(fake_llm.requests) == 2
    assert len(reply.output.findings) == 1


async def test_rate_limit_without_retry_after_backs_off(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 429 with no retry-after is retried with the policy's backoff; exhausted, it is RateLimitedError."""
    fake_llm.enqueue(Reply.rate_limited(retry_after=None))
    model = make_model("openai")
    assert len((await model.review(system=SYSTEM, prompt=PROMPT)).output.findings) == 1
    assert len(fake_llm.requests) == 2

    fake_llm.enqueue(*[Reply.rate_limited(retry_after=None)] * 5)
    with pytest.raises(RateLimitedError) as raised:
        await model.review(system=SYSTEM, prompt=PROMPT)
    assert len(fake_llm.requests) == 2 + FAST.attempts
    assert raised.value.delay == FAST.requeue_delay


async def test_long_retry_after_goes_back_to_the_queue(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A retry-after longer than the in-process limit fails at once with that delay (no sleeping on it)."""
    fake_llm.enqueue(Reply.rate_limited(retry_after=30))
    model = make_model("openai")

    with pytest.raises(RateLimitedError) as raised:
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert raised.value.delay == pytest.approx(30)
    assert len(fake_llm.requests) == 1


async def test_server_errors_are_retried_a_bounded_number_of_times(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """Persistent 5xx are retried attempts times, then surface as a retryable UnavailableError."""
    fake_llm.enqueue(*[Reply.server_error(502)] * 10)
    model = make_model("openai")

    with pytest.raises(UnavailableError) as raised:
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.attempts
    assert raised.value.delay == FAST.requeue_delay
    assert "502" in str(raised.value)


async def test_server_error_then_success(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """One 500 is retried transparently."""
    fake_llm.enqueue(Reply.server_error(500))
    model = make_model("openai")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert len(fake_llm.requests) == 2


async def test_unstreamed_timeout_names_the_setting_and_is_retried_once(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """Without streaming, an answer slower than the timeout is abandoned and tried once more, not attempts
    times; the error names ARGOAI_LLM_TIMEOUT_SECONDS and its value."""
    fake_llm.enqueue(*[Reply.slow(3)] * 5)
    model = make_model("openai", timeout_seconds=0.3, stream=False)

    started = time.monotonic()
    with pytest.raises(RetryableError, match=r"no answer within 0.3s \(ARGOAI_LLM_TIMEOUT_SECONDS=0.3\)"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.timeout_attempts < FAST.attempts
    assert not any(r.stream for r in fake_llm.requests)
    assert time.monotonic() - started < 2.5


async def test_streamed_call_over_the_overall_cap_names_it(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """A stream that keeps sending but outlasts ARGOAI_LLM_TIMEOUT_SECONDS is stopped by that cap."""
    fake_llm.enqueue(*[Reply.stalling(0.4)] * 2)
    model = make_model("openai", timeout_seconds=0.6, idle_timeout_seconds=0.5)
    fake_llm.delay = 0.3  # before the first chunk, within the idle timeout; 0.3 + 0.4 is over the cap

    with pytest.raises(RetryableError, match=r"not finished within 0.6s \(ARGOAI_LLM_TIMEOUT_SECONDS=0.6\)"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == FAST.timeout_attempts


async def test_wrong_key_is_permanent(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 401 is a configuration error, not retried."""
    model = make_model("openai", api_key=SecretStr("sk-wrong"))

    with pytest.raises(ConfigError, match="ARGOAI_LLM_API_KEY"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == 1


async def test_unknown_model_is_permanent(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A 404 (model not found) is permanent and not retried."""
    fake_llm.enqueue(Reply.error(404, "The model `nope` does not exist"))
    model = make_model("openai")

    with pytest.raises(PermanentError, match="does not exist"):
        await model.review(system=SYSTEM, prompt=PROMPT, model="nope")

    assert len(fake_llm.requests) == 1


async def test_azure_uses_deployment_path_and_api_key_header(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """With api_version set, requests go to /openai/deployments/{model}/chat/completions?api-version=."""
    model = make_model("openai", base_url=fake_llm.url, api_version="2024-10-21", model="review-deploy")

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    [sent] = fake_llm.requests
    assert sent.api == "azure"
    assert sent.path == "/openai/deployments/review-deploy/chat/completions"
    assert sent.query["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers
    assert sent.structured_output == "json_schema"
    assert len(reply.output.findings) == 1


async def test_metrics_record_calls_tokens_and_cost(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Calls by outcome, tokens by direction and the estimated cost are counted per model."""
    name = "metrics-model-openai"
    fake_llm.enqueue(Reply.text("not json"))
    model = make_model("openai", model=name, input_price_per_mtok=3.0, output_price_per_mtok=15.0)

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert _sample("argoai_llm_calls_total", model=name, outcome="ok") == 1
    assert _sample("argoai_llm_calls_total", model=name, outcome="invalid_output") == 1
    tokens = "argoai_llm_tokens_total"
    assert _sample(tokens, model=name, direction="input", variant="none") == reply.input_tokens
    assert _sample(tokens, model=name, direction="output", variant="none") == reply.output_tokens
    expected = (reply.input_tokens * 3.0 + reply.output_tokens * 15.0) / 1e6
    assert _sample("argoai_llm_cost_usd_total", model=name, variant="none") == pytest.approx(expected)
    assert _sample("argoai_llm_call_duration_seconds_count", model=name) == 2


async def test_span_carries_model_and_tokens(fake_llm: FakeLLM) -> None:
    """Each review is a span with the model and token usage, with one child span per request."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = LLMSettings(
        provider="openai", base_url=fake_llm.openai_base_url, api_key=SecretStr(KEY), model="traced"
    )
    model = OpenAIReviewModel(settings, retry=FAST, tracer=provider.get_tracer("test"))
    try:
        reply = await model.review(system=SYSTEM, prompt=PROMPT)
    finally:
        await model.aclose()

    spans = {span.name: span for span in exporter.get_finished_spans()}
    review, request = spans["llm.review"], spans["llm.request"]
    assert review.attributes is not None
    assert request.parent is not None
    assert request.parent.span_id == review.context.span_id
    assert review.attributes["gen_ai.request.model"] == "traced"
    assert review.attributes["gen_ai.system"] == "openai"
    assert review.attributes["gen_ai.usage.input_tokens"] == reply.input_tokens
    assert review.attributes["gen_ai.usage.output_tokens"] == reply.output_tokens


def test_factory_refuses_an_unconfigured_llm() -> None:
    """Without a provider there is no model to build: ConfigError naming the variable."""
    from argoai_reviewer.wiring import build_model

    with pytest.raises(ConfigError, match="ARGOAI_LLM_PROVIDER"):
        build_model(LLMSettings(provider=None))


async def test_an_answer_streamed_a_character_per_chunk_is_the_same_answer(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """Streamed one character per chunk (hundreds of chunks), the reply, its model and usage are as in 48s."""
    model = make_model("openai")
    whole = await model.review(system=SYSTEM, prompt=PROMPT)
    fake_llm.piece_chars = 1

    fine = await model.review(system=SYSTEM, prompt=PROMPT)

    assert fine.output == whole.output
    assert (fine.model, fine.input_tokens, fine.output_tokens) == (
        whole.model,
        whole.input_tokens,
        whole.output_tokens,
    )
    assert fine.output_tokens > 100  # over 400 characters: over 400 chunks of one character
