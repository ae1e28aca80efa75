"""The gateway as a real uvicorn server against a nats-server that the test stops, freezes and restarts."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import nats
import pytest
from pydantic import SecretStr

from argoai_cli.local_services import LocalProcess, free_port
from argoai_core.settings import CommonSettings, GitHubSettings, NatsSettings
from argoai_core.streams import StreamNames
from argoai_gateway.server import GatewayServer
from argoai_gateway.settings import GatewayConfig, GatewaySettings
from support.freeze import freeze, thaw
from support.webhooks import delivery_headers, load_payload

SECRET = "server-test-secret-9d8e7f"
BODY = json.dumps(load_payload("pull_request.synchronize"), separators=(",", ":")).encode()


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until ``check`` holds (polling an outside process: there is no event to wait on)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class Gateway:
    """A GatewayServer running in the test's event loop on a free port."""

    def __init__(self, nats_url: str, prefix: str) -> None:
        self.port = free_port()
        self.prefix = prefix
        config = GatewayConfig(
            common=CommonSettings(),
            github=GitHubSettings(webhook_secret=SecretStr(SECRET)),
            nats=NatsSettings(url=nats_url, prefix=prefix, connect_timeout_seconds=0.5),
            gateway=GatewaySettings(publish_timeout_seconds=0.5),
        )
        self.server = GatewayServer(config, "127.0.0.1", self.port)
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.run(self.stop))

        async def listening() -> bool:
            try:
                return (await self.http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(listening)

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)
        await self.http.aclose()

    async def deliver(self, delivery: str | None = None) -> httpx.Response:
        headers = delivery_headers("pull_request", BODY, SECRET, delivery=delivery or str(uuid.uuid4()))
        return await self.http.post("/webhooks/github", content=BODY, headers=headers)

    async def ready(self) -> bool:
        return (await self.http.get("/readyz")).status_code == 200


@pytest.fixture
async def gateway(own_nats_server: LocalProcess) -> AsyncIterator[Gateway]:
    """The gateway, started against the test's own nats-server (which the test may stop)."""
    gw = Gateway(f"nats://127.0.0.1:{own_nats_server.port}", f"G{uuid.uuid4().hex[:10].upper()}")
    await gw.start()
    await eventually(gw.ready)
    yield gw
    await gw.close()


async def stored_deliveries(port: int, prefix: str) -> list[str]:
    """The Nats-Msg-Id of every message in the webhooks stream."""
    nc = await nats.connect(f"nats://127.0.0.1:{port}")
    try:
        js = nc.jetstream()
        stream = StreamNames(prefix).webhooks_stream
        state = (await js.stream_info(stream)).state
        ids = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else []:
            message = await js.get_msg(stream, seq)
            assert message.headers is not None
            ids.append(message.headers["Nats-Msg-Id"])
        return ids
    finally:
        await nc.close()


async def test_nats_outage_gives_503_and_recovery_needs_no_restart(
    gateway: Gateway, own_nats_server: LocalProcess
) -> None:
    """NATS stopped → 503 and readyz 503; NATS back → readyz 200 and 202 again, same gateway process."""
    before = await gateway.deliver()
    assert before.status_code == 202

    own_nats_server.stop()
    during = await gateway.deliver()
    assert during.status_code == 503
    assert during.json()["error"] == "unavailable"
    assert "Retry-After" in during.headers
    assert not await gateway.ready()

    own_nats_server.start()
    await eventually(gateway.ready)
    after = await gateway.deliver()
    assert after.status_code == 202
    stored = await stored_deliveries(own_nats_server.port, gateway.prefix)
    assert stored == [before.json()["delivery"], after.json()["delivery"]]


async def test_no_puback_in_time_gives_503(gateway: Gateway, own_nats_server: LocalProcess) -> None:
    """A frozen nats-server (connected, never acknowledging) makes the gateway answer 503 in time."""
    assert own_nats_server.process is not None
    freeze(own_nats_server.process.pid)
    try:
        response = await gateway.deliver()
    finally:
        thaw(own_nats_server.process.pid)
    assert response.status_code == 503
    # Once NATS answers again, a redelivery of the same delivery is accepted (stored at most once).
    await eventually(gateway.ready)
    retry = await gateway.deliver(response.request.headers["X-GitHub-Delivery"])
    assert retry.status_code == 202
    assert await stored_deliveries(own_nats_server.port, gateway.prefix) == [
        response.request.headers["X-GitHub-Delivery"]
    ]


async def test_gateway_starts_while_nats_is_down_and_connects_when_it_comes(
    own_nats_server: LocalProcess,
) -> None:
    """Started with NATS down: alive, not ready, 503; once NATS starts: ready and 202, without a restart."""
    own_nats_server.stop()
    gw = Gateway(f"nats://127.0.0.1:{own_nats_server.port}", f"G{uuid.uuid4().hex[:10].upper()}")
    await gw.start()
    try:
        assert (await gw.http.get("/healthz")).status_code == 200
        assert not await gw.ready()
        assert (await gw.deliver()).status_code == 503

        own_nats_server.start()
        await eventually(gw.ready)
        accepted = await gw.deliver()
        assert accepted.status_code == 202
        assert await stored_deliveries(own_nats_server.port, gw.prefix) == [accepted.json()["delivery"]]
    finally:
        await gw.close()
