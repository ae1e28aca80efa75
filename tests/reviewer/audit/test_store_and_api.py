"""The query store and the read-only API on it: filters, cursor pagination, statistics, records of unknown
versions skipped, re-applied batches stored once, and bearer tokens (401 without a valid one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from argoai_core.models.history import FeedbackCounts, HistoryRecord, Usage
from argoai_core.models.job import RepoRef
from argoai_reviewer.audit.api import build_app
from argoai_reviewer.audit.auth import BearerTokens
from argoai_reviewer.audit.store import Filters, HistoryStore

NOW = datetime.now(UTC)
REPO = RepoRef(host="api.github.com", owner="octo", name="hello")
OTHER = RepoRef(host="api.github.com", owner="octo", name="other")


def record(n: int, outcome: str = "posted", repo: RepoRef = REPO, days_ago: float = 0.0) -> HistoryRecord:
    usage = Usage(findings={"major": 1, "minor": 2}, input_tokens=100, output_tokens=10, cost_usd=0.01)
    return HistoryRecord(
        id=f"r{n}",
        at=NOW - timedelta(days=days_ago, seconds=n),
        outcome=outcome,  # type: ignore[arg-type]
        repo=repo,
        number=n % 5 + 1,
        duration_seconds=float(n),
        usage=usage if outcome == "posted" else None,
    )


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    store = HistoryStore(tmp_path / "h.sqlite3")
    records = [record(n) for n in range(1, 11)]
    records += [record(11, "skipped"), record(12, repo=OTHER), record(13, days_ago=40)]
    closed = FeedbackCounts(findings=8, addressed=4, rejected=2, thumbs_up=3, thumbs_down=1)
    records.append(
        HistoryRecord(id="c14", outcome="skipped", subject="closed", repo=REPO, number=1, feedback=closed)
    )
    store.apply((seq, r.model_dump_json().encode()) for seq, r in enumerate(records, start=1))
    return store


def test_filters_and_cursor_pages_cover_every_record_once(store: HistoryStore) -> None:
    """Pages of 3, newest first, follow the cursor to the end without repeating or missing a record."""
    seen: list[str] = []
    cursor = None
    while True:
        page = store.reviews(
            Filters(repo="octo/hello", since=NOW - timedelta(days=30)), limit=3, cursor=cursor
        )
        seen += [r.id for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["c14", *(f"r{n}" for n in range(1, 12))]
    assert [r.id for r in store.reviews(Filters(outcome="skipped")).records] == ["c14", "r11"]
    assert store.last_applied() == 14


def test_reapplied_and_unknown_records_are_stored_once_or_skipped(store: HistoryStore) -> None:
    """A batch read again is stored once; a record of an unknown version is skipped, its sequence applied."""
    again = record(1).model_dump_json().encode()
    unknown = orjson.dumps({"version": 99, "id": "future", "outcome": "posted"})
    assert store.apply([(1, again), (14, unknown)]) == 0
    assert store.count() == 14
    assert store.last_applied() == 14


def test_api_refuses_without_a_token_and_answers_with_one(store: HistoryStore) -> None:
    """/api/v1/* answers 401 without or with a wrong token; with one: reviews, one record, repos, stats."""
    client = TestClient(build_app(store, BearerTokens([b"secret-token-1", b"secret-token-2"])))
    for path in ("/api/v1/reviews", "/api/v1/reviews/r1", "/api/v1/repos", "/api/v1/dead-letters",
                 "/api/v1/repos/octo/hello/stats"):  # fmt: skip
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get(path, headers={"Authorization": "Basic secret-token-1"}).status_code == 401
    auth = {"Authorization": "Bearer secret-token-2"}
    assert client.get("/healthz").status_code == 200
    assert "/api/v1/reviews" in client.get("/openapi.json").json()["paths"]
    page = client.get("/api/v1/reviews", params={"repo": "octo/hello", "pr": 2}, headers=auth).json()
    assert [item["number"] for item in page["items"]] == [2, 2, 2]
    assert client.get("/api/v1/reviews/r12", headers=auth).json()["repo"]["name"] == "other"
    assert client.get("/api/v1/reviews/missing", headers=auth).status_code == 404
    assert client.get("/api/v1/reviews", params={"cursor": "@@"}, headers=auth).status_code == 400
    assert client.get("/api/v1/reviews", params={"outcome": "exploded"}, headers=auth).status_code == 400
    repos = client.get("/api/v1/repos", headers=auth).json()["items"]
    assert [(r["repo"], r["records"]) for r in repos] == [("octo/hello", 12), ("octo/other", 1)]
    stats = client.get("/api/v1/repos/octo/hello/stats", headers=auth).json()
    assert stats["outcomes"] == {"posted": 10, "skipped": 2}
    assert stats["feedback"] == {
        "pull_requests_closed": 1, "findings": 8, "addressed_rate": 0.5, "rejected_rate": 0.25,
        "thumbs_up": 3, "thumbs_down": 1,
    }  # fmt: skip
    assert stats["findings_by_severity"] == {"major": 10, "minor": 20}
    assert stats["tokens"] == {"input": 1000, "output": 100}
    assert stats["duration_seconds"]["mean"] == 5.5
    assert stats["duration_seconds"]["p95"] == 10.0
    assert sum(day.get("posted", 0) for day in stats["reviews_per_day"]) == 10
