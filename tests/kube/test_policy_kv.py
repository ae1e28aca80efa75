"""Publishing the policy set to the JetStream KV bucket and following it, on a real nats-server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client

from argoai_cli.local_services import LocalProcess
from argoai_core.adapters.jetstream import connect
from argoai_core.adapters.policy_kv import (
    POLICY_KEY,
    KvPolicyProvider,
    PolicyPublisher,
    PolicyWatcher,
    ensure_policy_bucket,
    publish_policy_set,
)
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import NamedPolicy, PolicySet
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames


async def wait(watcher: PolicyWatcher, revision: int, seconds: float) -> PolicySet:
    async with asyncio.timeout(seconds):
        return await watcher.wait_for_revision(revision)


def policies(max_comments: int) -> PolicySet:
    return PolicySet.of(
        [NamedPolicy("ops/acme", PolicySpec(scope={"orgs": ["acme"]}, max_comments=max_comments))]
    )


@pytest.fixture
async def client(nats_settings: NatsSettings) -> AsyncIterator[Client]:
    nc = await connect(nats_settings, name="test")
    yield nc
    await nc.close()


async def test_watcher_sees_a_new_revision_within_a_second(
    client: Client, nats_settings: NatsSettings
) -> None:
    """A published set reaches a running watcher (through kv.watch) in well under a second."""
    names = StreamNames(nats_settings.prefix)
    watcher = PolicyWatcher(client.jetstream(), names, resync_seconds=30)
    await watcher.start()
    try:
        assert watcher.revision == 0
        assert len(watcher.policy_set) == 0
        started = time.monotonic()
        revision = await publish_policy_set(client.jetstream(), names, policies(7))
        seen = await wait(watcher, revision, 1.0)
        assert time.monotonic() - started < 1.0
        assert seen.resolve("acme", "x").max_comments == 7
        second = await publish_policy_set(client.jetstream(), names, policies(9))
        assert second > revision
        await wait(watcher, second, 1.0)
        provider = KvPolicyProvider(watcher)
        assert provider.policy_for(RepoRef(host="h", owner="acme", name="x")).max_comments == 9
        assert provider.policy_for(RepoRef(host="h", owner="other", name="x")) == PolicySpec()
    finally:
        await watcher.stop()


async def test_publishing_the_same_set_keeps_the_revision(
    client: Client, nats_settings: NatsSettings
) -> None:
    """Re-publishing an identical set returns the existing revision instead of writing a new one."""
    names = StreamNames(nats_settings.prefix)
    first = await publish_policy_set(client.jetstream(), names, policies(3))
    again = await publish_policy_set(client.jetstream(), names, policies(3))
    assert again == first
    kv = await ensure_policy_bucket(client.jetstream(), names)
    assert len(await kv.history(POLICY_KEY)) == 1


async def test_watcher_loads_the_existing_set_at_start(client: Client, nats_settings: NatsSettings) -> None:
    """A watcher started after a publish has the set as soon as start() returns."""
    names = StreamNames(nats_settings.prefix)
    revision = await publish_policy_set(client.jetstream(), names, policies(4))
    watcher = PolicyWatcher(client.jetstream(), names)
    await watcher.start()
    try:
        assert watcher.revision == revision
        assert watcher.policy_set == policies(4)
    finally:
        await watcher.stop()


async def test_unreadable_value_keeps_the_last_good_set(client: Client, nats_settings: NatsSettings) -> None:
    """A corrupt value is ignored: the watcher keeps the last good set, then takes the next good one."""
    names = StreamNames(nats_settings.prefix)
    good = await publish_policy_set(client.jetstream(), names, policies(5))
    watcher = PolicyWatcher(client.jetstream(), names)
    await watcher.start()
    try:
        kv = await ensure_policy_bucket(client.jetstream(), names)
        await kv.put(POLICY_KEY, b'{"version": 99}')
        await asyncio.sleep(0.2)
        assert watcher.revision == good
        assert watcher.policy_set == policies(5)
        fixed = await publish_policy_set(client.jetstream(), names, policies(6))
        assert (await wait(watcher, fixed, 1.0)) == policies(6)
    finally:
        await watcher.stop()


async def test_deleted_key_means_no_policies(client: Client, nats_settings: NatsSettings) -> None:
    """Deleting the key empties the set (built-in defaults apply)."""
    names = StreamNames(nats_settings.prefix)
    watcher = PolicyWatcher(client.jetstream(), names)
    await publish_policy_set(client.jetstream(), names, policies(5))
    await watcher.start()
    try:
        kv = await ensure_policy_bucket(client.jetstream(), names)
        await kv.delete(POLICY_KEY)
        entry_revision = watcher.revision + 1
        assert len(await wait(watcher, entry_revision, 1.0)) == 0
    finally:
        await watcher.stop()


async def test_watcher_recovers_after_nats_restart(own_nats_server: LocalProcess) -> None:
    """After nats-server restarts, the watcher still picks up a set published afterwards."""
    settings = NatsSettings(
        url=f"nats://127.0.0.1:{own_nats_server.port}", prefix=f"T{uuid.uuid4().hex[:8].upper()}"
    )
    reader = await connect(settings, name="reader")
    publisher = await PolicyPublisher.connect(settings)
    watcher = PolicyWatcher(reader.jetstream(), StreamNames(settings.prefix), resync_seconds=0.5)
    await watcher.start()
    try:
        first = await publisher.publish(policies(1))
        await wait(watcher, first, 1.0)
        own_nats_server.stop()
        await asyncio.sleep(0.3)
        own_nats_server.start()
        deadline = time.monotonic() + 10
        while True:  # the publisher's own reconnect takes a moment
            try:
                second = await publisher.publish(policies(2))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        seen = await wait(watcher, second, 5.0)
        assert seen == policies(2)
    finally:
        await watcher.stop()
        await publisher.close()
        await reader.close()
