"""What ``argoai history``, ``argoai api`` and ``argoai dlq`` share: the settings they read (the reviewer's
NATS and history sections), a NATS connection that gives up instead of waiting forever, the query store
brought up to date from the history stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argoai_core.adapters.jetstream import NatsClient, connect
from argoai_core.errors import ConfigError, UnavailableError
from argoai_core.settings import CommonSettings, HistorySettings, NatsSettings, load
from argoai_core.streams import StreamNames


@dataclass(frozen=True)
class AuditConfig:
    """The settings sections the audit commands read (the same variables as the reviewer)."""

    common: CommonSettings
    nats: NatsSettings
    history: HistorySettings

    @classmethod
    def load(cls) -> AuditConfig:
        """Read the sections from the environment; ConfigError naming the first bad variable."""
        return cls(common=load(CommonSettings), nats=load(NatsSettings), history=load(HistorySettings))

    @property
    def names(self) -> StreamNames:
        """The installation's JetStream names."""
        return StreamNames(self.nats.prefix)


@asynccontextmanager
async def nats_connection(
    config: AuditConfig, name: str, wait_seconds: float = 10.0
) -> AsyncIterator[NatsClient]:
    """A NATS connection, or UnavailableError naming the URL when none answers within ``wait_seconds``."""
    try:
        async with asyncio.timeout(wait_seconds):
            nc = await connect(config.nats, name=name)
    except TimeoutError:
        raise UnavailableError(
            f"NATS at {config.nats.public_url} does not answer (ARGOAI_NATS_URL)"
        ) from None
    try:
        yield nc
    finally:
        await nc.close()


def parse_moment(value: str | None, flag: str) -> datetime | None:
    """``--since``/``--until``: an ISO date or time (UTC unless it says otherwise), or an age like 7d, 12h,
    30m; ConfigError naming the flag otherwise."""
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[:-1].isdigit() and value[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{flag}: {value!r} is neither an ISO date/time nor an age like 7d, 12h, 30m"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
