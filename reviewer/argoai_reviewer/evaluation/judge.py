"""The LLM judge: decides which findings report a golden comment that has no place (``path``/``line``).

Golden comments converted from benchmarks such as the Martian Code Review Bench often say what is wrong
without saying where; the judge reads the comment and the numbered findings and answers with the numbers of
those that report the same problem — structured output (:class:`JudgeVerdict`) from its own model
(``ARGOAI_EVAL_JUDGE_MODEL``, else the configured one). The prompt is a template (``templates/judge.j2``);
the golden comment and the findings are untrusted text, redacted and fenced like a review's code.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Protocol, TypeVar

import jinja2
from pydantic import BaseModel, ConfigDict, Field

from argoai_core.redact import redact
from argoai_reviewer.analysis.model import Reply
from argoai_reviewer.analysis.prompts import new_boundary
from argoai_reviewer.evaluation.dataset import GoldenComment
from argoai_reviewer.evaluation.matching import Candidate

TEMPLATES = Path(__file__).parent / "templates"
MAX_FINDING_CHARS = 2000


class JudgeVerdict(BaseModel):
    """The judge's answer: which findings (by their number) report the golden comment's problem, and why."""

    model_config = ConfigDict(extra="forbid")
    # The name and description the schema is sent under (OpenAI json_schema, the Anthropic tool).
    llm_name: ClassVar[str] = "submit_verdict"
    llm_description: ClassVar[str] = "Submit which findings report the known problem."

    matches: list[int] = Field(description="Numbers of the findings that report the known problem")
    reason: str = Field(description="One sentence: why these findings match, or why none does")


T = TypeVar("T", bound=BaseModel)


class Asker(Protocol):
    """An LLM client answering with any structured output (as the LLM clients' ``ask`` does)."""

    async def ask(self, *, system: str, prompt: str, output: type[T], model: str | None = None) -> Reply[T]:
        """One validated structured answer of type ``output``."""
        ...


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # Autoescape off: the output is a prompt, not HTML; untrusted text is fenced instead of escaped.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _clean(candidate: Candidate) -> Candidate:
    body = (
        candidate.body
        if len(candidate.body) <= MAX_FINDING_CHARS
        else candidate.body[:MAX_FINDING_CHARS] + " …"
    )
    return Candidate(
        path=redact(candidate.path),
        start=candidate.start,
        end=candidate.end,
        title=redact(" ".join(candidate.title.split())),
        body=redact(body),
        severity=candidate.severity,
        source=candidate.source,
    )


def render_judge_prompt(golden: GoldenComment, candidates: Sequence[Candidate]) -> tuple[str, str]:
    """The judge's system prompt and user prompt; findings are numbered from 1."""
    cleaned = [_clean(candidate) for candidate in candidates]
    comment = redact(golden.comment)
    pieces = [comment, *(f"{c.path} {c.title} {c.body}" for c in cleaned)]
    boundary = new_boundary(pieces)
    environment = _environment()
    system = environment.get_template("judge_system.j2").render()
    prompt = environment.get_template("judge.j2").render(
        boundary=boundary, golden=comment, findings=list(enumerate(cleaned, start=1))
    )
    return system, prompt


class LLMJudge:
    """A :class:`~argoai_reviewer.evaluation.matching.Judge` asking an LLM, with its token counts kept."""

    def __init__(self, asker: Asker, model: str | None = None) -> None:
        self._asker = asker
        self._model = model
        self.input_tokens = 0
        self.output_tokens = 0
        self.calls = 0

    async def matches(self, golden: GoldenComment, candidates: Sequence[Candidate]) -> set[int]:
        """Indexes (from 0) of the candidates the judge says report ``golden``'s problem."""
        system, prompt = render_judge_prompt(golden, candidates)
        reply = await self._asker.ask(system=system, prompt=prompt, output=JudgeVerdict, model=self._model)
        self.calls += 1
        self.input_tokens += reply.input_tokens
        self.output_tokens += reply.output_tokens
        verdict = reply.output
        # Numbers outside the list are the model's mistake: ignored, never an index error.
        return {number - 1 for number in verdict.matches if 1 <= number <= len(candidates)}
