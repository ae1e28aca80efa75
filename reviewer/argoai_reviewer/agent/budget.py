"""The bounds of agent mode for one review: rounds, tool calls, tokens and wall time, shared by its calls.

A review's LLM calls run concurrently and share one :class:`AgentBudget`. Each round (one model turn that
asks for tools) and each tool call is counted before it runs; tokens are counted as answers arrive; the
clock starts at the first round. Once any bound is reached the budget is *closed*: no tool runs, the
pending calls are answered with an error saying so, and the model is asked for its final answer with no
tools left to call. So a repository file telling the model to "call tools forever" ends the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AgentLimits:
    """The policy's bounds on agent mode per review."""

    max_rounds: int = 8
    max_tool_calls: int = 40
    max_tokens: int = 200_000
    max_seconds: float = 120.0


@dataclass
class AgentBudget:
    """What one review has spent of its :class:`AgentLimits`; ``clock`` is injectable for tests."""

    limits: AgentLimits
    clock: Callable[[], float] = time.monotonic
    rounds: int = 0
    tool_calls: int = 0
    tokens: int = 0
    refused_calls: int = 0
    started: float | None = None
    closed_because: str = field(default="")

    def exhausted(self) -> str:
        """Why no further round may run ("" while one may)."""
        if not self.closed_because and self.rounds >= self.limits.max_rounds:
            self.closed_because = f"the review's {self.limits.max_rounds} tool rounds are used up"
        return self._over()

    def _over(self) -> str:
        """Why no further tool may run, rounds aside (a round already started may finish its calls)."""
        if self.closed_because:
            return self.closed_because
        limits = self.limits
        reason = ""
        if self.tool_calls >= limits.max_tool_calls:
            reason = f"the review's {limits.max_tool_calls} tool calls are used up"
        elif self.tokens >= limits.max_tokens:
            reason = f"the review's {limits.max_tokens:,} agent tokens are used up"
        elif self.started is not None and self.clock() - self.started >= limits.max_seconds:
            reason = f"the review's {limits.max_seconds:g} s of agent time are used up"
        self.closed_because = reason
        return reason

    def start_round(self) -> bool:
        """Count a round; False (and nothing counted) when the budget is closed."""
        if self.exhausted():
            return False
        if self.started is None:
            self.started = self.clock()
        self.rounds += 1
        return True

    def take_call(self) -> bool:
        """Count one tool call; False when it may not run (the budget is closed)."""
        if self._over():
            self.refused_calls += 1
            return False
        self.tool_calls += 1
        return True

    def spend(self, tokens: int) -> None:
        """Count the tokens of one answer (input and output)."""
        self.tokens += tokens
