"""The structured-output loop asks for any pydantic type, through both providers, with every safeguard."""

from __future__ import annotations

from typing import ClassVar, Literal

import pytest
from pydantic import BaseModel, Field

from argoai_core.errors import PermanentError
from argoai_reviewer.llm.schema import OutputSpec
from support.fake_llm import FakeLLM, Reply

from .conftest import KEY, ModelFactory


class Verdict(BaseModel):
    """Submit the verdict on one finding."""

    keep: bool
    reason: str = Field(min_length=1)
    confidence: Literal["low", "high"]


class Named(BaseModel):
    """Ignored: the class chooses its own name."""

    llm_name: ClassVar[str] = "answer_question"
    text: str


VERDICT = {"keep": False, "reason": "the caller checks for None first", "confidence": "high"}


def test_spec_names_a_type_by_its_class() -> None:
    """A type's schema is sent as ``submit_<snake_case>`` with its docstring's first line as description."""
    spec = OutputSpec.of(Verdict)
    assert (spec.name, spec.description, spec.label) == (
        "submit_verdict",
        "Submit the verdict on one finding.",
        "verdict",
    )
    schema = spec.schema()
    assert schema["additionalProperties"] is False
    assert sorted(schema["required"]) == ["confidence", "keep", "reason"]
    assert OutputSpec.of(Named).name == "answer_question"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [True, False])
async def test_any_type_round_trips(
    fake_llm: FakeLLM, make_model: ModelFactory, provider: str, stream: bool
) -> None:
    """An answer of another type is requested with that type's schema and comes back validated."""
    fake_llm.enqueue(Reply.json(VERDICT))
    model = make_model(provider, stream=stream)

    reply = await model.ask(system="Judge.", prompt="Is this a bug?", output=Verdict)

    assert reply.output == Verdict.model_validate(VERDICT)
    [sent] = fake_llm.requests
    assert sent.schema == OutputSpec.of(Verdict).schema()
    if provider == "anthropic":
        assert sent.body["tool_choice"] == {"type": "tool", "name": "submit_verdict"}
    else:
        assert sent.body["response_format"]["json_schema"]["name"] == "submit_verdict"
    assert reply.input_tokens > 0


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_invalid_answer_of_any_type_is_asked_again(
    fake_llm: FakeLLM, make_model: ModelFactory, provider: str
) -> None:
    """A reply breaking the type's schema is sent back with what was wrong; the next valid one is used."""
    fake_llm.enqueue(Reply.json({"keep": "maybe"}), Reply.json(VERDICT))
    model = make_model(provider)

    reply = await model.ask(system="Judge.", prompt="Is this a bug?", output=Verdict)

    assert reply.output.keep is False
    _, second = fake_llm.requests
    assert "keep" in second.text


async def test_refusal_and_fallback_work_for_any_type(make_model: ModelFactory) -> None:
    """A server refusing json_schema gets json_object with the type's schema in the instructions, and a
    model refusal is asked again."""
    with FakeLLM(api_key=KEY, json_schema_supported=False) as old_server:
        old_server.enqueue(Reply.refusal(), Reply.json(VERDICT))
        model = make_model("openai", base_url=old_server.openai_base_url)

        reply = await model.ask(system="Judge.", prompt="Is this a bug?", output=Verdict)

    assert reply.output.reason == VERDICT["reason"]
    modes = [r.structured_output for r in old_server.requests]
    assert modes == ["json_schema", "json_object", "json_object"]
    assert '"keep"' in old_server.requests[-1].system
    assert "the model refused" in old_server.requests[-1].text


async def test_never_valid_names_the_type(fake_llm: FakeLLM, make_model: ModelFactory) -> None:
    """After the validation attempts, the permanent error names what was asked for."""
    fake_llm.enqueue(*[Reply.json({"keep": 1})] * 3)
    model = make_model("openai")

    with pytest.raises(PermanentError, match="gave no valid verdict in 3 answers"):
        await model.ask(system="Judge.", prompt="Is this a bug?", output=Verdict)
