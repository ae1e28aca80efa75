"""Settings of ``argoai redeliver`` (``ARGOAI_REDELIVER_*``): how much one scheduled run may do."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# GitHub redelivers a delivery for 3 days; stay clear of the edge so a POST made at the end of a run is
# not refused for being a few seconds too late.
DEFAULT_MAX_AGE_SECONDS = 3 * 86_400 - 600


class RedeliverSettings(BaseSettings):
    """Bounds and timings of one run of the webhook redelivery job."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOAI_REDELIVER_", extra="ignore", frozen=True, validate_default=True
    )

    # Redelivery requests one run may make (each is a write GitHub counts against its secondary limits).
    max_redeliveries: int = Field(default=50, ge=1, le=1000)
    # Pages of 100 deliveries one run may read going back to the checkpoint.
    max_pages: int = Field(default=30, ge=1, le=1000)
    # GitHub needs a few seconds to record a delivery's outcome: newer deliveries wait for the next run.
    settle_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Deliveries older than this are no longer redeliverable.
    max_age_seconds: float = Field(default=DEFAULT_MAX_AGE_SECONDS, gt=0, le=3 * 86_400)
    # A guid redelivered this recently is not redelivered again while its new attempt is pending or failed.
    cooldown_seconds: float = Field(default=900.0, ge=0, le=86_400)
    # Redelivery requests are made serially, this far apart (GitHub asks for writes ≥ 1 s apart).
    spacing_seconds: float = Field(default=1.0, ge=0, le=60)
    # The run lock's lease; renewed after every page and every request.
    lock_ttl_seconds: float = Field(default=120.0, ge=5, le=3600)
    redis_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
