"""Per-repository statistics over a window, computed from the query store's rows: reviews per day, findings
by severity, tokens and cost, mean and 95th-percentile duration of the reviews that ran.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from argoai_reviewer.audit.store import SEVERITIES, HistoryStore

EPOCH = date(1970, 1, 1)


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def repo_stats(store: HistoryStore, repo: str, since: datetime, until: datetime) -> dict[str, Any]:
    """The statistics of ``repo`` in [``since``, ``until``)."""
    per_day: dict[str, dict[str, int]] = {}
    outcomes: dict[str, int] = {}
    findings = dict.fromkeys(SEVERITIES, 0)
    input_tokens = output_tokens = 0
    cost = 0.0
    for day_number, outcome, count, tokens_in, tokens_out, spent, *found in store.stats_by_day(
        repo, since, until
    ):
        day = (EPOCH + timedelta(days=day_number)).isoformat()
        per_day.setdefault(day, {})[outcome] = count
        outcomes[outcome] = outcomes.get(outcome, 0) + count
        input_tokens += tokens_in or 0
        output_tokens += tokens_out or 0
        cost += spent or 0.0
        for severity, n in zip(SEVERITIES, found, strict=True):
            findings[severity] += n or 0
    durations = store.durations(repo, since, until)
    closed, tracked, addressed, rejected, thumbs_up, thumbs_down = store.feedback(repo, since, until)
    return {
        "repo": repo,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "outcomes": outcomes,
        "reviews_per_day": [{"day": day, **counts} for day, counts in sorted(per_day.items())],
        "findings_by_severity": {severity: n for severity, n in findings.items() if n},
        "tokens": {"input": input_tokens, "output": output_tokens},
        "cost_usd": round(cost, 6),
        # Known once pull requests are closed (reactions are read then): None without any tracked finding.
        "feedback": {
            "pull_requests_closed": closed,
            "findings": tracked,
            "addressed_rate": round(addressed / tracked, 4) if tracked else None,
            "rejected_rate": round(rejected / tracked, 4) if tracked else None,
            "thumbs_up": thumbs_up,
            "thumbs_down": thumbs_down,
        },
        "duration_seconds": {
            "mean": round(sum(durations) / len(durations), 3) if durations else None,
            "p95": percentile(durations, 0.95),
            "reviews": len(durations),
        },
    }
