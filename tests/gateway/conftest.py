"""Fixtures of the gateway tests: a JetStream publisher on the real nats-server, the app, a client, and a
reader of what the webhooks stream holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg

from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_gateway.adapters.publisher import JetStreamPublisher
from argoai_gateway.app import GatewayDependencies, create_app
from argoai_gateway.metrics import GatewayMetrics
from argoai_gateway.settings import GatewaySettings


@dataclass
class Stream:
    """Read access to the webhooks stream of one test's prefix."""

    js: JetStreamContext
    names: StreamNames

    async def messages(self) -> list[RawStreamMsg]:
        """Every message in the webhooks stream, in order."""
        info = await self.js.stream_info(self.names.webhooks_stream)
        if info.state.messages == 0:
            return []
        return [
            await self.js.get_msg(self.names.webhooks_stream, seq)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)
        ]


@pytest.fixture
async def inspector(nats_settings: NatsSettings) -> AsyncIterator[Client]:
    """A separate NATS connection used by the test to look at what was stored."""
    nc = await nats.connect(nats_settings.url)
    yield nc
    await nc.close()


@pytest.fixture
async def publisher(nats_settings: NatsSettings) -> AsyncIterator[JetStreamPublisher]:
    """The gateway's JetStream publisher, connected to the session nats-server with its streams declared."""
    pub = JetStreamPublisher(nats_settings, GatewaySettings())
    await pub.start()
    async with asyncio.timeout(10):
        await pub.wait_declared()
    yield pub
    await pub.close()


@pytest.fixture
def stream(inspector: Client, nats_settings: NatsSettings) -> Stream:
    """The webhooks stream of this test's prefix."""
    return Stream(inspector.jetstream(), StreamNames(nats_settings.prefix))


@pytest.fixture
def metrics() -> GatewayMetrics:
    """The metrics of the app under test."""
    return GatewayMetrics()


@pytest.fixture
def webhook_secrets() -> list[str]:
    """The webhook secrets the app is configured with (test modules override this)."""
    return ["gateway-test-secret"]


@pytest.fixture
async def client(
    publisher: JetStreamPublisher, metrics: GatewayMetrics, webhook_secrets: list[str]
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the gateway app in-process."""
    deps = GatewayDependencies(
        publisher=publisher,
        secrets=[secret.encode() for secret in webhook_secrets],
        settings=GatewaySettings(),
        metrics=metrics,
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http
