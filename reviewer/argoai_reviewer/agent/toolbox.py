"""One review's tools as the LLM loop uses them: a round of calls run within the budget, results redacted
and fenced.

Every result is redacted (:mod:`argoai_core.redact`, line by line) and put in a data block whose boundary is
a random token that the result does not contain, exactly like the repository text of the prompt, so file
content can neither pose as instructions nor close its block. A refused call (bad path, bad argument, budget
spent) is an error result naming why; nothing from the repository is ever logged.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence

from argoai_core.logs import get_logger
from argoai_core.redact import redact_keeping_lines
from argoai_reviewer.agent.budget import AgentBudget
from argoai_reviewer.agent.calls import ToolCall, ToolResult, ToolSpec
from argoai_reviewer.agent.tools import SnapshotTools, ToolError
from argoai_reviewer.metrics import AGENT_TOOL_CALLS

log = get_logger(__name__)


def fence(name: str, text: str) -> str:
    """``text`` in a data block named ``name`` with a fresh boundary the text does not contain."""
    while True:
        boundary = f"DATA-{secrets.token_hex(12)}"
        if boundary not in text:
            break
    return f"<<<BEGIN {boundary} {name}>>>\n{text}\n<<<END {boundary}>>>"


class SnapshotToolbox:
    """The tools of one review over its snapshot, bounded by ``budget`` (shared by the review's calls)."""

    def __init__(self, tools: SnapshotTools, budget: AgentBudget) -> None:
        self.tools = tools
        self.budget = budget

    def specs(self) -> list[ToolSpec]:
        """The tools, as the model is told about them."""
        return self.tools.specs()

    def closed(self) -> str:
        """Why no more tools may run in this review ("" while they may)."""
        return self.budget.exhausted()

    def spend(self, tokens: int) -> None:
        """Count the tokens of one answer of the agent loop."""
        self.budget.spend(tokens)

    async def run(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        """Answer one round of calls, in order; a call over budget or refused is an error result."""
        if not self.budget.start_round():
            reason = self.budget.exhausted()
            for call in calls:
                AGENT_TOOL_CALLS.labels(tool=_label(call.name), result="refused").inc()
            return [
                self._error(call, f"no more tool calls: {reason}; give your final answer now")
                for call in calls
            ]
        results = []
        for call in calls:
            if not self.budget.take_call():
                AGENT_TOOL_CALLS.labels(tool=_label(call.name), result="refused").inc()
                why = self.budget.exhausted() or "the review's tool calls are used up"
                results.append(self._error(call, f"not run: {why}; give your final answer now"))
                continue
            try:
                text = await asyncio.to_thread(self.tools.call, call.name, call.arguments)
            except ToolError as exc:
                AGENT_TOOL_CALLS.labels(tool=_label(call.name), result="error").inc()
                log.info(
                    "agent_tool_refused", tool=_label(call.name), reason=redact_keeping_lines(str(exc))[:200]
                )
                results.append(self._error(call, str(exc)))
                continue
            AGENT_TOOL_CALLS.labels(tool=_label(call.name), result="ok").inc()
            results.append(ToolResult(call.id, fence(f"tool_result {call.name}", redact_keeping_lines(text))))
        return results

    @staticmethod
    def _error(call: ToolCall, message: str) -> ToolResult:
        return ToolResult(call.id, fence("tool_error", redact_keeping_lines(message)), is_error=True)


_KNOWN = frozenset({"read_file", "search", "find_definitions", "find_references", "list_directory"})


def _label(name: str) -> str:
    """A bounded metric label: a model may call tools by any name."""
    return name if name in _KNOWN else "unknown"
