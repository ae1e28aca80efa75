"""Settings of the reviewer process (``ARGOAI_REVIEWER_*``): concurrency, JetStream delivery, shutdown, ports;
and :class:`ReviewerConfig`, every section the reviewer reads.

Built once by the entrypoint, next to the shared sections of :mod:`argoai_core.settings`, and passed down.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from argoai_core.models.notification import TARGET_NAME_PATTERN
from argoai_core.secrets import is_placeholder, read_secret_file
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
    # Every this many seconds, free heap memory is handed back to the system (glibc's malloc_trim; see
    # runtime/memory.py): without it a busy reviewer's heap keeps tens of MB of free holes. 0: never.
    heap_trim_seconds: float = Field(default=2.0, ge=0, le=3600)

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

    # Directories of prompt templates an experiment's variants may name (``promptDir``), one per variant.
    prompts_dir: Path | None = None

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


TARGETS_SETTING = "ARGOAI_NOTIFY_TARGETS"


class NotifyTarget(BaseModel):
    """One notification target: where to post and how (its URL and secret are never logged)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["slack", "discord", "webhook"]
    url: SecretStr
    # The HMAC-SHA256 key of a ``webhook`` target (X-ArgoAI-Signature-256); required for that kind.
    secret: SecretStr | None = None

    @model_validator(mode="after")
    def _check(self) -> Self:
        parts = urlsplit(self.url.get_secret_value())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            # Never the URL itself: a Slack or Discord webhook URL is the credential.
            raise ValueError("url: must be an https (or http) URL")
        if self.kind == "webhook" and (self.secret is None or is_placeholder(self.secret.get_secret_value())):
            raise ValueError("secret: a webhook target needs a secret to sign its requests with")
        return self


def parse_targets(text: str) -> dict[str, NotifyTarget]:
    """The targets in ``text`` (YAML or JSON: ``name: {kind, url, secret?}``); ValueError naming the target
    and field, never a value."""
    try:
        document = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ValueError(f"not valid YAML or JSON{where}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ValueError("must map target names to {kind, url}")
    targets: dict[str, NotifyTarget] = {}
    for name, spec in document.items():
        if not isinstance(name, str) or re.match(TARGET_NAME_PATTERN, name) is None:
            raise ValueError(f"target name {str(name)[:40]!r}: lower-case letters, digits, '-' and '_'")
        try:
            targets[name] = NotifyTarget.model_validate(spec)
        except ValidationError as exc:
            error = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            raise ValueError(f"target {name!r}: {field + ': ' if field else ''}{message}") from None
    return targets


class NotifySettings(BaseSettings):
    """Notification targets and how notifications are delivered (``ARGOAI_NOTIFY_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOAI_NOTIFY_", extra="ignore", frozen=True, validate_default=True
    )

    # The targets, YAML or JSON (``name: {kind: slack|discord|webhook, url, secret}``): a mounted Secret.
    targets: SecretStr | None = None
    targets_file: Path | None = None
    # Timeout of one request to a target.
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Deliveries of one notification before it is dead-lettered.
    max_deliver: int = Field(default=12, ge=1, le=1000)
    # Retry n waits backoff × 2^(n-1) seconds, at most backoff_max (a Retry-After asking for more wins).
    backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    backoff_max_seconds: float = Field(default=600.0, gt=0, le=86_400)
    # Messages per minute to one target from one reviewer pod (Slack allows about one per second).
    rate_per_minute: int = Field(default=20, ge=1, le=6000)
    # Notifications being sent at once in one reviewer pod.
    concurrency: int = Field(default=4, ge=1, le=256)
    _parsed: dict[str, NotifyTarget] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _targets(self) -> Self:
        if self.targets is None and self.targets_file is not None:
            try:
                object.__setattr__(self, "targets", read_secret_file(self.targets_file))
            except ValueError as exc:
                raise ValueError(f"{TARGETS_SETTING}_FILE: {exc}") from None
        text = self.targets.get_secret_value() if self.targets is not None else ""
        try:
            self._parsed = parse_targets(text)
        except ValueError as exc:
            source = f"{TARGETS_SETTING}_FILE" if self.targets_file is not None else TARGETS_SETTING
            raise ValueError(f"{source}: {exc}") from None
        return self

    @property
    def parsed_targets(self) -> dict[str, NotifyTarget]:
        """The configured targets by name (empty: notifications are off)."""
        return dict(self._parsed)

    def backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1 after the first failed delivery)."""
        return float(min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, attempt - 1)))


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
    # No targets unless the environment names some (a config built by hand, in tests, notifies nobody).
    notify: NotifySettings = field(default_factory=lambda: NotifySettings.model_construct())
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
            notify=load(NotifySettings),
            history=load(HistorySettings),
        )
