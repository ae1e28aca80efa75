"""The operator's NATS connection: made in the background, kept forever, probed, and closed within a bound.

The process starts and serves (health, metrics, Kopf) whether NATS answers or not: the connection is made
by a background task that keeps trying (nats-py reconnects forever, as every ArgoAI process does), and a
publish while it is down fails at once with a retryable error, which Kopf retries later. The client is
created before connecting so that the reason of the last failed attempt (refused, timed out…) can be told.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import nats.errors

from argoai_core.adapters.jetstream import NatsClient
from argoai_core.adapters.policy_kv import publish_policy_set
from argoai_core.errors import UnavailableError
from argoai_core.policy_set import PolicySet
from argoai_core.settings import NatsSettings
from argoai_core.streams import StreamNames
from argoai_operator.dependencies import describe, without_credentials

# How long closing may take: a frozen server must not hold the process past its grace period.
CLOSE_TIMEOUT_SECONDS = 2.0


class NatsLink:
    """Connects to NATS in the background; publishes the policy set; probes the connection."""

    def __init__(self, settings: NatsSettings, *, publish_timeout: float = 10.0) -> None:
        self._settings = settings
        self._names = StreamNames(settings.prefix)
        self._publish_timeout = publish_timeout
        # Core's client: a policy bucket it creates gets the installation's replica count.
        self._client = NatsClient(settings.replicas)
        self._connecting: asyncio.Task[None] | None = None
        self._last_error: str = "not connected yet"
        # Set once the first connection attempt has succeeded or failed.
        self._attempted = asyncio.Event()
        # Set at shutdown when NATS is known not to answer: publishes in flight fail at once.
        self._interrupted = asyncio.Event()
        self.target = without_credentials(settings.url)

    def start(self) -> None:
        """Start connecting (returns at once)."""
        self._connecting = asyncio.create_task(self._connect(), name="nats-connect")

    async def _connect(self) -> None:
        async def error(exc: Exception) -> None:
            self._last_error = describe(exc)
            self._attempted.set()

        async def ignore() -> None:
            return None

        # The same options as argoai_core.adapters.jetstream.connect, plus the error callback. (nats-py
        # annotates both timeouts as int but takes any number of seconds.)
        timeouts: dict[str, Any] = {
            "connect_timeout": self._settings.connect_timeout_seconds,
            "reconnect_time_wait": 0.5,
        }
        await self._client.connect(
            servers=[server.strip() for server in self._settings.url.split(",")],
            name="argoai-operator",
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            ping_interval=5,
            max_outstanding_pings=2,
            error_cb=error,
            disconnected_cb=ignore,
            reconnected_cb=ignore,
            **timeouts,
        )
        self._attempted.set()

    async def probe(self, pong_seconds: int = 2) -> None:
        """Raise UnavailableError unless connected and the server answers a PING within ``pong_seconds``.

        Before the first connection attempt has ended, waits for it (within the caller's timeout).
        """
        await self._attempted.wait()
        if not self._client.is_connected:
            raise UnavailableError(f"not connected ({self._last_error})")
        try:
            await self._client.flush(timeout=pong_seconds)
        except (TimeoutError, nats.errors.Error) as exc:
            raise UnavailableError(f"no answer to PING ({describe(exc)})") from None

    async def publish(self, policy_set: PolicySet) -> int:
        """Store ``policy_set`` in the policy bucket; its revision. UnavailableError when NATS is down."""
        if self._interrupted.is_set() or not self._client.is_connected:
            raise UnavailableError(f"NATS at {self.target} is not connected ({self._last_error})")
        publishing = asyncio.ensure_future(self._publish(policy_set))
        interrupted = asyncio.ensure_future(self._interrupted.wait())
        try:
            done, _ = await asyncio.wait([publishing, interrupted], return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if not publishing.done():
                publishing.cancel()
        if publishing not in done:
            raise UnavailableError(
                f"publishing to NATS at {self.target}: interrupted: the operator is stopping"
            )
        return publishing.result()

    async def _publish(self, policy_set: PolicySet) -> int:
        try:
            async with asyncio.timeout(self._publish_timeout):
                return await publish_policy_set(self._client.jetstream(), self._names, policy_set)
        except TimeoutError:
            raise UnavailableError(
                f"publishing to NATS at {self.target}: no answer within {self._publish_timeout:g}s"
            ) from None

    def interrupt(self) -> None:
        """Make publishes in flight, and later ones, fail at once (shutdown while NATS does not answer)."""
        self._interrupted.set()

    async def close(self, *, drain: bool = True) -> None:
        """Stop connecting, drain (unless ``drain`` is False: the server is known not to answer) and close.

        Each step gives up after a few seconds: a frozen server never answers.
        """
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        if drain and self._client.is_connected:
            with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await self._client.drain()
        if not self._client.is_closed:
            with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
                async with asyncio.timeout(CLOSE_TIMEOUT_SECONDS):
                    await self._client.close()
