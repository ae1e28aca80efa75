"""Fixtures of the reviewer runtime tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest

from argoai_core.adapters.jetstream import ensure_streams
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_reviewer.adapters.jobs import JetStreamJobs
from reviewer.runtime.helpers import Stream


@pytest.fixture
async def stream(nats_settings: NatsSettings) -> AsyncIterator[Stream]:
    """A connection to the real nats-server with ArgoAI's streams declared under a unique prefix."""
    nc = await nats.connect(nats_settings.url)
    js = nc.jetstream()
    names = StreamNames(nats_settings.prefix)
    await ensure_streams(js, names)
    result = Stream(nats_settings, nc, js, names, JetStreamJobs(nc, names))
    yield result
    for other in result._others:
        await other.close()
    await nc.close()
