"""The per-call prompt budget (ARGOAI_REVIEWER_MAX_INPUT_TOKENS_PER_CALL) decides how a change is split."""

from __future__ import annotations

from argoai_core.models.findings import ReviewOutput
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.model import ModelReply
from argoai_reviewer.analysis.review import AnalysisOptions, ChangeRequest, analyze
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.domain import ChangedFile, FileStatus, PullRequest

PR = PullRequest(
    number=1,
    title="Add modules",
    body="",
    head_sha="a" * 40,
    base_sha="b" * 40,
    base_ref="main",
    state="open",
    draft=False,
    author="octocat",
    author_is_bot=False,
)


class RecordingModel:
    """A ReviewModel that answers nothing and keeps every prompt it was sent."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        self.prompts.append(prompt)
        return ModelReply(ReviewOutput(summary="ok", findings=[]), "fake", 0, 0)


def added_file(path: str, lines: int) -> ChangedFile:
    body = "".join(f"+value_{i} = compute_something({i}, {i + 1}, {i + 2})\n" for i in range(lines))
    return ChangedFile(path, FileStatus.ADDED, lines, 0, f"@@ -0,0 +1,{lines} @@\n{body}")


async def calls_for(budget: int) -> list[str]:
    files = [added_file(f"pkg/m{i}.py", 400) for i in range(6)]

    async def no_text(_: str) -> None:
        return None

    async def beat() -> None:
        return None

    model = RecordingModel()
    await analyze(
        ChangeRequest(pr=PR, files=files, anchor_files=files, head_text=no_text),
        PolicySpec(),
        model,
        EstimateCounter(),
        AnalysisOptions(input_tokens_per_call=budget),
        heartbeat=beat,
    )
    return model.prompts


async def test_a_larger_call_budget_sends_the_change_in_fewer_larger_calls() -> None:
    """About 110k characters of changes: split across several calls at 16k tokens, one call at 60k."""
    small = await calls_for(16_000)
    large = await calls_for(60_000)
    assert len(small) >= 2
    assert len(large) == 1
    counter = EstimateCounter()
    # Each call's whole prompt (not only its files) stays within its budget.
    assert all(counter.count(prompt) <= 16_000 for prompt in small)
    assert "pkg/m5.py" in large[0]
