"""One LLM call failing for good leaves the others' findings in the review, and says which files it missed."""

from __future__ import annotations

import pytest

from argoai_core.errors import PermanentError, UnavailableError
from argoai_core.models.findings import Category, Finding, ReviewOutput, Severity
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.anchoring import Anchored
from argoai_reviewer.analysis.model import ModelReply
from argoai_reviewer.analysis.review import Analysis, AnalysisOptions, ChangeRequest, analyze
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.domain import ChangedFile, FileStatus, PullRequest

PR = PullRequest(1, "Add modules", "", "a" * 40, "b" * 40, "main", "open", False, "octocat", False)


def added_file(path: str, lines: int) -> ChangedFile:
    body = "".join(f"+value_{i} = compute_something({i}, {i + 1}, {i + 2})\n" for i in range(lines))
    return ChangedFile(path, FileStatus.ADDED, lines, 0, f"@@ -0,0 +1,{lines} @@\n{body}")


class ScriptedModel:
    """Fails with ``error`` for the call that carries ``poison``; elsewhere reports one finding per call."""

    def __init__(self, poison: str, error: Exception) -> None:
        self.poison = poison
        self.error = error

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        if f"=== {self.poison}" in prompt:
            raise self.error
        path = "pkg/m0.py"
        finding = Finding(
            path=path,
            start_line=1,
            end_line=1,
            quote="value_0 = compute_something(0, 1, 2)",
            severity=Severity.MAJOR,
            category=Category.BUG,
            title="Wrong arguments",
            body="b",
            suggestion=None,
        )
        return ModelReply(
            ReviewOutput(summary="ok", findings=[finding] if f"=== {path}" in prompt else []), "m", 1, 1
        )


async def review_with(model: ScriptedModel) -> Analysis:
    files = [added_file(f"pkg/m{i}.py", 400) for i in range(4)]

    async def no_text(_: str) -> None:
        return None

    async def beat() -> None:
        return None

    return await analyze(
        ChangeRequest(pr=PR, files=files, anchor_files=files, head_text=no_text),
        PolicySpec(),
        model,
        EstimateCounter(),
        AnalysisOptions(input_tokens_per_call=8_000, llm_concurrency=1),
        heartbeat=beat,
    )


async def test_a_call_failing_for_good_gives_a_partial_review() -> None:
    """The call carrying m3.py gives no valid output: m0.py's finding is kept, m3.py is listed unreviewed."""
    analysis = await review_with(
        ScriptedModel("pkg/m3.py", PermanentError("gave no valid review in 3 answers"))
    )
    placed = [p for p in analysis.placements if isinstance(p, Anchored)]
    assert [(p.path, p.start) for p in placed] == [("pkg/m0.py", 1)]
    reasons = dict(analysis.coverage.clipped)
    assert reasons["pkg/m3.py"].startswith("not reviewed by the model: gave no valid review")
    assert "pkg/m3.py" not in analysis.coverage.reviewed
    assert "pkg/m0.py" in analysis.coverage.reviewed
    assert analysis.coverage.lines_sent < analysis.coverage.lines_total


async def test_every_call_failing_fails_the_review() -> None:
    """When no call succeeds there is nothing to post: the permanent error is raised."""
    with pytest.raises(PermanentError, match="context too long"):
        await review_with(ScriptedModel("pkg/m", PermanentError("context too long")))


async def test_a_transient_failure_fails_the_whole_review_for_a_retry() -> None:
    """An outage is not a partial review: the job is retried as a whole."""
    with pytest.raises(UnavailableError):
        await review_with(ScriptedModel("pkg/m3.py", UnavailableError("LLM 503")))
