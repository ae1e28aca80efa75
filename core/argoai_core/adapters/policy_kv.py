"""The policy set in a JetStream key-value bucket: the operator publishes it, every reviewer watches it.

One key (``policy-set``) in bucket ``StreamNames.policy_bucket`` holds the versioned JSON of
:class:`~argoai_core.policy_set.PolicySet`; its KV revision is the policy revision shown in each
ReviewPolicy's status. Publishing the same set twice does not create a revision (handlers are idempotent).

:class:`PolicyWatcher` keeps the latest set in memory: an initial ``get``, then ``kv.watch`` for changes
within milliseconds, plus a periodic ``get`` that catches anything a watch missed (an ordered consumer does
not survive a NATS restart silently) and re-creates the watch. A value that cannot be read is logged and
ignored: reviewers keep the last good set rather than falling back to defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import APIError, BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from argoai_core.adapters.jetstream import (
    STREAM_NAME_IN_USE,
    connect,
    declared_replicas,
    ensure_replicas,
    replica_errors,
)
from argoai_core.errors import InvalidInputError, UnavailableError
from argoai_core.logs import get_logger
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import PolicySet
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames, kv_stream

POLICY_KEY = "policy-set"
# Enough history to see what changed recently (`nats kv history`), small enough to stay tiny.
HISTORY = 10

log = get_logger(__name__)


@contextlib.asynccontextmanager
async def _unavailable(what: str) -> AsyncIterator[None]:
    """Map NATS failures to the one error tree (retryable: NATS comes back)."""
    try:
        yield
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise UnavailableError(f"{what}: {type(exc).__name__}: {exc}") from exc


def policy_bucket_config(names: StreamNames, replicas: int = 1) -> KeyValueConfig:
    """The bucket's configuration (the same from operator and reviewers: creating it is idempotent)."""
    return KeyValueConfig(
        bucket=names.policy_bucket,
        description="ArgoAI effective ReviewPolicy set (written by the operator)",
        history=HISTORY,
        storage=StorageType.FILE,
        replicas=replicas,
    )


async def ensure_policy_bucket(
    js: JetStreamContext, names: StreamNames, *, replicas: int | None = None
) -> KeyValue:
    """Open the policy bucket, creating it when missing and bringing it to ``replicas`` copies (default:
    the count ``js`` declares, ARGOAI_NATS_REPLICAS); safe to call from every pod at once."""
    replicas = replicas if replicas is not None else declared_replicas(js)
    bucket = names.policy_bucket
    async with _unavailable(f"policy bucket {bucket}"):
        with replica_errors(f"KV bucket {bucket}", replicas):
            try:
                kv = await js.key_value(bucket)
            except BucketNotFoundError:
                try:
                    return await js.create_key_value(policy_bucket_config(names, replicas or 1))
                except APIError as exc:
                    if exc.err_code != STREAM_NAME_IN_USE:
                        raise
                # Another pod created it between our lookup and our create.
                kv = await js.key_value(bucket)
        await ensure_replicas(js, kv_stream(bucket), replicas)
        return kv


async def publish_policy_set(js: JetStreamContext, names: StreamNames, policy_set: PolicySet) -> int:
    """Store ``policy_set``; return its revision (the current one, unchanged, when the value is the same)."""
    kv = await ensure_policy_bucket(js, names)
    value = policy_set.to_json()
    async with _unavailable("publishing the policy set"):
        try:
            current = await kv.get(POLICY_KEY)
        except KeyNotFoundError:
            current = None
        if current is not None and current.value == value and current.revision is not None:
            return current.revision
        return await kv.put(POLICY_KEY, value)


class PolicyPublisher:
    """The operator's handle on the bucket: owns its NATS connection."""

    def __init__(self, client: Client, names: StreamNames) -> None:
        self._client = client
        self._js = client.jetstream()
        self._names = names

    @classmethod
    async def connect(cls, settings: NatsSettings) -> PolicyPublisher:
        """Connect to NATS and make sure the bucket exists; UnavailableError when NATS does not answer."""
        async with _unavailable(f"connecting to NATS at {settings.url}"):
            client = await connect(settings, name="argoai-operator")
        publisher = cls(client, StreamNames(settings.prefix))
        await ensure_policy_bucket(publisher._js, publisher._names)
        return publisher

    async def publish(self, policy_set: PolicySet) -> int:
        """Store ``policy_set``; return its revision."""
        return await publish_policy_set(self._js, self._names, policy_set)

    async def close(self) -> None:
        """Flush and close the connection."""
        with contextlib.suppress(nats.errors.Error):
            await self._client.drain()


class PolicyWatcher:
    """Keeps the latest published PolicySet in memory, following the bucket."""

    def __init__(self, js: JetStreamContext, names: StreamNames, *, resync_seconds: float = 10.0) -> None:
        self._js = js
        self._names = names
        self._resync = resync_seconds
        self._set = PolicySet()
        self._revision = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    @property
    def policy_set(self) -> PolicySet:
        """The latest good set (empty — built-in defaults everywhere — before anything is published)."""
        return self._set

    @property
    def revision(self) -> int:
        """KV revision of :attr:`policy_set` (0 before anything is published)."""
        return self._revision

    async def start(self) -> None:
        """Load the current set (best effort: NATS may be down) and follow changes in the background."""
        with contextlib.suppress(UnavailableError):
            await self._load(await ensure_policy_bucket(self._js, self._names))
        self._task = asyncio.create_task(self._run(), name="policy-watcher")

    async def stop(self) -> None:
        """Stop following changes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wait_for_revision(self, revision: int) -> PolicySet:
        """Wait until revision ``revision`` (or a later one) is loaded (bound it with ``asyncio.timeout``)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._revision >= revision)
            return self._set

    async def _apply(self, entry: KeyValue.Entry) -> bool:
        """Take ``entry`` when it is newer; False when it is older or unreadable."""
        revision = entry.revision or 0
        if revision <= self._revision:
            return False
        if entry.operation in (KV_DEL, KV_PURGE):
            policy_set = PolicySet()
        else:
            try:
                policy_set = PolicySet.from_json(entry.value or b"")
            except InvalidInputError as exc:
                log.error(
                    "policy set unreadable; keeping the last good one", revision=revision, error=str(exc)
                )
                return False
        async with self._changed:
            self._set, self._revision = policy_set, revision
            self._changed.notify_all()
        log.info("policy set loaded", revision=revision, policies=len(policy_set))
        return True

    async def _load(self, kv: KeyValue) -> bool:
        """Read the key directly; True when that found a newer revision (the watch had missed it)."""
        async with _unavailable("reading the policy set"):
            try:
                entry = await kv.get(POLICY_KEY)
            except KeyNotFoundError:  # never published, or deleted
                return False
        return await self._apply(entry)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                kv = await ensure_policy_bucket(self._js, self._names)
                async with _unavailable("watching the policy set"):
                    watcher = await kv.watch(POLICY_KEY)
                try:
                    await self._follow(kv, watcher)
                finally:
                    with contextlib.suppress(Exception):
                        await watcher.stop()  # type: ignore[no-untyped-call]
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - top-level loop: keep following whatever failed
                log.warning("policy watch failed; retrying", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._resync)

    async def _follow(self, kv: KeyValue, watcher: KeyValue.KeyWatcher) -> None:
        """Apply watch updates; after ``resync`` quiet seconds re-read the key, re-watch if we missed one."""
        while True:
            try:
                # asyncio.timeout, not watcher.updates(timeout=): that one's wait_for could swallow our
                # cancellation on Python 3.11 and hang stop().
                async with asyncio.timeout(self._resync):
                    entry = await anext(watcher)
            except TimeoutError:
                if await self._load(kv):
                    return  # the watch missed a change: start a fresh one
                continue
            except StopAsyncIteration:
                return
            if entry is not None:  # None marks the end of the initial values
                await self._apply(entry)


class KvPolicyProvider:
    """The reviewer's ``PolicyProvider`` backed by a :class:`PolicyWatcher` (no I/O per job)."""

    def __init__(self, watcher: PolicyWatcher) -> None:
        self._watcher = watcher

    def policy_for(self, repo: RepoRef) -> PolicySpec:
        """The effective policy for ``repo`` in the latest published set."""
        return self._watcher.policy_set.resolve(repo.owner, repo.name)
