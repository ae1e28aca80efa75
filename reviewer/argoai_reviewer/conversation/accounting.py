"""Accounting of reviews: the daily LLM token budget, and what a posted review cost and found.

Kept apart from the pipeline's control flow: these are bookkeeping rules (metrics, the review history, the
per-repository budget), not decisions about what to post.
"""

from __future__ import annotations

from argoai_core.logs import get_logger
from argoai_core.models.history import Usage
from argoai_core.models.job import ReviewJob
from argoai_core.models.policy import PolicySpec
from argoai_reviewer import metrics
from argoai_reviewer.analysis.anchoring import Anchored
from argoai_reviewer.analysis.model import ReviewModel
from argoai_reviewer.analysis.review import Analysis
from argoai_reviewer.conversation.ports import TokenBudget
from argoai_reviewer.domain import ReviewRecord

log = get_logger(__name__)


def budget_scope(job: ReviewJob) -> str:
    """The policy's token budget is per repository (per GitHub host)."""
    return f"{job.repo.host}/{job.repo.full_name}"


async def llm_within_budget(
    budget: TokenBudget, model: ReviewModel | None, job: ReviewJob, policy: PolicySpec
) -> tuple[ReviewModel | None, str]:
    """``model``, unless the repository's daily token budget is spent: then None and a summary note."""
    limit = policy.token_budget_per_day
    if model is None or limit is None:
        return model, ""
    spent = await budget.spent_today(budget_scope(job))
    if spent < limit:
        return model, ""
    log.info("daily token budget spent: built-in checks only", key=job.key, spent=spent, limit=limit)
    metrics.TOKEN_BUDGET_EXHAUSTED.labels(repository=job.repo.full_name).inc()
    return None, (
        f"The repository's daily LLM token budget ({limit:,} tokens) is spent: only ArgoAI's built-in "
        "checks ran on this change."
    )


def count_review(analysis: Analysis) -> None:
    """Add a posted review's findings, anchoring results and files to the metrics."""
    for placement in analysis.placements:
        how = placement.how.value if isinstance(placement, Anchored) else "summary"
        metrics.ANCHORING.labels(how).inc()
        metrics.FINDINGS.labels(placement.finding.severity.value, how, metrics.variant()).inc()
    metrics.FILES.labels("reviewed").inc(len(analysis.coverage.reviewed))
    metrics.FILES.labels("skipped").inc(len(analysis.selection.skipped))
    metrics.FILES.labels("clipped").inc(len(analysis.coverage.clipped))


def review_record(
    job: ReviewJob, analysis: Analysis, review_id: int | None, seconds: float, cost_usd: float
) -> ReviewRecord:
    """The history entry of a finished review: ``posted`` (a review with its id) or ``updated`` (nothing new
    to post: only the summary comment and the check run changed)."""
    return ReviewRecord(
        repo=job.repo,
        number=job.number,
        head_sha=job.head_sha,
        outcome="posted" if review_id is not None else "updated",
        review_id=review_id,
        files_reviewed=len(analysis.coverage.reviewed),
        files_skipped=len(analysis.selection.skipped),
        input_tokens=analysis.input_tokens,
        output_tokens=analysis.output_tokens,
        cost_usd=cost_usd,
        duration_seconds=seconds,
        findings=len(analysis.placements),
        findings_dropped=len(analysis.dropped),
        model=",".join(sorted(analysis.models)),
        delivery_id=job.delivery_id,
    )


def review_usage(analysis: Analysis, review_id: int | None, cost_usd: float) -> Usage:
    """What a finished review cost and found, for the audit history: findings by severity, tokens, model."""
    findings: dict[str, int] = {}
    for placement in analysis.placements:
        severity = placement.finding.severity.value
        findings[severity] = findings.get(severity, 0) + 1
    return Usage(
        findings=findings,
        input_tokens=analysis.input_tokens,
        output_tokens=analysis.output_tokens,
        cost_usd=cost_usd,
        model=",".join(sorted(analysis.models)),
        files_reviewed=len(analysis.coverage.reviewed),
        review_id=review_id,
    )
