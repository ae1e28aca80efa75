"""The query store: a SQLite file (stdlib ``sqlite3``, WAL) holding the history records read from the stream.

The stream is the system of record; this file is a disposable index of it. Each batch of records and the last
stream sequence applied are written in one transaction, so a reader that stops anywhere resumes from the
next sequence, and a deleted file is rebuilt by replaying the stream from its first record.

Rows keep the record's JSON document, plus the columns the queries filter and aggregate on, with indexes on
(repository, time), (outcome, time) and time. Pagination is by cursor (time, sequence), newest first.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from argoai_core.errors import ConfigError, InvalidInputError
from argoai_core.logs import get_logger
from argoai_core.models.history import HISTORY_VERSIONS, HistoryRecord

log = get_logger(__name__)

# Bumped when the tables change: a store of another version is dropped and rebuilt from the stream.
SCHEMA_VERSION = 2
SEVERITIES = ("critical", "major", "minor", "nit")
SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at REAL NOT NULL,
    outcome TEXT NOT NULL,
    subject TEXT NOT NULL,
    repo TEXT,
    number INTEGER,
    duration REAL,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0,
    critical INTEGER NOT NULL DEFAULT 0,
    major INTEGER NOT NULL DEFAULT 0,
    minor INTEGER NOT NULL DEFAULT 0,
    nit INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_repo_at ON records (repo, at, seq);
-- Covers the statistics of one repository over a window: no table lookups.
CREATE INDEX IF NOT EXISTS records_repo_stats ON records (
    repo, at, outcome, duration, input_tokens, output_tokens, cost, critical, major, minor, nit
);
CREATE INDEX IF NOT EXISTS records_outcome_at ON records (outcome, at, seq);
CREATE INDEX IF NOT EXISTS records_at ON records (at, seq);
CREATE TABLE IF NOT EXISTS applied (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL);
"""
MAX_PAGE = 500


@dataclass(frozen=True)
class Filters:
    """Which records a query wants (every field optional)."""

    repo: str | None = None
    number: int | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Page:
    """One page of records, newest first, and the cursor of the next page (None: this was the last)."""

    records: list[HistoryRecord]
    next_cursor: str | None


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def encode_cursor(at: float, seq: int) -> str:
    """An opaque cursor for the record at (``at``, ``seq``)."""
    return base64.urlsafe_b64encode(f"{at!r}:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    """(time, sequence) of ``cursor``; InvalidInputError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, seq = raw.split(":")
        return float(at), int(seq)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("cursor: not a cursor this API returned") from None


class HistoryStore:
    """The SQLite query store at ``path`` (created with its directory when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = self._connect()
            try:
                db.execute("PRAGMA journal_mode=WAL")
                if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    # A disposable index of the stream: rebuilt rather than migrated.
                    db.executescript("DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS applied;")
                    db.executescript(SCHEMA)
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            finally:
                db.close()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"ARGOAI_HISTORY_STORE: cannot use {path}: {exc}") from None
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache per connection: index pages stay in memory when a large store is written to.
        db.execute("PRAGMA cache_size=-65536")
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections are not shared between threads)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = self._connect()
            self._local.db = db
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def last_applied(self) -> int:
        """The last stream sequence applied (0: none)."""
        row = self._db.execute("SELECT seq FROM applied WHERE one = 1").fetchone()
        return int(row[0]) if row else 0

    def apply(self, batch: Iterable[tuple[int, bytes]]) -> int:
        """Store the (sequence, body) pairs of one batch and its last sequence, in one transaction.

        A body that is not a history record this code reads (an unknown version, damaged JSON) is skipped
        with a log line; its sequence still counts as applied. Returns the records newly stored.
        """
        rows = []
        last: int | None = None
        for sequence, data in batch:
            last = sequence if last is None else max(last, sequence)
            record = _decode(sequence, data)
            if record is not None:
                rows.append(_row(sequence, record, data))
        if last is None:
            return 0
        with self._transaction() as db:
            inserted = db.executemany(
                "INSERT OR IGNORE INTO records (seq, id, at, outcome, subject, repo, number, duration, "
                "input_tokens, output_tokens, cost, critical, major, minor, nit, doc) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            ).rowcount
            db.execute(
                "INSERT INTO applied (one, seq) VALUES (1, ?) ON CONFLICT (one) DO UPDATE SET seq = "
                "max(seq, excluded.seq)",
                (last,),
            )
        return max(0, inserted)

    def forget_applied(self) -> None:
        """Read the stream again from its first record next time (records already stored are kept once)."""
        self._db.execute("DELETE FROM applied")

    def count(self) -> int:
        """Records stored."""
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def reviews(self, filters: Filters, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Records matching ``filters``, newest first, ``limit`` at a time from ``cursor``."""
        limit = max(1, min(limit, MAX_PAGE))
        where, params = _where(filters)
        if cursor is not None:
            at, seq = decode_cursor(cursor)
            where.append("(at < ? OR (at = ? AND seq < ?))")
            params += [at, at, seq]
        sql = "SELECT seq, at, doc FROM records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, seq DESC LIMIT ?"
        rows = self._db.execute(sql, [*params, limit + 1]).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        records = [HistoryRecord.model_validate_json(doc) for _, _, doc in rows]
        next_cursor = encode_cursor(rows[-1][1], rows[-1][0]) if more and rows else None
        return Page(records, next_cursor)

    def get(self, record_id: str) -> HistoryRecord | None:
        """The record with id ``record_id``, or None."""
        row = self._db.execute("SELECT doc FROM records WHERE id = ?", (record_id,)).fetchone()
        return HistoryRecord.model_validate_json(row[0]) if row else None

    def repos(self, since: datetime, limit: int = 20) -> list[dict[str, object]]:
        """The most active repositories since ``since``: records and reviews posted, most records first."""
        rows = self._db.execute(
            "SELECT repo, count(*) AS n, sum(outcome = 'posted'), max(at) FROM records "
            "WHERE at >= ? AND repo IS NOT NULL GROUP BY repo ORDER BY n DESC, repo LIMIT ?",
            (_epoch(since), max(1, min(limit, MAX_PAGE))),
        ).fetchall()
        return [
            {
                "repo": repo,
                "records": n,
                "posted": int(posted or 0),
                "last_at": datetime.fromtimestamp(last, UTC).isoformat(),
            }
            for repo, n, posted, last in rows
        ]

    def stats_by_day(self, repo: str, since: datetime, until: datetime) -> list[tuple[Any, ...]]:
        """Per day (days since the epoch) and outcome of ``repo`` in [``since``, ``until``): records, input
        and output tokens, cost, and findings by severity (:data:`SEVERITIES`)."""
        return self._db.execute(
            "SELECT CAST(at / 86400 AS INTEGER) AS day, outcome, count(*), sum(input_tokens), "
            "sum(output_tokens), sum(cost), sum(critical), sum(major), sum(minor), sum(nit) FROM records "
            "WHERE repo = ? AND at >= ? AND at < ? GROUP BY day, outcome",
            (repo, _epoch(since), _epoch(until)),
        ).fetchall()

    def feedback(self, repo: str, since: datetime, until: datetime) -> tuple[int, ...]:
        """Sums of the feedback counts (findings, addressed, rejected, 👍, 👎) of ``repo``'s pull requests
        closed in [``since``, ``until``)."""
        row = self._db.execute(
            "SELECT count(*), sum(json_extract(doc, '$.feedback.findings')), "
            "sum(json_extract(doc, '$.feedback.addressed')), "
            "sum(json_extract(doc, '$.feedback.rejected')), "
            "sum(json_extract(doc, '$.feedback.thumbs_up')), "
            "sum(json_extract(doc, '$.feedback.thumbs_down')) "
            # The repository's index, not the outcome's: "skipped" spans every repository.
            "FROM records INDEXED BY records_repo_stats WHERE repo = ? AND at >= ? AND at < ? "
            "AND outcome = 'skipped' AND subject = 'closed'",
            (repo, _epoch(since), _epoch(until)),
        ).fetchone()
        return tuple(int(value or 0) for value in row)

    def durations(self, repo: str, since: datetime, until: datetime) -> list[float]:
        """Durations of ``repo``'s reviews that ran to the end (posted, updated) in [``since``, ``until``)."""
        rows = self._db.execute(
            "SELECT duration FROM records WHERE repo = ? AND at >= ? AND at < ? "
            "AND outcome IN ('posted', 'updated') AND duration IS NOT NULL",
            (repo, _epoch(since), _epoch(until)),
        ).fetchall()
        return [row[0] for row in rows]


def _where(filters: Filters) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if filters.repo is not None:
        where.append("repo = ?")
        params.append(filters.repo)
    if filters.number is not None:
        where.append("number = ?")
        params.append(filters.number)
    if filters.outcome is not None:
        where.append("outcome = ?")
        params.append(filters.outcome)
    if filters.since is not None:
        where.append("at >= ?")
        params.append(_epoch(filters.since))
    if filters.until is not None:
        where.append("at < ?")
        params.append(_epoch(filters.until))
    return where, params


def _decode(sequence: int, data: bytes) -> HistoryRecord | None:
    try:
        record = HistoryRecord.model_validate_json(data)
    except ValidationError as exc:
        version = _version(data)
        if version not in HISTORY_VERSIONS:
            log.warning(
                "history record skipped: a version this code does not read", seq=sequence, version=version
            )
            return None
        log.warning("history record skipped: not valid", seq=sequence, error=str(exc)[:200])
        return None
    return record


def _version(data: bytes) -> object:
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return document.get("version") if isinstance(document, dict) else None


def _row(sequence: int, record: HistoryRecord, data: bytes) -> tuple[object, ...]:
    usage = record.usage
    return (
        sequence,
        record.id,
        _epoch(record.at),
        record.outcome,
        record.subject,
        record.repo_name or None,
        record.number,
        record.duration_seconds,
        usage.input_tokens if usage else 0,
        usage.output_tokens if usage else 0,
        usage.cost_usd if usage else 0.0,
        *((usage.findings.get(severity, 0) if usage else 0) for severity in SEVERITIES),
        # The document as published (already validated): re-serialising it would double the cost of a write.
        data.decode(),
    )
