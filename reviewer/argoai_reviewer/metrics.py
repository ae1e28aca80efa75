"""Prometheus metrics of the reviewer (exported on ``/metrics`` of the reviewer's HTTP port).

Metric objects are module-level, as prometheus-client intends: they are process-wide counters, not settings.

Experiments: the metrics a team compares between variants (reviews, their duration, LLM tokens and cost,
findings, feedback) carry a ``variant`` label, ``none`` outside any experiment. The variant of the job being
handled lives in a context variable: the worker opens a :func:`variant_scope` around each job, the pipeline
sets the variant once it knows the policy (:func:`set_variant`), and every metric updated in that job's tasks
reads it (:func:`variant`). Its values are bounded: variant names are short, at most eight per experiment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

NO_VARIANT = "none"


@dataclass
class _VariantSlot:
    value: str = NO_VARIANT
    experiment: str | None = None


# A mutable slot, so that a variant set inside the pipeline's task is seen by the worker that created it.
_VARIANT: ContextVar[_VariantSlot | None] = ContextVar("argoai_variant", default=None)


@contextmanager
def variant_scope() -> Iterator[None]:
    """Metrics updated in this block (and in tasks started from it) share one variant, ``none`` at first."""
    token = _VARIANT.set(_VariantSlot())
    try:
        yield
    finally:
        _VARIANT.reset(token)


def set_variant(name: str | None, experiment: str | None = None) -> None:
    """The experiment variant of the job being handled (None: not in an experiment)."""
    slot = _VARIANT.get()
    if slot is None:
        slot = _VariantSlot()
        _VARIANT.set(slot)
    slot.value = name or NO_VARIANT
    slot.experiment = experiment if name else None


def experiment_assignment() -> tuple[str, str] | None:
    """``(experiment, variant)`` of the job being handled, None outside an experiment (for its records)."""
    slot = _VARIANT.get()
    if slot is None or slot.experiment is None or slot.value == NO_VARIANT:
        return None
    return slot.experiment, slot.value


def variant() -> str:
    """The ``variant`` label value of the job being handled."""
    slot = _VARIANT.get()
    return slot.value if slot is not None else NO_VARIANT


REVIEWS = Counter(
    "argoai_reviews_total",
    "Review jobs finished, by outcome (posted, skipped, superseded, duplicate, failed, retried) and variant",
    ["outcome", "variant"],
)
REVIEW_SECONDS = Histogram(
    "argoai_review_duration_seconds",
    "Time from taking a review job to its outcome, by experiment variant",
    ["variant"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
REVIEWS_IN_FLIGHT = Gauge("argoai_reviews_in_flight", "Reviews running in this process")
REVIEWS_CANCELLED = Counter(
    "argoai_reviews_cancelled_total",
    "Reviews stopped mid-way because a newer head of their pull request was pushed",
)
JOBS_DEAD_LETTERED = Counter(
    "argoai_jobs_dead_lettered_total",
    "Jobs that failed for good and went to the dead-letter stream",
    ["reason"],
)
LLM_CALLS = Counter("argoai_llm_calls_total", "LLM calls, by model and outcome", ["model", "outcome"])
LLM_TOKENS = Counter(
    "argoai_llm_tokens_total",
    "LLM tokens, by model, direction (input, output; cached_input: the part of input the provider served "
    "from its prompt cache, already counted in input) and experiment variant",
    ["model", "direction", "variant"],
)
LLM_COST = Counter(
    "argoai_llm_cost_usd_total",
    "Estimated LLM cost in US dollars, by model and variant",
    ["model", "variant"],
)
LLM_CACHE = Counter(
    "argoai_llm_cache_total",
    "LLM response cache lookups, by model and result (hit, miss; error: the store failed)",
    ["model", "result"],
)
LLM_CACHE_SAVED_TOKENS = Counter(
    "argoai_llm_cache_saved_tokens_total",
    "LLM tokens not spent because an identical question was answered from the cache, by model and direction",
    ["model", "direction"],
)
LLM_SECONDS = Histogram(
    "argoai_llm_call_duration_seconds",
    "LLM call latency, by model",
    ["model"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120),
)
LLM_TTFT = Histogram(
    "argoai_llm_time_to_first_token_seconds",
    "Time from sending a streamed LLM request to the first chunk carrying output, by model",
    ["model"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120, 300),
)
GITHUB_CALLS = Counter(
    "argoai_github_calls_total", "GitHub API calls, by kind and status", ["kind", "status"]
)
GITHUB_CONDITIONAL = Counter(
    "argoai_github_conditional_total",
    "GitHub GETs by how the ETag cache served them (not_modified: a free 304, modified: a 200 that replaced "
    "the entry, uncached: no ETag known)",
    ["result"],
)
GITHUB_COALESCED = Counter(
    "argoai_github_coalesced_total",
    "GitHub GETs that shared the answer of an identical request already in flight in this process",
)
GITHUB_RATE_REMAINING = Gauge(
    "argoai_github_rate_limit_remaining", "x-ratelimit-remaining last seen, by installation", ["installation"]
)
FINDINGS = Counter(
    "argoai_findings_total",
    "Findings of posted reviews, by severity, placement (exact, reanchored, summary) and variant",
    ["severity", "fate", "variant"],
)
ANCHORING = Counter(
    "argoai_findings_anchoring_total",
    "How findings were anchored (exact, reanchored, summary)",
    ["result"],
)
FILES = Counter(
    "argoai_review_files_total", "Files in reviews, by fate (reviewed, skipped, clipped)", ["fate"]
)
INTAKE = Counter(
    "argoai_intake_webhooks_total",
    "Webhook deliveries seen by the intake, by result (job, duplicate_job, malformed, or a skip reason)",
    ["result"],
)
WEBHOOK_REDELIVERIES = Counter(
    "argoai_webhook_redeliveries_total",
    "Failed webhook deliveries handled by `argoai redeliver`, by outcome (redelivered, rejected, too_old)",
    ["outcome"],
)
REVIEW_FAILURES_NOTIFIED = Counter(
    "argoai_review_failures_notified_total",
    "Reviews that failed for good and were reported on the PR with one comment, by dead-letter reason",
    ["reason"],
)
TOKEN_BUDGET_EXHAUSTED = Counter(
    "argoai_token_budget_exhausted_total",
    "Reviews that ran the built-in checks only because the repository's daily LLM token budget was spent",
    ["repository"],
)
SNAPSHOTS = Counter(
    "argoai_snapshots_total",
    "Repository snapshots asked for, by result (fetched, cached, shared, refused, failed)",
    ["result"],
)
SNAPSHOT_SECONDS = Histogram(
    "argoai_snapshot_fetch_seconds",
    "Time to download and unpack one repository snapshot",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
SNAPSHOT_CACHE_BYTES = Gauge(
    "argoai_snapshot_cache_bytes", "Bytes of unpacked repository snapshots in this process's cache"
)
RELATED_SNIPPETS = Counter(
    "argoai_related_snippets_total",
    "Snippets of unchanged code added to prompts, by kind (definition, caller)",
    ["kind"],
)
AGENT_TOOL_CALLS = Counter(
    "argoai_agent_tool_calls_total",
    "Tool calls of agent mode, by tool and result (ok, error: a bad path or argument, refused: over budget)",
    ["tool", "result"],
)
AGENT_FALLBACKS = Counter(
    "argoai_agent_fallbacks_total",
    "LLM calls of agent mode sent as a related-code prompt instead, because the server has no tool calling",
)
VERIFICATIONS = Counter(
    "argoai_verifications_total",
    "Candidate findings of the model checked by a verification call, by verdict (kept, dropped, failed)",
    ["verdict"],
)
INDEX_SECONDS = Histogram(
    "argoai_index_seconds",
    "Time to find the related code of one review (index lookups and parsing)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
FEEDBACK = Counter(
    "argoai_feedback_total",
    "ArgoAI's inline comments and what became of them, per repository (posted, thumbs_up, thumbs_down, "
    "dismissed, addressed, suppressed) and experiment variant",
    ["repo", "signal", "variant"],
)
COMMANDS = Counter(
    "argoai_commands_total",
    "Comment commands, by command and result (done, refused, disabled, rate_limited, not_ours, failed)",
    ["command", "result"],
)
CHECK_RUNS = Counter("argoai_check_runs_total", "ArgoAI check runs completed, by conclusion", ["conclusion"])
ANALYZER_RUNS = Counter(
    "argoai_analyzer_runs_total",
    "Analyzer processes run, by analyzer and outcome (ok, timed_out, out_of_cpu, out_of_memory, killed, "
    "crashed, bad_output, too_much_output, not_installed)",
    ["analyzer", "outcome"],
)
ANALYZER_SECONDS = Histogram(
    "argoai_analyzer_duration_seconds",
    "Wall time of one analyzer process (a batch of files), by analyzer",
    ["analyzer"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
ANALYZER_FINDINGS = Counter(
    "argoai_analyzer_findings_total",
    "Analyzer findings on changed lines (before the policy's severity thresholds), by analyzer",
    ["analyzer"],
)
SUGGESTION_CHECKS = Counter(
    "argoai_suggestion_checks_total",
    "Suggestions parse-checked before posting, by result (kept, dropped_syntax, dropped_unchecked, "
    "no_parser)",
    ["result"],
)
CIRCUIT_OPEN = Gauge(
    "argoai_circuit_open",
    "1 while the circuit breaker of a dependency (llm:<provider>:<base URL>, github:<host>) is open, as this "
    "process last saw it",
    ["circuit"],
)
CIRCUIT_OPENED = Counter(
    "argoai_circuit_opened_total", "Times this process saw a dependency's circuit breaker open", ["circuit"]
)
REVIEWS_WAITING = Gauge(
    "argoai_reviews_waiting_for_circuit",
    "Reviews of this process holding their job while a dependency's circuit breaker is open",
)
LLM_FALLBACK_CALLS = Counter(
    "argoai_llm_fallback_calls_total", "LLM calls answered by the fallback model while the primary was down"
)
NOTIFICATIONS = Counter(
    "argoai_notifications_total",
    "Notifications, by target, event and outcome (published, not_published, sent, retried, rate_limited, "
    "dead_lettered)",
    ["target", "event", "outcome"],
)
