"""The operator's own settings, built once by the entrypoint and passed to the handlers."""

from __future__ import annotations

from dataclasses import dataclass

from argoai_core.settings import NatsSettings


@dataclass(frozen=True)
class OperatorConfig:
    """Where to publish and how often to re-check; the Kopf run options live in ``main.run``."""

    nats: NatsSettings
    resync_seconds: float = 60.0
    watch_timeout_seconds: int = 300
    request_timeout_seconds: float = 30.0
