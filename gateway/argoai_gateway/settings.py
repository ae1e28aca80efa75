"""Settings of the gateway, built once at start-up and passed down.

The gateway reads the shared sections (``ARGOAI_*``, ``ARGOAI_GITHUB_*``, ``ARGOAI_NATS_*``) plus its own
``ARGOAI_GATEWAY_*`` section. :func:`load_gateway_config` builds them all and checks that a webhook secret is
configured: the gateway refuses to start without one rather than accept unverified deliveries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from argoai_core.settings import CommonSettings, GitHubSettings, NatsSettings, load

# GitHub never sends a payload above 25 MB.
MAX_GITHUB_PAYLOAD_BYTES = 25 * 1024 * 1024


class GatewaySettings(BaseSettings):
    """Limits and timeouts of the webhook gateway (``ARGOAI_GATEWAY_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOAI_GATEWAY_", extra="ignore", frozen=True, validate_default=True
    )

    max_body_bytes: int = Field(default=MAX_GITHUB_PAYLOAD_BYTES, gt=0, le=MAX_GITHUB_PAYLOAD_BYTES)
    # GitHub gives up after 10 s; answer 503 well before so that the failure is ours and visible.
    publish_timeout_seconds: float = Field(default=2.0, gt=0, le=8)
    # Storing a multi-megabyte payload in the Object Store takes many chunk publishes.
    large_publish_timeout_seconds: float = Field(default=8.0, gt=0, le=9)
    # On SIGTERM/SIGINT the process exits within this, whatever NATS does: deliveries in flight get all of
    # it but the last 3 s (closing NATS, exiting); one cut short is answered by no 202, so GitHub retries it.
    grace_period_seconds: int = Field(default=10, ge=4, le=300)


@dataclass(frozen=True)
class GatewayConfig:
    """Every settings section the gateway reads, and its webhook secrets."""

    common: CommonSettings
    github: GitHubSettings
    nats: NatsSettings
    gateway: GatewaySettings

    def webhook_secrets(self) -> list[bytes]:
        """The configured webhook secrets (several during a rotation); ConfigError when none is set."""
        return self.github.webhook_secrets()


def load_gateway_config(
    *, github: Mapping[str, Any] | None = None, nats: Mapping[str, Any] | None = None
) -> GatewayConfig:
    """Every section from the environment (``github``/``nats`` override fields, as ``argoai dev`` does);
    a one-line ConfigError if one is invalid or no webhook secret is set."""
    config = GatewayConfig(
        common=load(CommonSettings),
        github=load(GitHubSettings, **(github or {})),
        nats=load(NatsSettings, **(nats or {})),
        gateway=load(GatewaySettings),
    )
    config.webhook_secrets()
    return config
