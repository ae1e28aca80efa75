"""The OpenAI-compatible adapter against the fake answering as each real server does (support.fake_llm)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from argoai_core.errors import InvalidInputError, PermanentError, RetryableError
from argoai_core.models.findings import ReviewOutput
from argoai_reviewer.adapters.llm_openai import is_openai_or_azure, json_schema_refused
from argoai_reviewer.llm.schema import review_schema
from support.fake_llm import LLAMA_CPP_PYTHON_REFUSAL, PERSONALITIES, FakeLLM, Reply

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


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLM]:
    """A fresh fake with the personality named by the parameter (a new base URL: nothing remembered)."""
    with FakeLLM(api_key=KEY, personality=request.param) as fake:
        yield fake


@pytest.mark.parametrize("server", sorted(PERSONALITIES), indirect=True)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
async def test_review_succeeds_through_every_server(
    server: FakeLLM, make_model: ModelFactory, stream: bool
) -> None:
    """Every server personality yields the review, with the output limit it honours, schema-constrained where
    the server can be, and every request after the first refusal goes out in a form the server accepts."""
    model = make_model("openai", base_url=server.openai_base_url, stream=stream, max_output_tokens=2048)

    first = await model.review(system=SYSTEM, prompt=PROMPT)
    second = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(first.output.findings) == len(second.output.findings) == 1
    accepted = [r for r in server.requests if r.structured_output in server.personality.formats]
    assert [r.output_limit for r in accepted] == [2048] * 2
    assert len(server.requests) - len(accepted) == (0 if "json_schema" in server.personality.formats else 1)
    assert all(r.stream is stream for r in server.requests)
    # Constrained by the schema wherever the server can be (old vLLM has JSON mode only).
    can_constrain = "json_schema" in server.personality.formats or server.personality.schema_in_json_object
    assert all(server.personality.constrained(r.body) for r in accepted) is can_constrain


async def test_llama_cpp_python_refusal_is_recognised_by_its_500_body(make_model: ModelFactory) -> None:
    """llama-cpp-python's HTTP 500 naming response_format is a refusal, not an outage: no retry of it, the
    json_object request with the schema follows at once, and later requests start there."""
    with FakeLLM(api_key=KEY, personality="llama-cpp-python") as server:
        model = make_model("openai", base_url=server.openai_base_url, model="llama-refusal")

        await model.review(system=SYSTEM, prompt=PROMPT)
        await model.review(system=SYSTEM, prompt=PROMPT)

    refused, *accepted = server.requests
    assert refused.structured_output == "json_schema"
    assert [r.structured_output for r in accepted] == ["json_object", "json_object"]
    assert all(r.schema == review_schema() for r in accepted)  # the grammar-constraining ``schema`` field
    assert all('"additionalProperties": false' in r.system for r in accepted)  # and in the instructions
    assert json_schema_refused(server.openai_base_url)
    assert _sample("argoai_llm_calls_total", model="llama-refusal", outcome="unavailable") == 0
    assert "response_format" in LLAMA_CPP_PYTHON_REFUSAL


async def test_max_tokens_is_sent_beside_max_completion_tokens_off_openai(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """A self-hosted server gets both output-limit parameters; Azure only max_completion_tokens."""
    await make_model("openai", max_output_tokens=1000).review(system=SYSTEM, prompt=PROMPT)
    azure = make_model("openai", base_url=fake_llm.url, api_version="2024-10-21", max_output_tokens=1000)
    await azure.review(system=SYSTEM, prompt=PROMPT)

    self_hosted, via_azure = fake_llm.requests
    assert (self_hosted.body["max_tokens"], self_hosted.body["max_completion_tokens"]) == (1000, 1000)
    assert via_azure.body["max_completion_tokens"] == 1000
    assert "max_tokens" not in via_azure.body


@pytest.mark.parametrize(
    ("url", "azure", "expected"),
    [
        ("https://api.openai.com/v1", False, True),
        ("https://my-resource.openai.azure.com", False, True),
        ("https://my-resource.openai.azure.com/openai/v1", False, True),
        ("https://gateway.example.com/v1", True, True),
        ("http://localhost:11434/v1", False, False),
        ("http://vllm:8000/v1", False, False),
        ("https://api.openai.com.evil.example/v1", False, False),
    ],
)
def test_openai_and_azure_are_told_apart_by_host(url: str, azure: bool, expected: bool) -> None:
    """Only OpenAI's and Azure's hosts (or an Azure API version) count as OpenAI: never sent max_tokens."""
    assert is_openai_or_azure(url, azure=azure) is expected


async def test_answer_cut_at_the_limit_is_reported_and_asked_again(make_model: ModelFactory) -> None:
    """An answer the server cut at max_tokens (finish_reason length) is rejected as cut off, not parsed."""
    long = ReviewOutput(summary="x" * 3000, findings=[])
    with FakeLLM(api_key=KEY, personality="llama-cpp-python") as server:
        server.enqueue(Reply.output(long))  # after the personality's own refusal of json_schema
        model = make_model("openai", base_url=server.openai_base_url, max_output_tokens=256)

        reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    cut, retried = server.requests[1:]
    assert cut.output_limit == 256
    assert "cut off at the output token limit" in retried.messages[-1]["content"]


async def test_unstreamed_timeout_on_a_server_that_keeps_generating(make_model: ModelFactory) -> None:
    """Without streaming, llama-cpp-python finishes an abandoned answer before serving the next request: the
    call is tried once more only, after a pause, and the error names the timeout setting."""
    with FakeLLM(api_key=KEY, personality="llama-cpp-python") as server:
        server.enqueue(*[Reply.slow(0.6)] * 4)
        model = make_model("openai", base_url=server.openai_base_url, stream=False, timeout_seconds=0.3)

        with pytest.raises(RetryableError, match=r"ARGOAI_LLM_TIMEOUT_SECONDS=0.3"):
            await model.review(system=SYSTEM, prompt=PROMPT)
        timed_out = server.requests[1:]
        outcomes = [server.wait_outcome(r.number) for r in timed_out]

    assert len(timed_out) == FAST.timeout_attempts
    assert outcomes == ["generated for nobody"] * FAST.timeout_attempts


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_stalled_stream_is_closed_and_the_server_sees_it(
    fake_llm: FakeLLM, make_model: ModelFactory, provider: str
) -> None:
    """A stream idle past ARGOAI_LLM_IDLE_TIMEOUT_SECONDS is closed: the server sees the client leave."""
    fake_llm.enqueue(Reply.stalling(5), Reply.stalling(5))
    model = make_model(provider, idle_timeout_seconds=0.3)

    with pytest.raises(RetryableError, match=r"ARGOAI_LLM_IDLE_TIMEOUT_SECONDS=0.3"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert [fake_llm.wait_outcome(r.number, 2.0) for r in fake_llm.requests] == ["client left"] * 2


async def test_time_to_first_token_is_measured(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """A streamed call observes argoai_llm_time_to_first_token_seconds once, at least the server's delay."""
    fake_llm.delay = 0.2
    await make_model("openai", model="ttft-model").review(system=SYSTEM, prompt=PROMPT)

    assert _sample("argoai_llm_time_to_first_token_seconds_count", model="ttft-model") == 1
    assert _sample("argoai_llm_time_to_first_token_seconds_sum", model="ttft-model") >= 0.2


async def test_usage_comes_from_the_last_chunk(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """Streaming asks for include_usage and takes the token counts from the final chunk."""
    reply = await make_model("openai").review(system=SYSTEM, prompt=PROMPT)

    [sent] = fake_llm.requests
    assert sent.stream
    assert sent.body["stream_options"] == {"include_usage": True}
    assert reply.input_tokens == len(sent.text) // 4
    assert reply.output_tokens > 0


async def test_refused_stream_options_are_left_out_from_then_on(make_model: ModelFactory) -> None:
    """A server refusing stream_options as an unknown parameter gets the request again without it."""
    with FakeLLM(api_key=KEY) as server:
        server.enqueue(Reply.error(400, "Unrecognized request argument supplied: stream_options"))
        model = make_model("openai", base_url=server.openai_base_url)

        await model.review(system=SYSTEM, prompt=PROMPT)
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert ["stream_options" in r.body for r in server.requests] == [True, False, False]


async def test_azure_refusing_json_schema_gets_plain_json_object(make_model: ModelFactory) -> None:
    """An Azure API version without json_schema falls back to json_object without llama.cpp's schema field."""
    with FakeLLM(api_key=KEY, json_schema_supported=False) as server:
        model = make_model("openai", base_url=server.url, api_version="2024-02-01", model="deploy")

        reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert [r.body["response_format"] for r in server.requests][1:] == [{"type": "json_object"}]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_cancelling_the_caller_closes_the_stream_promptly(
    fake_llm: FakeLLM, make_model: ModelFactory, provider: str
) -> None:
    """Cancelling the task awaiting a streamed answer closes the connection: the server sees it within 1 s."""
    fake_llm.enqueue(Reply.slow(10))
    model = make_model(provider)
    task = asyncio.create_task(model.review(system=SYSTEM, prompt=PROMPT))
    while not fake_llm.requests:  # noqa: ASYNC110 (the fake records from another thread)
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the answer has started: headers sent, the first chunk awaited

    cancelled_at = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    outcome = await asyncio.to_thread(fake_llm.wait_outcome, fake_llm.requests[0].number, 3.0)

    assert outcome == "client left"
    assert time.monotonic() - cancelled_at < 1.0


async def test_vllm_context_length_error_is_invalid_input_not_a_refusal(make_model: ModelFactory) -> None:
    """vLLM's 400 naming both limit parameters because the prompt is too long is InvalidInputError: no
    parameter is dropped and nothing is retried."""
    with FakeLLM(api_key=KEY, personality="vllm") as server:
        server.enqueue(
            Reply.error(
                400,
                "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context "
                "length is 2048 tokens and your request has 1900 input tokens (4096 > 2048 - 1900).",
                error_type="BadRequestError",
            )
        )
        model = make_model("openai", base_url=server.openai_base_url)

        with pytest.raises(InvalidInputError, match="maximum context"):
            await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(server.requests) == 1


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_error_event_inside_a_stream_is_transient(
    fake_llm: FakeLLM, make_model: ModelFactory, provider: str
) -> None:
    """A stream that breaks half-way with an error event (overloaded) is retried like an outage."""
    fake_llm.enqueue(Reply.breaking("overloaded_error"))
    model = make_model(provider)

    reply = await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(reply.output.findings) == 1
    assert len(fake_llm.requests) == 2


async def test_anthropic_error_event_of_a_bad_request_is_permanent(
    fake_llm: FakeLLM, make_model: ModelFactory
) -> None:
    """An Anthropic error event that is not transient (invalid_request_error) is not retried."""
    fake_llm.enqueue(Reply.breaking("invalid_request_error"))
    model = make_model("anthropic")

    with pytest.raises(PermanentError, match="invalid_request_error"):
        await model.review(system=SYSTEM, prompt=PROMPT)

    assert len(fake_llm.requests) == 1
