"""Per-repository statistics over a window, computed from the query store's rows: reviews per day, findings
by severity, tokens and cost, mean and 95th-percentile duration of the reviews that ran.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from argoai_reviewer.audit.store import HistoryStore

# Outcomes of a review that ran to its end (the ones with a duration worth comparing).
REVIEWED = ("posted", "updated")


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
    findings: dict[str, int] = {}
    durations: list[float] = []
    input_tokens = output_tokens = 0
    cost = 0.0
    for at, outcome, duration, tokens_in, tokens_out, spent, found in store.stats_rows(repo, since, until):
        day = datetime.fromtimestamp(at, UTC).date().isoformat()
        per_day.setdefault(day, {})
        per_day[day][outcome] = per_day[day].get(outcome, 0) + 1
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        input_tokens += tokens_in
        output_tokens += tokens_out
        cost += spent
        if found:
            for severity, count in orjson.loads(found).items():
                findings[severity] = findings.get(severity, 0) + int(count)
        if outcome in REVIEWED and duration is not None:
            durations.append(duration)
    return {
        "repo": repo,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "outcomes": outcomes,
        "reviews_per_day": [{"day": day, **counts} for day, counts in sorted(per_day.items())],
        "findings_by_severity": findings,
        "tokens": {"input": input_tokens, "output": output_tokens},
        "cost_usd": round(cost, 6),
        "duration_seconds": {
            "mean": round(sum(durations) / len(durations), 3) if durations else None,
            "p95": percentile(durations, 0.95),
            "reviews": len(durations),
        },
    }
