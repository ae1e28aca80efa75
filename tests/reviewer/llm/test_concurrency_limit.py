"""The process-wide LLM concurrency limit shared by every review."""

from __future__ import annotations

import asyncio

from argoai_core.models.findings import ReviewOutput
from argoai_reviewer.analysis.model import ModelReply
from argoai_reviewer.llm.limits import ConcurrencyLimitedModel


class SlowModel:
    """A model that takes a moment per call and records how many calls overlapped."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        return ModelReply(ReviewOutput(summary=prompt, findings=[]), model or "m", 1, 1)


async def test_no_more_than_the_limit_run_at_once_and_every_call_is_answered() -> None:
    """Twenty calls through a limit of three: at most three overlap, all twenty answered in order."""
    inner = SlowModel()
    limited = ConcurrencyLimitedModel(inner, 3)
    replies = await asyncio.gather(*(limited.review(system="s", prompt=str(i)) for i in range(20)))
    assert inner.most == 3
    assert [reply.output.summary for reply in replies] == [str(i) for i in range(20)]
