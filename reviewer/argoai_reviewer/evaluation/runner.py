"""Run a dataset's cases under one or more variants and collect what each review found, cost and took.

Every case is reviewed by :func:`argoai_reviewer.local.review.review_local` — the code path of ``argoai
review``, which shares :func:`~argoai_reviewer.analysis.review.analyze` with GitHub reviews — under the
variant's policy, so whatever the policy turns on (related context, and any later review mode set there)
applies here too. Only the findings a GitHub review would post count (at or above the policy's minimum
severity, per analyzer as well).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import BaseModel, Field

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.analyzers import min_severity_for
from argoai_reviewer.analysis.anchoring import Placement
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.analysis.review import AnalysisOptions, Progress
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.evaluation.dataset import Case, GoldenComment, materialize
from argoai_reviewer.evaluation.matching import DEFAULT_LINE_WINDOW, Candidate, Judge, match
from argoai_reviewer.evaluation.scoring import Scores
from argoai_reviewer.local.review import review_local
from argoai_reviewer.workspace.store import SnapshotLimits

REPORT_VERSION = 1


@dataclass(frozen=True)
class Variant:
    """One setup to evaluate: a policy, a model (None: the policy's or the configured one), a prompt dir."""

    name: str
    policy: PolicySpec
    model: str | None = None
    prompts: Path | None = None
    policy_file: Path | None = None

    @property
    def effective_policy(self) -> PolicySpec:
        """The policy with the variant's model when it names one (the analysis asks for the policy's)."""
        return self.policy if self.model is None else self.policy.model_copy(update={"model": self.model})


class FindingReport(BaseModel):
    """A finding of a case's review, and whether it matched a golden comment."""

    path: str
    start: int
    end: int
    severity: str
    source: str
    title: str
    matched: bool


class CaseReport(BaseModel):
    """One case reviewed under one variant."""

    case: str
    kind: str
    scores: Scores
    precision: float | None
    recall: float | None
    f1: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    seconds: float
    llm_calls: int
    related_snippets: int
    unjudged: int = Field(description="Golden comments without a place that no judge could decide")
    findings: list[FindingReport]
    missed: list[GoldenComment]


class VariantReport(BaseModel):
    """A variant's cases and totals (precision/recall/F1 pooled over the cases' counts)."""

    name: str
    policy_file: str | None
    model: str | None
    prompts: str | None
    cases: list[CaseReport]
    scores: Scores
    precision: float | None
    recall: float | None
    f1: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    seconds: float


class EvalReport(BaseModel):
    """What ``argoai eval --json`` prints (versioned: fields are only ever added)."""

    version: int = REPORT_VERSION
    dataset: str
    line_window: int
    variants: list[VariantReport]
    judge_model: str | None = None
    judge_calls: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0
    judge_cost_usd: float = 0.0


@dataclass(frozen=True)
class EvalSetup:
    """What every case's review needs, shared by the variants."""

    model: ReviewModel | None
    counter_for: Callable[[str | None], TokenCounter]  # a token counter for a model name
    options: AnalysisOptions
    cost: Callable[[int, int], float]  # US dollars for (input, output) tokens
    snapshot: SnapshotLimits | None = None
    judge: Judge | None = None
    line_window: int = DEFAULT_LINE_WINDOW


def _candidates(placements: Sequence[Placement], policy: PolicySpec) -> list[Candidate]:
    """The findings a GitHub review would post: at or above the policy's (and their analyzer's) minimum."""
    return [
        Candidate.of(p)
        for p in placements
        if p.finding.severity.rank <= min_severity_for(p.finding, policy).rank
    ]


async def run_case(case: Case, variant: Variant, setup: EvalSetup, progress: Progress) -> CaseReport:
    """Review ``case`` under ``variant`` and score its findings."""
    policy = variant.effective_policy
    options = replace(setup.options, prompts=variant.prompts)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="argoai-eval-") as directory:
        checkout = await materialize(case, Path(directory))
        review = await review_local(
            checkout.repo,
            checkout.base,
            checkout.head,
            policy=policy,
            model=setup.model,
            counter=setup.counter_for(policy.model),
            options=options,
            progress=progress,
            snapshot=setup.snapshot,
        )
    analysis = review.analysis
    candidates = _candidates(analysis.placements, policy)
    matching = await match(case.spec.golden, candidates, window=setup.line_window, judge=setup.judge)
    seconds = time.perf_counter() - started
    scores = Scores(
        findings=len(candidates),
        true_positives=matching.true_positives,
        goldens=len(case.spec.golden),
        found=matching.found,
    )
    hit = {c for c, _ in matching.pairs}
    return CaseReport(
        case=case.name,
        kind=case.spec.kind,
        scores=scores,
        precision=scores.precision,
        recall=scores.recall,
        f1=scores.f1,
        input_tokens=analysis.input_tokens,
        output_tokens=analysis.output_tokens,
        cost_usd=setup.cost(analysis.input_tokens, analysis.output_tokens),
        seconds=round(seconds, 3),
        llm_calls=analysis.calls,
        related_snippets=analysis.coverage.related_snippets,
        unjudged=matching.unjudged,
        findings=[
            FindingReport(
                path=c.path,
                start=c.start,
                end=c.end,
                severity=c.severity.value,
                source=c.source,
                title=c.title,
                matched=index in hit,
            )
            for index, c in enumerate(candidates)
        ],
        missed=matching.missed(),
    )


def _prefixed(progress: Progress, prefix: str) -> Progress:
    def report(message: str) -> None:
        progress(f"{prefix}: {message}")

    return report


async def run_variant(
    cases: Sequence[Case], variant: Variant, setup: EvalSetup, progress: Progress
) -> VariantReport:
    """Every case under ``variant``, one after the other (a case's own LLM calls run concurrently)."""
    reports: list[CaseReport] = []
    for number, case in enumerate(cases, start=1):
        prefix = f"[{variant.name} {number}/{len(cases)}] {case.name}"
        progress(f"{prefix}: reviewing")
        report = await run_case(case, variant, setup, _prefixed(progress, prefix))
        progress(
            f"{prefix}: {report.scores.true_positives}/{report.scores.findings} finding(s) matched, "
            f"{report.scores.found}/{report.scores.goldens} golden comment(s) found ({report.seconds:.1f} s)"
        )
        reports.append(report)
    total = sum((r.scores for r in reports), Scores())
    return VariantReport(
        name=variant.name,
        policy_file=str(variant.policy_file) if variant.policy_file else None,
        model=variant.model,
        prompts=str(variant.prompts) if variant.prompts else None,
        cases=reports,
        scores=total,
        precision=total.precision,
        recall=total.recall,
        f1=total.f1,
        input_tokens=sum(r.input_tokens for r in reports),
        output_tokens=sum(r.output_tokens for r in reports),
        cost_usd=sum(r.cost_usd for r in reports),
        seconds=round(sum(r.seconds for r in reports), 3),
    )


async def run_eval(
    dataset: Path, cases: Sequence[Case], variants: Sequence[Variant], setup: EvalSetup, progress: Progress
) -> EvalReport:
    """Every variant over the same ``cases``."""
    return EvalReport(
        dataset=str(dataset),
        line_window=setup.line_window,
        variants=[await run_variant(cases, variant, setup, progress) for variant in variants],
    )
