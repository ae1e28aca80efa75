"""Agent mode through both providers over real HTTP: tool calls, results sent back, budget, no-tool server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from argoai_reviewer.agent.budget import AgentBudget, AgentLimits
from argoai_reviewer.agent.toolbox import SnapshotToolbox
from argoai_reviewer.agent.tools import SnapshotTools
from argoai_reviewer.analysis.model import ToolsUnsupportedError
from argoai_reviewer.index.code_index import CodeIndex
from argoai_reviewer.workspace.archive import UnpackLimits, unpack
from argoai_reviewer.workspace.snapshot import Snapshot, SnapshotKey
from reviewer.workspace.archives import archive
from support.fake_llm import AgentResponder, FakeLLM, Reply

from .conftest import KEY, ModelFactory

PRICING = "def apply_discount(price, percent):\n    return price * (100 - percent) / 100\n"
CALL = "    return apply_discount(subtotal, 0.15)"
PROMPT = f"""Review this change.

=== shop/cart.py (added) ===
@@ lines 1-2 @@
 1 + def checkout_total(subtotal):
 2 + {CALL}
"""


def _toolbox(tmp_path: Path, limits: AgentLimits | None = None) -> SnapshotToolbox:
    manifest = unpack(io.BytesIO(archive({"shop/pricing.py": PRICING})), tmp_path / "s", UnpackLimits())
    snapshot = Snapshot(SnapshotKey("h", "o", "r", "a" * 40), tmp_path / "s", manifest)
    return SnapshotToolbox(SnapshotTools(snapshot, CodeIndex(snapshot)), AgentBudget(limits or AgentLimits()))


def _agent() -> AgentResponder:
    return AgentResponder(
        path="shop/cart.py",
        line=2,
        quote=CALL,
        evidence="def apply_discount(price, percent):",
        calls=[("find_definitions", {"name": "apply_discount"}), ("read_file", {"path": "../etc/passwd"})],
    )


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("stream", [True, False])
async def test_model_calls_tools_then_answers_from_their_results(
    fake_llm: FakeLLM, make_model: ModelFactory, tmp_path: Path, provider: str, stream: bool
) -> None:
    """The model's tool calls run, their results go back (a bad path as an error), and its final answer is
    the structured review, reporting what the tools showed."""
    responder = _agent()
    fake_llm.responder = responder
    tools = _toolbox(tmp_path)
    model = make_model(provider, stream=stream)

    reply = await model.review(system="Review.", prompt=PROMPT, tools=tools)

    [finding] = reply.output.findings
    assert (finding.path, finding.start_line) == ("shop/cart.py", 2)
    assert responder.seen == ["tools"]
    first, second = fake_llm.requests
    assert sorted(first.tools) == [
        "find_definitions",
        "find_references",
        "list_directory",
        "read_file",
        "search",
    ]
    [definition, refused] = second.tool_results
    assert "shop/pricing.py:1 (function)" in definition
    assert "'..' is not allowed" in refused
    assert "root:" not in second.text
    assert (tools.budget.rounds, tools.budget.tool_calls) == (1, 2)
    assert reply.input_tokens > 0


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_model_calling_tools_forever_is_stopped_by_the_budget(
    fake_llm: FakeLLM, make_model: ModelFactory, tmp_path: Path, provider: str
) -> None:
    """Past the review's rounds the tools are closed: the next request asks for the final answer only."""
    loop = Reply.tools(("list_directory", {"path": ""}))
    fake_llm.enqueue(loop, loop, loop)
    tools = _toolbox(tmp_path, AgentLimits(max_rounds=2))
    model = make_model(provider)

    reply = await model.review(system="Review.", prompt=PROMPT, tools=tools)

    assert reply.output.findings == []
    assert [r.tools_open for r in fake_llm.requests] == [True, True, False, False]
    assert tools.budget.rounds == 2
    last = fake_llm.requests[-1]
    assert "give your final answer now" in last.text or "no tools are left" in last.text


async def test_a_server_without_tool_calling_is_asked_once(make_model: ModelFactory, tmp_path: Path) -> None:
    """A server refusing tools raises ToolsUnsupportedError; the next agent call is refused without asking."""
    with FakeLLM(api_key=KEY, personality="vllm-no-tools") as server:
        model = make_model("openai", base_url=server.openai_base_url)
        with pytest.raises(ToolsUnsupportedError):
            await model.review(system="Review.", prompt=PROMPT, tools=_toolbox(tmp_path / "a"))
        with pytest.raises(ToolsUnsupportedError):
            await model.review(system="Review.", prompt=PROMPT, tools=_toolbox(tmp_path / "b"))
        plain = await model.review(system="Review.", prompt=PROMPT)
    assert plain.output is not None
    assert len(server.requests) == 2
    assert server.requests[0].tools
    assert not server.requests[1].tools
