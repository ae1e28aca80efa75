"""Settings shared by the components, read from ``ARGOAI_*`` environment variables.

Each section is a pydantic-settings class built once at start-up by the entrypoint and passed down; there is
no global settings object. Secrets are ``SecretStr`` and each can also be read from a file (``*_FILE``),
which is how Kubernetes mounts Secrets. :func:`load` turns a validation failure into a
:class:`~argoai_core.errors.ConfigError` whose one-line message names the environment variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from argoai_core.errors import ConfigError
from argoai_core.secrets import check_private_key, is_placeholder, read_secret_file

S = TypeVar("S", bound=BaseSettings)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The environment variable that sets ``field`` of settings class ``cls``."""
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def load(cls: type[S], **overrides: Any) -> S:
    """Build settings ``cls`` from the environment (and ``overrides``), or raise a one-line ConfigError."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{env_name(cls, field)}: {message}" if field else message)
        raise ConfigError("; ".join(problems)) from None


def _check_url(value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        raise ValueError(f"must be a {' or '.join(schemes)} URL, got {value!r}")
    return value.rstrip("/")


def _secret(value: SecretStr | None, file: Path | None) -> SecretStr | None:
    """The secret from its variable, else from its file; placeholders are refused."""
    if value is None and file is not None:
        value = read_secret_file(file)
    if value is not None and is_placeholder(value.get_secret_value()):
        raise ValueError("is a placeholder, not a real secret")
    return value


class _Section(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, validate_default=True)


class CommonSettings(_Section):
    """Settings every component reads."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_")

    bot_name: str = Field(default="argoai", pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
    policy_file: Path | None = None
    log_level: LogLevel = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class GitHubSettings(_Section):
    """The GitHub App: API base URL (github.com or Enterprise Server), credentials and webhook secret."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_GITHUB_")

    api_url: str = "https://api.github.com"
    app_id: int | None = Field(default=None, gt=0)
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # GETs revalidated with the ETag of the last answer (kept in Redis): a 304 costs no rate-limit quota.
    conditional_requests: bool = True

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_url(value, ("https", "http"))

    @model_validator(mode="after")
    def _secrets(self) -> Self:
        # Errors name the variable the key came from, and never the key itself.
        from_file = self.private_key is None and self.private_key_file is not None
        key_source = "ARGOAI_GITHUB_PRIVATE_KEY_FILE" if from_file else "ARGOAI_GITHUB_PRIVATE_KEY"
        try:
            key = _secret(self.private_key, self.private_key_file)
        except ValueError as exc:
            raise ValueError(f"{key_source}: {exc}") from None
        if key is not None:
            try:
                key = SecretStr(check_private_key(key.get_secret_value()))
            except ValueError as exc:
                where = f"{self.private_key_file} " if from_file else ""
                raise ValueError(f"{key_source}: {where}{exc}") from None
        try:
            webhook = _secret(self.webhook_secret, self.webhook_secret_file)
        except ValueError as exc:
            raise ValueError(f"ARGOAI_GITHUB_WEBHOOK_SECRET: {exc}") from None
        if webhook is not None and any(
            is_placeholder(part) for part in webhook.get_secret_value().split(",")
        ):
            raise ValueError("ARGOAI_GITHUB_WEBHOOK_SECRET: one of its values is empty or a placeholder")
        object.__setattr__(self, "private_key", key)
        object.__setattr__(self, "webhook_secret", webhook)
        return self

    @property
    def host(self) -> str:
        """The GitHub host (``api.github.com``, ``ghe.example.com``): part of every cache key."""
        return urlsplit(self.api_url).netloc

    def webhook_secrets(self) -> list[bytes]:
        """Every configured webhook secret (several during a rotation); ConfigError when there is none."""
        if self.webhook_secret is None:
            raise ConfigError("ARGOAI_GITHUB_WEBHOOK_SECRET: required (or ARGOAI_GITHUB_WEBHOOK_SECRET_FILE)")
        return [part.encode() for part in self.webhook_secret.get_secret_value().split(",")]

    def app_credentials(self) -> tuple[int, SecretStr]:
        """The App id and private key; ConfigError naming what is missing."""
        if self.app_id is None:
            raise ConfigError("ARGOAI_GITHUB_APP_ID: required to act as the GitHub App")
        if self.private_key is None:
            raise ConfigError("ARGOAI_GITHUB_PRIVATE_KEY: required (or ARGOAI_GITHUB_PRIVATE_KEY_FILE)")
        return self.app_id, self.private_key


class LLMSettings(_Section):
    """The language model: an OpenAI-compatible server (OpenAI, Azure OpenAI, vLLM, Ollama…) or Anthropic."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_LLM_")

    provider: Literal["openai", "anthropic"] | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    model: str | None = None
    # Azure OpenAI needs an API version; setting it selects the Azure client.
    api_version: str | None = None
    # The cap on one call, however it streams; the idle timeout catches a stalled server much sooner.
    timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    # Longest wait for the first streamed chunk and between two chunks.
    idle_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    # False for a proxy that breaks server-sent events: one response per call, bounded by timeout_seconds.
    stream: bool = True
    max_retries: int = Field(default=3, ge=0, le=10)
    max_output_tokens: int = Field(default=4096, ge=256, le=65536)
    # Prices per million tokens, for the estimated-cost metric; unknown prices count as zero.
    input_price_per_mtok: float = Field(default=0.0, ge=0)
    output_price_per_mtok: float = Field(default=0.0, ge=0)
    # Price of prompt tokens the provider read from its prompt cache; unset: the input price (an upper bound).
    cached_input_price_per_mtok: float | None = Field(default=None, ge=0)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value, ("https", "http"))

    @model_validator(mode="after")
    def _key(self) -> Self:
        cls = type(self)
        try:
            object.__setattr__(self, "api_key", _secret(self.api_key, self.api_key_file))
        except ValueError as exc:
            raise ValueError(f"{env_name(cls, 'api_key')}: {exc}") from None
        if self.provider is not None and not self.model:
            raise ValueError(f"{env_name(cls, 'model')}: required when {env_name(cls, 'provider')} is set")
        return self

    @property
    def configured(self) -> bool:
        """Whether an LLM is configured at all (otherwise only the built-in checks run)."""
        return self.provider is not None

    def estimate_cost(self, input_tokens: int, output_tokens: int, *, cached: int = 0) -> float:
        """Estimated cost in US dollars from the configured prices per million tokens (unknown: 0);
        ``cached`` of the input tokens are priced at the cached-input price."""
        cached = min(cached, input_tokens)
        cached_price = (
            self.input_price_per_mtok
            if self.cached_input_price_per_mtok is None
            else self.cached_input_price_per_mtok
        )
        return (
            (input_tokens - cached) * self.input_price_per_mtok
            + cached * cached_price
            + output_tokens * self.output_price_per_mtok
        ) / 1_000_000


class FallbackLLMSettings(LLMSettings):
    """An optional second model (``ARGOAI_FALLBACK_LLM_*``, the same fields as ``ARGOAI_LLM_*``) that reviews
    while the first one's circuit breaker is open."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_FALLBACK_LLM_")


class NatsSettings(_Section):
    """NATS JetStream: server URL and the prefix of every stream, consumer and bucket name."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_NATS_")

    url: str = "nats://127.0.0.1:4222"
    # Separate installations (and test runs) sharing one NATS server use different prefixes.
    prefix: str = Field(default="ARGOAI", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # Copies JetStream keeps of every stream, KV bucket and object store ArgoAI creates: 3 on a NATS cluster
    # (losing one server loses nothing already acknowledged), 1 on a single server.
    replicas: int = 1

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        for server in value.split(","):
            _check_url(server.strip(), ("nats", "tls", "ws", "wss"))
        return value

    @field_validator("replicas")
    @classmethod
    def _replicas(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError(
                f"must be 1 (a single NATS server) or 3 (a NATS cluster of 3 or more), got {value}"
            )
        return value

    @property
    def public_url(self) -> str:
        """The server URL(s) without user, password or token: safe to print and log."""
        return ",".join(_without_credentials(server.strip()) for server in self.url.split(","))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class RedisSettings(_Section):
    """Redis: caches, locks, rate limits and review state."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_REDIS_")

    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = Field(default="argoai", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value, ("redis", "rediss", "unix"))


class HistorySettings(_Section):
    """The audit history: retention of its JetStream stream, and where a reader keeps its query store."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_HISTORY_")

    # The stream drops records older than this, or the oldest ones beyond max_bytes, whichever comes first.
    # JetStream reserves max_bytes on its file store when the stream is created, so the default (about two
    # million records) leaves the chart's 10 GiB NATS volume room for the webhooks and jobs streams.
    max_age_days: int = Field(default=365, ge=1, le=3650)
    max_bytes: int = Field(default=2 * 1024**3, ge=1024**2)
    # The query store (SQLite) `argoai history` and `argoai api` build from the stream; a persistent volume
    # makes a restart catch up from where it stopped instead of re-reading the whole stream.
    store: Path | None = None
    # A review never waits longer than this for the stream to take a record (then: a log line and a metric).
    publish_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    def store_path(self, prefix: str) -> Path:
        """The query store's file: ARGOAI_HISTORY_STORE, else one per NATS prefix in the user's cache."""
        if self.store is not None:
            return self.store
        return Path.home() / ".cache" / "argoai" / f"history-{prefix.lower()}.sqlite3"


class ApiSettings(_Section):
    """``argoai api``: the bearer tokens it accepts (``ARGOAI_API_TOKENS``, comma-separated, or
    ``ARGOAI_API_TOKENS_FILE``, one per line: a mounted Secret)."""

    model_config = SettingsConfigDict(env_prefix="ARGOAI_API_")

    tokens: SecretStr | None = None
    tokens_file: Path | None = None

    @model_validator(mode="after")
    def _tokens(self) -> Self:
        try:
            tokens = _secret(self.tokens, self.tokens_file)
        except ValueError as exc:
            raise ValueError(f"ARGOAI_API_TOKENS: {exc}") from None
        object.__setattr__(self, "tokens", tokens)
        return self

    def token_list(self) -> list[bytes]:
        """Every accepted token; ConfigError when none is configured (the API never runs open)."""
        if self.tokens is None:
            raise ConfigError("ARGOAI_API_TOKENS: required (or ARGOAI_API_TOKENS_FILE, one token per line)")
        raw = self.tokens.get_secret_value().replace(",", "\n")
        tokens = [line.strip().encode() for line in raw.splitlines() if line.strip()]
        if not tokens or any(is_placeholder(t.decode()) for t in tokens):
            raise ConfigError("ARGOAI_API_TOKENS: empty, or one of its tokens is a placeholder")
        return tokens
