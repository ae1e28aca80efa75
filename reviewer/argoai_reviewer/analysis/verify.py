"""Verification before posting: each candidate finding of the model is checked by one more LLM call.

The call (policy ``verification.mode``: ``same-model`` or ``other-model``) gets the finding, the code at its
anchor (a few lines around it, numbered, from the file at head) and the related unchanged code its batch was
given, all redacted and fenced (see :mod:`.prompts`), and answers a :class:`Verdict` in structured output:
keep or drop, with a reason. Dropped findings are not posted; they are listed (collapsed) in the summary with
their reasons and counted (``argoai_verifications_total``, the review record). Analyzer findings are never
verified: they come from deterministic tools. A verification call that fails for good keeps its finding
(the review must not lose a finding because the checker is down); a retryable failure retries the job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.anchoring import Anchored, Placement
from argoai_reviewer.analysis.model import StructuredModel
from argoai_reviewer.analysis.prompts import render_verify_prompt, render_verify_system
from argoai_reviewer.metrics import VERIFICATIONS
from argoai_reviewer.workspace.snapshot import split_lines

log = get_logger(__name__)

# Lines of the file shown before and after the anchored lines.
AROUND = 8
MAX_RELATED_CHARS = 12_000


class Verdict(BaseModel):
    """Submit the verdict on one candidate finding: keep it (a real problem) or drop it, and why."""

    keep: bool = Field(description="true: the finding is a real problem worth posting; false: drop it")
    reason: str = Field(min_length=1, max_length=500, description="One or two sentences: why")


@dataclass(frozen=True)
class DroppedFinding:
    """A finding verification dropped, and the verifier's reason."""

    placement: Placement
    reason: str


@dataclass
class Verification:
    """What verification kept and dropped, and what it cost."""

    kept: list[Placement] = field(default_factory=list)
    dropped: list[DroppedFinding] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    models: set[str] = field(default_factory=set)


def verifying_model(policy: PolicySpec) -> str | None:
    """The model name a verification call asks for (None: the configured default)."""
    if policy.verification.mode == "other-model":
        return policy.verification.model
    return policy.model


def code_at(placement: Placement, text: str | None) -> str:
    """The numbered lines around the anchored lines (marked ``>``), or the finding's quote when unanchored."""
    finding = placement.finding
    if not isinstance(placement, Anchored) or text is None:
        return f"(not anchored on the diff; the code it quotes)\n{finding.quote}"
    lines = split_lines(text)
    first, last = max(1, placement.start - AROUND), min(len(lines), placement.end + AROUND)
    return "\n".join(
        f"{n:>6} {'>' if placement.start <= n <= placement.end else ' '} {lines[n - 1]}"
        for n in range(first, last + 1)
    )


async def verify(
    model: StructuredModel,
    placements: Sequence[Placement],
    *,
    texts: Mapping[str, str | None],
    related: Mapping[str, str],
    policy: PolicySpec,
    concurrency: int,
) -> Verification:
    """Ask for a verdict on each of ``placements`` (the model's findings only); see the module docstring."""
    result = Verification()
    gate = asyncio.Semaphore(concurrency)
    system = render_verify_system()
    chosen = verifying_model(policy)

    async def one(placement: Placement) -> tuple[Placement, Verdict | None]:
        finding = placement.finding
        prompt = render_verify_prompt(
            finding=finding,
            code=code_at(placement, texts.get(placement.path)),
            related=related.get(placement.path, "")[:MAX_RELATED_CHARS],
        )
        try:
            async with gate:
                reply = await model.ask(system=system, prompt=prompt, output=Verdict, model=chosen)
        except PermanentError as exc:
            VERIFICATIONS.labels(verdict="failed").inc()
            log.warning("verification failed for good: the finding is kept", error=str(exc)[:300])
            return placement, None
        result.input_tokens += reply.input_tokens
        result.output_tokens += reply.output_tokens
        result.models.add(reply.model)
        return placement, reply.output

    for placement, verdict in await asyncio.gather(*(one(p) for p in placements)):
        if verdict is None or verdict.keep:
            if verdict is not None:
                VERIFICATIONS.labels(verdict="kept").inc()
            result.kept.append(placement)
        else:
            VERIFICATIONS.labels(verdict="dropped").inc()
            result.dropped.append(DroppedFinding(placement, verdict.reason))
    return result
