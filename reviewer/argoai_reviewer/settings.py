"""Settings of the reviewer process (``ARGOAI_REVIEWER_*``): concurrency, JetStream delivery, shutdown, ports;
and :class:`ReviewerConfig`, every section the reviewer reads.

Built once by the entrypoint, next to the shared sections of :mod:`argoai_core.settings`, and passed down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from argoai_core.settings import (
    CommonSettings,
    FallbackLLMSettings,
    GitHubSettings,
    HistorySettings,
    LLMSettings,
    NatsSettings,
    RedisSettings,
    load,
)

SECONDS_PER_DAY = 86_400
MIB = 1024 * 1024
GIB = 1024 * MIB


class ReviewerSettings(BaseSettings):
    """How one reviewer process consumes review jobs."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOAI_REVIEWER_", extra="ignore", frozen=True, validate_default=True
    )

    # Reviews running at once in this process. A review mostly waits on the LLM and GitHub, so hundreds of
    # concurrent reviews cost little CPU; the LLM semaphore below bounds the expensive part.
    concurrency: int = Field(default=8, ge=1, le=1024)
    # LLM calls at once in this process, shared by all its reviews (one review alone may use them all).
    llm_concurrency: int = Field(default=64, ge=1, le=1024)
    # Prompt token budget of one LLM call; larger changes are split into several calls. Smaller calls keep the
    # model focused and run in parallel; a larger budget shows more of a change at once (costlier calls).
    max_input_tokens_per_call: int = Field(default=16_000, ge=2_000, le=2_000_000)
    # Webhooks turned into jobs at once (cheap: a JSON parse and one publish each).
    intake_concurrency: int = Field(default=64, ge=1, le=4096)
    # Analyzer processes (ruff, shellcheck, …) at once in this process, shared by all its reviews: they use
    # a core each while they run.
    analyzer_concurrency: int = Field(default=2, ge=1, le=64)
    # Wall time all analyzers of one review may take; what does not finish in time is noted in the summary.
    analyzer_review_seconds: float = Field(default=60.0, ge=1, le=900)
    # CPU and wall time of one analyzer process: 10 s plus this per file it checks (within the above).
    analyzer_seconds_per_file: float = Field(default=1.0, gt=0, le=60)
    # Memory cap of one analyzer process.
    analyzer_memory_mb: int = Field(default=1024, ge=64, le=16384)

    # A delivery not acknowledged within ack_wait is redelivered; running reviews heartbeat every ack_wait/3.
    ack_wait_seconds: float = Field(default=30.0, ge=0.3, le=3600)
    # Deliveries of one job before it is dead-lettered.
    max_deliver: int = Field(default=5, ge=1, le=100)
    # Redelivery after an unacknowledged delivery n waits ack_wait × factor^(n-1) (JetStream backoff list).
    backoff_factor: float = Field(default=2.0, ge=1.0, le=10.0)
    # Deliveries outstanding across every reviewer pod; must exceed concurrency × pods.
    max_ack_pending: int = Field(default=4096, ge=1, le=1_000_000)
    # How long one fetch waits for jobs; also bounds how soon a stop request is noticed while idle.
    fetch_timeout_seconds: float = Field(default=2.0, ge=0.05, le=60)
    # Lease of a head's review lock, renewed every third of it while the review runs: a pod that dies loses it
    # within this, so the job JetStream redelivers after ack_wait finds it free (a takeover within ack_wait
    # plus the review's own time).
    lock_ttl_seconds: float = Field(default=15.0, ge=1, le=3600)
    # A review running longer than this is cancelled and retried (guards against a wedged call).
    max_review_seconds: float = Field(default=900.0, ge=1, le=86_400)
    # On SIGTERM running reviews get this long to finish; the rest are handed back to JetStream.
    grace_period_seconds: float = Field(default=25.0, ge=0, le=3600)

    # Circuit breakers (one per LLM provider + base URL and one per GitHub host, shared by every pod through
    # Redis): this many failed calls in a row (after each call's own retries: 5xx, timeouts, overload, 429s
    # past their retry-after) open the breaker; failures further apart than the window do not add up.
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_window_seconds: float = Field(default=120.0, ge=1, le=86_400)
    # While a breaker is open, one waiting review tries the dependency again this often (the probe).
    breaker_probe_seconds: float = Field(default=15.0, ge=0.1, le=3600)
    # How often waiting reviews look whether the breaker closed (they resume within this of the probe).
    breaker_poll_seconds: float = Field(default=2.0, ge=0.05, le=60)
    # Reviews wait for an open breaker, without spending deliveries, until it has been open this long; past
    # it they are retried and dead-lettered as usual (default 6 hours).
    outage_tolerance_seconds: float = Field(default=6 * 3600.0, ge=0, le=7 * 86_400)

    # Review state in Redis: last reviewed head and posted fingerprints live this long after the last write.
    state_ttl_days: int = Field(default=30, ge=1, le=3650)
    # A closed pull request's state (record, threads, reply ledgers) is kept this long (a reopened one
    # carries on within it).
    closed_state_ttl_days: int = Field(default=7, ge=1, le=3650)
    # GitHub asks for content-creating requests at least a second apart (per installation, across pods).
    github_write_spacing_seconds: float = Field(default=1.0, ge=0, le=10)
    # Review records kept per repository (Redis stream, trimmed approximately).
    history_per_repo: int = Field(default=10_000, ge=10, le=10_000_000)
    redis_timeout_seconds: float = Field(default=2.0, gt=0, le=60)

    # Repository snapshots: the reviewed head's files, unpacked once per head into a per-pod cache directory
    # (an emptyDir in the chart; unset: a temporary directory removed at exit) and LRU-evicted past its size.
    snapshots: bool = True
    snapshot_dir: Path | None = None
    snapshot_cache_bytes: int = Field(default=2 * GIB, ge=16 * MIB, le=1024 * GIB)
    # Past any of these a review reads single files instead (and says so in its summary).
    snapshot_max_archive_bytes: int = Field(default=100 * MIB, ge=MIB, le=64 * GIB)
    snapshot_max_bytes: int = Field(default=512 * MIB, ge=MIB, le=256 * GIB)
    snapshot_max_files: int = Field(default=50_000, ge=10, le=10_000_000)
    # Larger files are listed but not kept (minified bundles, data): the index and the reads skip them.
    snapshot_max_file_bytes: int = Field(default=MIB, ge=1024, le=64 * MIB)

    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(default=9090, ge=0, le=65535)

    @property
    def heartbeat_seconds(self) -> float:
        """Interval of in-progress acknowledgements of a running review: a third of the shortest ack wait."""
        return self.ack_wait_seconds / 3

    @property
    def backoff_seconds(self) -> list[float]:
        """JetStream backoff list: the ack wait of each delivery, all ≥ ack_wait, one fewer than max_deliver.

        JetStream lets ``backoff[0]`` override ``ack_wait``; starting the list at ``ack_wait`` keeps the two
        equal, so the heartbeat interval derived from ``ack_wait`` is safe for every delivery.
        """
        return [self.ack_wait_seconds * self.backoff_factor**n for n in range(max(0, self.max_deliver - 1))]


@dataclass(frozen=True)
class ReviewerConfig:
    """Every settings section the reviewer reads, built once at start-up."""

    common: CommonSettings
    github: GitHubSettings
    llm: LLMSettings
    nats: NatsSettings
    redis: RedisSettings
    reviewer: ReviewerSettings
    # An optional second model, reviewing while the first one's circuit breaker is open.
    fallback_llm: FallbackLLMSettings = field(default_factory=FallbackLLMSettings.model_construct)
    # Audit history (ARGOAI_HISTORY_*); a default for callers that build a config by hand.
    history: HistorySettings = field(default_factory=HistorySettings)

    @classmethod
    def load(cls, **reviewer_overrides: object) -> ReviewerConfig:
        """Read every section from the environment; ConfigError naming the first bad variable."""
        return cls(
            common=load(CommonSettings),
            github=load(GitHubSettings),
            llm=load(LLMSettings),
            nats=load(NatsSettings),
            redis=load(RedisSettings),
            reviewer=load(ReviewerSettings, **reviewer_overrides),
            fallback_llm=load(FallbackLLMSettings),
            history=load(HistorySettings),
        )
