"""Verification before posting, with a scripted verifier: what it is shown, what is kept, what is dropped."""

from __future__ import annotations

from typing import Any

from argoai_core.errors import PermanentError
from argoai_core.models.findings import Category, Finding, Severity
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.anchoring import Anchored, How, Unanchored
from argoai_reviewer.analysis.anchoring import Reason as Why
from argoai_reviewer.analysis.model import Reply
from argoai_reviewer.analysis.verify import Verdict, code_at, verify, verifying_model

TOKEN = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
TEXT = "".join(f"line {n}\n" for n in range(1, 31)).replace("line 15", f'TOKEN = "{TOKEN}"')


def _finding(title: str, line: int = 15) -> Finding:
    return Finding(
        path="app.py",
        start_line=line,
        end_line=line,
        quote=f"line {line}",
        severity=Severity.MAJOR,
        category=Category.BUG,
        title=title,
        body="Explain.",
        suggestion=None,
    )


class Verifier:
    """Drops findings titled "noise", fails on "broken", keeps the rest; records the prompts."""

    def __init__(self) -> None:
        self.prompts: list[tuple[str, str | None]] = []

    async def ask(
        self, *, system: str, prompt: str, output: type[Any], model: str | None = None, **_: Any
    ) -> Any:
        self.prompts.append((prompt, model))
        if "broken" in prompt:
            raise PermanentError("no valid verdict")
        keep = "noise" not in prompt
        return Reply(Verdict(keep=keep, reason="checked"), model or "default", 10, 2)


async def test_dropped_kept_and_failed_verdicts() -> None:
    """A dropped finding is listed with its reason; a kept one and one whose verification failed stay."""
    placements = [
        Anchored(_finding("real bug"), "app.py", 15, 15, How.EXACT),
        Anchored(_finding("noise"), "app.py", 20, 20, How.EXACT),
        Unanchored(_finding("broken"), "app.py", Why.QUOTE_NOT_FOUND),
    ]
    verifier = Verifier()
    policy = PolicySpec.model_validate({"verification": {"mode": "other-model", "model": "checker"}})
    result = await verify(
        verifier, placements, texts={"app.py": TEXT}, related={"app.py": "def helper(): ..."}, policy=policy,
        concurrency=2,
    )  # fmt: skip
    assert [p.finding.title for p in result.kept] == ["real bug", "broken"]
    assert [(d.placement.finding.title, d.reason) for d in result.dropped] == [("noise", "checked")]
    assert (result.input_tokens, result.output_tokens) == (20, 4)
    assert {model for _, model in verifier.prompts} == {"checker"}
    first = verifier.prompts[0][0]
    assert TOKEN not in first  # the code shown is redacted
    assert '    15 > TOKEN = "[REDACTED]"' in first
    assert "def helper(): ..." in first


def test_code_at_marks_the_anchored_lines_and_unanchored_shows_the_quote() -> None:
    """The verifier sees eight lines either side, the anchored ones marked; unanchored, only the quote."""
    shown = code_at(Anchored(_finding("x", 3), "app.py", 3, 4, How.EXACT), TEXT).splitlines()
    assert shown[0] == "     1   line 1"
    assert [line[7] for line in shown[:5]] == [" ", " ", ">", ">", " "]
    assert len(shown) == 12
    assert code_at(Unanchored(_finding("x"), "app.py", Why.QUOTE_NOT_FOUND), TEXT).endswith("line 15")


def test_verifying_model_follows_the_policy() -> None:
    """same-model asks the review's model (policy or default); other-model asks verification.model."""
    assert verifying_model(PolicySpec.model_validate({"verification": {"mode": "same-model"}})) is None
    other = {"verification": {"mode": "other-model", "model": "small"}, "provider": "openai", "model": "big"}
    assert verifying_model(PolicySpec.model_validate(other)) == "small"
