"""Redis adapter of the reviewer: review locks with owner tokens, review state and review history, and the
conversation's state (pull request records, reply ledgers and small counters, the repository's feedback).

Every key starts with ``RedisSettings.key_prefix``; review and PR keys already carry the GitHub host
(``ReviewJob.key`` / ``pr_key``), so two GitHub hosts never share state. A Redis that does not answer raises
:class:`~argoai_core.errors.UnavailableError` (retryable); redis-py reconnects per command, so the reviewer
recovers by itself when Redis returns. Socket timeouts and a pool health check keep a dead connection from
wedging a review.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.typing import EncodableT, FieldT

from argoai_core.errors import UnavailableError
from argoai_core.models.job import RepoRef
from argoai_core.settings import RedisSettings
from argoai_reviewer.domain import ReviewRecord

# Connections per process unless the caller sizes the pool to its concurrency.
POOL_SIZE = 100
# Longest wait for a free pooled connection. Separate from the socket timeouts: a busy event loop returns
# connections late (200 reviews starting at once on one core waited over 2 s), which is no Redis outage.
POOL_WAIT_SECONDS = 10.0
# Retry hint when Redis is unreachable (the pipeline naks the job with it).
RETRY_DELAY_SECONDS = 5.0

_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
)

# Compare-and-delete / compare-and-pexpire: only the owner token may release or extend a lock.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    try:
        yield
    except _UNAVAILABLE as exc:
        raise UnavailableError(
            f"Redis: {what} failed: {type(exc).__name__}: {exc}", delay=RETRY_DELAY_SECONDS
        ) from exc


class RedisConnection:
    """One Redis client (a connection pool) and the key prefix; shared by every adapter of the process."""

    def __init__(self, client: aioredis.Redis, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix

    @classmethod
    def from_settings(
        cls, settings: RedisSettings, *, timeout: float = 2.0, max_connections: int = POOL_SIZE
    ) -> RedisConnection:
        """A client for ``settings.url`` that fails fast (``timeout`` seconds) and recovers on its own."""
        # A blocking pool: hundreds of concurrent reviews share it, and redis-py's default pool raises
        # MaxConnectionsError past 100 connections in use instead of waiting for one to come back.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.url,
            max_connections=max_connections,
            timeout=max(timeout, POOL_WAIT_SECONDS),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            # Check a pooled connection that idled this long before using it: a Redis restart is noticed
            # on first use instead of failing one command.
            health_check_interval=10,
            retry=Retry(ExponentialWithJitterBackoff(cap=timeout, base=0.05), retries=2),
            retry_on_timeout=True,
            client_name="argoai-reviewer",
        )
        client = aioredis.Redis.from_pool(pool)
        return cls(client, settings.key_prefix)

    def key(self, *parts: str) -> str:
        """``<prefix>:<part>:<part>…``."""
        return ":".join((self.key_prefix, *parts))

    async def ping(self) -> None:
        """Check that Redis answers; UnavailableError when it does not."""
        with _unavailable("ping"):
            await self.client.ping()

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.client.aclose()


class RedisReviewLock:
    """:class:`~argoai_reviewer.conversation.ports.ReviewLock` on Redis: ``SET NX PX``, random owner token."""

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis
        self._release = redis.client.register_script(_RELEASE)
        self._extend = redis.client.register_script(_EXTEND)

    def _key(self, key: str) -> str:
        return self._redis.key("lock", key)

    async def acquire(self, key: str, ttl_seconds: float) -> str | None:
        """Take the lock for ``ttl_seconds``; its owner token, or None when another owner holds it."""
        token = secrets.token_hex(16)
        with _unavailable("lock acquire"):
            taken = await self._redis.client.set(self._key(key), token, nx=True, px=_ms(ttl_seconds))
        return token if taken else None

    async def extend(self, key: str, token: str, ttl_seconds: float) -> bool:
        """Reset the lock's expiry to ``ttl_seconds`` if ``token`` still owns it."""
        with _unavailable("lock extend"):
            result = await self._extend(keys=[self._key(key)], args=[token, _ms(ttl_seconds)])
        return bool(result)

    async def release(self, key: str, token: str) -> bool:
        """Delete the lock if ``token`` still owns it (an expired lock another pod took is left alone)."""
        with _unavailable("lock release"):
            result = await self._release(keys=[self._key(key)], args=[token])
        return bool(result)


class RedisReviewState:
    """:class:`~argoai_reviewer.conversation.ports.ReviewState` on Redis: a hash per PR, a set of posted
    fingerprints and
    the ``ignore`` command's flag.

    All expire ``ttl_seconds`` after their last write: a PR untouched that long is reviewed afresh.
    """

    def __init__(self, redis: RedisConnection, *, ttl_seconds: float) -> None:
        self._redis = redis
        self._ttl = _ms(ttl_seconds)

    def _reviewed(self, pr_key: str) -> str:
        return self._redis.key("pr", pr_key, "reviewed")

    def _fingerprints(self, pr_key: str) -> str:
        return self._redis.key("pr", pr_key, "fingerprints")

    def _ignored(self, pr_key: str) -> str:
        return self._redis.key("pr", pr_key, "ignored")

    async def last_reviewed_head(self, pr_key: str) -> str | None:
        """The head SHA of the last review posted on ``pr_key``."""
        with _unavailable("reading the last reviewed head"):
            value = await self._redis.client.hget(self._reviewed(pr_key), "head_sha")
        return _text(value) if value is not None else None

    async def mark_reviewed(self, pr_key: str, head_sha: str, review_id: int) -> None:
        """Record that ``head_sha`` of ``pr_key`` was reviewed by review ``review_id``."""
        key = self._reviewed(pr_key)
        with _unavailable("marking a head reviewed"):
            async with self._redis.client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"head_sha": head_sha, "review_id": str(review_id)})
                pipe.pexpire(key, self._ttl)
                await pipe.execute()

    async def posted_fingerprints(self, pr_key: str) -> set[str]:
        """Fingerprints of the findings already posted on ``pr_key``."""
        with _unavailable("reading posted fingerprints"):
            members = await self._redis.client.smembers(self._fingerprints(pr_key))
        return {_text(member) for member in members}

    async def add_fingerprints(self, pr_key: str, fingerprints: set[str]) -> None:
        """Remember ``fingerprints`` as posted on ``pr_key``."""
        if not fingerprints:
            return
        key = self._fingerprints(pr_key)
        with _unavailable("adding posted fingerprints"):
            async with self._redis.client.pipeline(transaction=True) as pipe:
                pipe.sadd(key, *sorted(fingerprints))
                pipe.pexpire(key, self._ttl)
                await pipe.execute()

    async def is_ignored(self, pr_key: str) -> bool:
        """Whether an ``ignore`` command stopped the reviews of ``pr_key``."""
        with _unavailable("reading the ignore flag"):
            return bool(await self._redis.client.exists(self._ignored(pr_key)))

    async def set_ignored(self, pr_key: str, ignored: bool) -> None:
        """Set (for the state's lifetime) or clear the ignore flag of ``pr_key``."""
        with _unavailable("writing the ignore flag"):
            if ignored:
                await self._redis.client.set(self._ignored(pr_key), "1", px=self._ttl)
            else:
                await self._redis.client.delete(self._ignored(pr_key))


class RedisPullRequestRecords:
    """:class:`~argoai_reviewer.conversation.ports.PullRequestRecords` on Redis: one string per pull request.

    It expires ``ttl_seconds`` after its last write, like the review state; :meth:`expire` shortens the life
    of every key of the pull request (record, review state, ignore flag) once it is closed.
    """

    def __init__(self, redis: RedisConnection, *, ttl_seconds: float) -> None:
        self._redis = redis
        self._ttl = _ms(ttl_seconds)

    def _key(self, pr_key: str) -> str:
        return self._redis.key("pr", pr_key, "conversation")

    async def load(self, pr_key: str) -> str | None:
        """The stored document of ``pr_key``."""
        with _unavailable("reading a pull request record"):
            value = await self._redis.client.get(self._key(pr_key))
        return _text(value) if value is not None else None

    async def save(self, pr_key: str, document: str) -> None:
        """Store the document of ``pr_key`` for the state's lifetime."""
        with _unavailable("writing a pull request record"):
            await self._redis.client.set(self._key(pr_key), document, px=self._ttl)

    async def expire(self, pr_key: str, seconds: float) -> None:
        """Every key of ``pr_key`` expires within ``seconds`` (at most the state's lifetime)."""
        keys = [
            self._redis.key("pr", pr_key, part)
            for part in ("conversation", "reviewed", "fingerprints", "ignored")
        ]
        with _unavailable("expiring a closed pull request's state"):
            async with self._redis.client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.pexpire(key, _ms(min(seconds, self._ttl / 1000)))
                await pipe.execute()


class RedisConversationKeys:
    """:class:`~argoai_reviewer.conversation.ports.ConversationKeys` on Redis, under ``<prefix>:conv:``."""

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis

    def _key(self, key: str) -> str:
        return self._redis.key("conv", key)

    async def get(self, key: str) -> str | None:
        """The value of ``key``, or None."""
        with _unavailable("reading a conversation key"):
            value = await self._redis.client.get(self._key(key))
        return _text(value) if value is not None else None

    async def put(self, key: str, value: str, ttl_seconds: float) -> None:
        """Set ``key`` for ``ttl_seconds``."""
        with _unavailable("writing a conversation key"):
            await self._redis.client.set(self._key(key), value, px=_ms(ttl_seconds))

    async def count(self, key: str, window_seconds: float) -> int:
        """Add one to ``key``; the counter lives ``window_seconds`` from its first count."""
        full = self._key(key)
        with _unavailable("counting"):
            async with self._redis.client.pipeline(transaction=True) as pipe:
                pipe.set(full, 0, px=_ms(window_seconds), nx=True)
                pipe.incr(full)
                _, value = await pipe.execute()
        return int(value)


class RedisRepositoryFeedback:
    """:class:`~argoai_reviewer.conversation.ports.RepositoryFeedback` on Redis: a hash of rejections and a
    hash of counters per repository, kept without expiry (``argoai feedback`` lists and clears them)."""

    # Rejections kept per repository; the oldest (by ``at``) go first beyond it.
    MAX_REJECTIONS = 1000

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis

    def _rejected(self, repo: RepoRef) -> str:
        return self._redis.key("feedback", repo.host, repo.owner, repo.name, "rejected")

    def _counts(self, repo: RepoRef) -> str:
        return self._redis.key("feedback", repo.host, repo.owner, repo.name, "counts")

    async def rejections(self, repo: RepoRef) -> list[str]:
        """Every rejection document of ``repo``."""
        with _unavailable("reading rejected findings"):
            values = await self._redis.client.hvals(self._rejected(repo))
        return [_text(value) for value in values]

    async def reject(self, repo: RepoRef, rejection_id: str, document: str) -> None:
        """Store one rejection (replacing one with the same id)."""
        key = self._rejected(repo)
        with _unavailable("storing a rejected finding"):
            await self._redis.client.hset(key, rejection_id, document)
            if await self._redis.client.hlen(key) > self.MAX_REJECTIONS:
                await self._trim(key)

    async def _trim(self, key: str) -> None:
        entries = {_text(k): _text(v) for k, v in (await self._redis.client.hgetall(key)).items()}

        def at(document: str) -> str:
            try:
                return str(json.loads(document).get("at", ""))
            except ValueError:
                return ""

        oldest = sorted(entries, key=lambda k: at(entries[k]))[: len(entries) - self.MAX_REJECTIONS]
        if oldest:
            await self._redis.client.hdel(key, *oldest)

    async def clear(self, repo: RepoRef, rejection_id: str | None = None) -> int:
        """Forget one rejection (by id or a unique id prefix) or all of them; how many were forgotten."""
        key = self._rejected(repo)
        with _unavailable("clearing rejected findings"):
            if rejection_id is None:
                count = await self._redis.client.hlen(key)
                await self._redis.client.delete(key)
                return int(count)
            ids = [_text(k) for k in await self._redis.client.hkeys(key)]
            matches = [k for k in ids if k == rejection_id] or [k for k in ids if k.startswith(rejection_id)]
            if len(matches) != 1:
                return 0
            return int(await self._redis.client.hdel(key, matches[0]))

    async def add_counts(self, repo: RepoRef, counts: dict[str, int]) -> None:
        """Add to the repository's feedback counters."""
        counts = {name: value for name, value in counts.items() if value}
        if not counts:
            return
        with _unavailable("counting feedback"):
            async with self._redis.client.pipeline(transaction=False) as pipe:
                for name, value in counts.items():
                    pipe.hincrby(self._counts(repo), name, value)
                await pipe.execute()

    async def counts(self, repo: RepoRef) -> dict[str, int]:
        """The repository's feedback counters."""
        with _unavailable("reading feedback counts"):
            values = await self._redis.client.hgetall(self._counts(repo))
        return {_text(k): int(v) for k, v in values.items()}


class RedisTokenBudget:
    """:class:`~argoai_reviewer.conversation.ports.TokenBudget` on Redis: a counter per scope and UTC day."""

    # A day's counter outlives the day a little, so a review finishing after midnight still counts.
    TTL_SECONDS = 2 * 86_400

    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis

    def _key(self, scope: str) -> str:
        return self._redis.key("tokens", scope, datetime.now(UTC).strftime("%Y-%m-%d"))

    async def spent_today(self, scope: str) -> int:
        """Tokens spent today (UTC) in ``scope``."""
        with _unavailable("reading the token budget"):
            value = await self._redis.client.get(self._key(scope))
        return int(value) if value is not None else 0

    async def spend(self, scope: str, tokens: int) -> None:
        """Add ``tokens`` to today's total of ``scope``."""
        if tokens <= 0:
            return
        key = self._key(scope)
        with _unavailable("spending the token budget"):
            async with self._redis.client.pipeline(transaction=True) as pipe:
                pipe.incrby(key, tokens)
                pipe.expire(key, self.TTL_SECONDS)
                await pipe.execute()


class RedisReviewHistory:
    """:class:`~argoai_reviewer.conversation.ports.ReviewHistory` on Redis: a stream of records per repo."""

    def __init__(self, redis: RedisConnection, *, max_per_repo: int) -> None:
        self._redis = redis
        self._max_per_repo = max_per_repo

    def _key(self, repo: RepoRef) -> str:
        return self._redis.key("reviews", repo.host, repo.owner, repo.name)

    async def record(self, record: ReviewRecord) -> None:
        """Append ``record`` to its repository's history (oldest records trimmed beyond the limit)."""
        entry: dict[FieldT, EncodableT] = {
            f.name: _field(getattr(record, f.name)) for f in fields(record) if f.name != "repo"
        }
        with _unavailable("recording a review"):
            await self._redis.client.xadd(
                self._key(record.repo), entry, maxlen=self._max_per_repo, approximate=True
            )

    async def recent(self, repo: RepoRef, count: int = 20) -> list[ReviewRecord]:
        """The latest ``count`` records of ``repo``, newest first."""
        with _unavailable("reading review history"):
            entries = await self._redis.client.xrevrange(self._key(repo), count=count)
        return [
            _record(repo, {_text(k): _text(v) for k, v in (entry or {}).items()})
            for _, entry in entries or []
        ]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _record(repo: RepoRef, fields: dict[str, str]) -> ReviewRecord:
    return ReviewRecord(
        repo=repo,
        number=int(fields["number"]),
        head_sha=fields["head_sha"],
        outcome=fields["outcome"],
        reason=fields.get("reason", ""),
        review_id=int(fields["review_id"]) if fields.get("review_id") else None,
        files_reviewed=int(fields.get("files_reviewed", "0")),
        files_skipped=int(fields.get("files_skipped", "0")),
        input_tokens=int(fields.get("input_tokens", "0")),
        output_tokens=int(fields.get("output_tokens", "0")),
        cost_usd=float(fields.get("cost_usd", "0")),
        duration_seconds=float(fields.get("duration_seconds", "0")),
        findings=int(fields.get("findings", "0")),
        findings_dropped=int(fields.get("findings_dropped", "0")),
        model=fields.get("model", ""),
        delivery_id=fields.get("delivery_id", ""),
        finished_at=datetime.fromisoformat(fields["finished_at"]),
    )
