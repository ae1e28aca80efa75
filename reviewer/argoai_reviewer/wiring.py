"""The composition root of the reviewer: the one place that chooses implementations.

githubkit for GitHub, the configured LLM (or none: the built-in checks alone), the policy file in local mode
or the operator's key-value bucket in a cluster, JetStream for the queue and Redis for locks and state. The
stages below know only their own Protocols; this module connects the dependencies and hands the runtime an
:class:`~argoai_reviewer.runtime.process.Assembly`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from argoai_core.adapters.history_stream import HistoryPublisher, ensure_history_stream
from argoai_core.adapters.jetstream import connect, ensure_streams
from argoai_core.adapters.policy_kv import KvPolicyProvider, PolicyWatcher
from argoai_core.errors import ConfigError
from argoai_core.logs import get_logger
from argoai_core.policy_set import StaticPolicyProvider, load_policy_file
from argoai_core.settings import LLMSettings
from argoai_core.streams import StreamNames
from argoai_reviewer.adapters.caching.llm_replies import RedisReplyStore
from argoai_reviewer.adapters.circuit_redis import RedisBreakerStore
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.jobs import JetStream, JetStreamJobs, close_connection
from argoai_reviewer.adapters.notify_http import HttpxPoster
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisConversationKeys,
    RedisPullRequestRecords,
    RedisRepositoryFeedback,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
    RedisTokenBudget,
)
from argoai_reviewer.analysis.analyzers import AnalyzerLimits, AnalyzerRunner
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.conversation.failures import FailureComment
from argoai_reviewer.conversation.pipeline import ConversationStores, PipelineOptions, ReviewPipeline
from argoai_reviewer.conversation.ports import PolicyProvider
from argoai_reviewer.conversation.sources import SourceOptions
from argoai_reviewer.index.cache import IndexCache
from argoai_reviewer.llm.cache import ReplyCache
from argoai_reviewer.llm.circuit import AnyModel, CircuitModel, FallbackModel, circuit_name
from argoai_reviewer.llm.instructions import ReplyInstructions
from argoai_reviewer.llm.limits import ConcurrencyLimitedModel
from argoai_reviewer.llm.retry import RetryPolicy
from argoai_reviewer.llm.structured import LLMClient
from argoai_reviewer.notify.routing import NotificationSink, Notifier
from argoai_reviewer.resilience.breaker import BreakerOptions, Breakers
from argoai_reviewer.runtime.notify_worker import NotificationWorker
from argoai_reviewer.runtime.process import Assembly
from argoai_reviewer.runtime.worker import ReviewRunner
from argoai_reviewer.settings import SECONDS_PER_DAY, ReviewerConfig, ReviewerSettings
from argoai_reviewer.workspace.archive import UnpackLimits
from argoai_reviewer.workspace.store import SnapshotLimits, SnapshotStore

log = get_logger(__name__)

# Closing the NATS connection drains it (pending acks and publishes flushed); a frozen server must not hold
# the process past its grace period, so the drain gets this long before the connection is simply closed.
NATS_DRAIN_SECONDS = 3.0
# Pooled Redis connections kept for what runs beside the jobs (policy watcher, breakers, heartbeats, drains).
BACKGROUND_REDIS_CONNECTIONS = 36


@dataclass(frozen=True)
class RuntimeServices:
    """Connections and shared state the pipeline gets (one NATS connection and one Redis pool per process)."""

    js: JetStream
    redis: RedisConnection
    lock: RedisReviewLock
    state: RedisReviewState
    history: RedisReviewHistory
    # The circuit breakers of the LLM and GitHub, shared with every pod through Redis.
    breakers: Breakers
    # Publishes the notifications the policies route (to nobody when no target is configured).
    notifier: Notifier = field(default_factory=lambda: Notifier(None, ()))

    @classmethod
    def build(
        cls, config: ReviewerConfig, js: JetStream, notifications: NotificationSink | None = None
    ) -> RuntimeServices:
        """The services on ``js`` and on a new Redis pool (closed by the caller: ``redis.aclose()``);
        notifications are published to ``notifications`` when targets are configured."""
        settings = config.reviewer
        redis = RedisConnection.from_settings(
            config.redis,
            timeout=settings.redis_timeout_seconds,
            # A connection for each job that may run at once, and some for the loops beside them (policy
            # watcher, breakers, heartbeats): with fewer, 200 concurrent reviews failed on "No connection
            # available".
            max_connections=settings.concurrency + settings.intake_concurrency + BACKGROUND_REDIS_CONNECTIONS,
        )
        return cls(
            js=js,
            redis=redis,
            lock=RedisReviewLock(redis),
            state=RedisReviewState(redis, ttl_seconds=settings.state_ttl_days * SECONDS_PER_DAY),
            history=RedisReviewHistory(redis, max_per_repo=settings.history_per_repo),
            breakers=Breakers(RedisBreakerStore(redis), BreakerOptions.from_settings(settings)),
            notifier=Notifier(notifications, list(config.notify.parsed_targets)),
        )


def conversation_stores(redis: RedisConnection, *, state_ttl_seconds: float) -> ConversationStores:
    """The conversation's state on Redis: pull request records, small keys, the repositories' feedback."""
    return ConversationStores(
        records=RedisPullRequestRecords(redis, ttl_seconds=state_ttl_seconds),
        keys=RedisConversationKeys(redis),
        feedback=RedisRepositoryFeedback(redis),
    )


# Builds the review pipeline on the runtime's services; exited at shutdown (to close HTTP clients).
RunnerFactory = Callable[[ReviewerConfig, RuntimeServices], AbstractAsyncContextManager[ReviewRunner]]


def assembler(
    runner_factory: RunnerFactory | None = None,
) -> Callable[[ReviewerConfig], AbstractAsyncContextManager[Assembly]]:
    """The production assembly; ``runner_factory`` (default :func:`build_runner`) builds the pipeline."""
    factory = runner_factory or build_runner

    @asynccontextmanager
    async def assemble(config: ReviewerConfig) -> AsyncIterator[Assembly]:
        names = StreamNames(config.nats.prefix)
        async with AsyncExitStack() as stack:
            nc = await connect(config.nats, name="argoai-reviewer")
            stack.push_async_callback(close_connection, nc, NATS_DRAIN_SECONDS)
            js = nc.jetstream()
            await ensure_streams(js, names)
            await ensure_history_stream(js, names, config.history)
            history = HistoryPublisher(js, names, config.history)
            # Pushed before the connection's close is reached: records still in flight get their chance.
            stack.push_async_callback(history.flush)
            queue = JetStreamJobs(nc, names)
            services = RuntimeServices.build(config, js, queue)
            stack.push_async_callback(services.redis.aclose)
            runner = await stack.enter_async_context(factory(config, services))
            notifications = None
            targets = config.notify.parsed_targets
            if targets:
                urls = [target.url.get_secret_value() for target in targets.values()]
                poster = HttpxPoster(config.notify.timeout_seconds, urls)
                stack.push_async_callback(poster.aclose)
                notifications = NotificationWorker(targets, poster, queue, config.notify)
            yield Assembly(
                queue=queue,
                runner=runner,
                connected=lambda: nc.is_connected,
                outages=services.breakers,
                history=history,
                notifications=notifications,
            )

    return assemble


def build_model(
    settings: LLMSettings,
    *,
    retry: RetryPolicy | None = None,
    instructions: ReplyInstructions | None = None,
) -> LLMClient:
    """The review model for ``settings``: OpenAI-compatible (Azure, vLLM, Ollama, LiteLLM…) or Anthropic.

    The adapters are imported here, lazily: a process using one provider need not import the other's SDK.
    """
    policy = retry or RetryPolicy.from_settings(settings)
    if settings.provider == "openai":
        from argoai_reviewer.adapters.llm_openai import OpenAIReviewModel

        return OpenAIReviewModel(settings, retry=policy, instructions=instructions)
    if settings.provider == "anthropic":
        from argoai_reviewer.adapters.llm_anthropic import AnthropicReviewModel

        return AnthropicReviewModel(settings, retry=policy, instructions=instructions)
    raise ConfigError("ARGOAI_LLM_PROVIDER: not set (openai or anthropic) — no LLM is configured")


async def guarded_model(stack: AsyncExitStack, settings: LLMSettings, breakers: Breakers) -> CircuitModel:
    """The model of ``settings`` behind the circuit breaker of its provider and base URL (closed with
    ``stack``)."""
    client = build_model(settings)
    stack.push_async_callback(client.aclose)
    assert settings.provider is not None  # narrowed for mypy: only configured settings get here
    return CircuitModel(client, breakers.circuit(circuit_name(settings.provider, settings.base_url)))


def snapshot_limits(settings: ReviewerSettings) -> SnapshotLimits:
    """The snapshot caps of ``ARGOAI_REVIEWER_SNAPSHOT_*``."""
    return SnapshotLimits(
        max_archive_bytes=settings.snapshot_max_archive_bytes,
        unpack=UnpackLimits(
            max_files=settings.snapshot_max_files,
            max_bytes=settings.snapshot_max_bytes,
            max_file_bytes=settings.snapshot_max_file_bytes,
        ),
        cache_bytes=settings.snapshot_cache_bytes,
    )


@asynccontextmanager
async def snapshot_store(settings: ReviewerSettings) -> AsyncIterator[SnapshotStore | None]:
    """The process's snapshot store (None when turned off), emptied when the process stops.

    Without ``ARGOAI_REVIEWER_SNAPSHOT_DIR`` it lives in a temporary directory removed at exit.
    """
    if not settings.snapshots:
        yield None
        return
    temporary = settings.snapshot_dir is None
    directory = Path(tempfile.mkdtemp(prefix="argoai-snapshots-")) if temporary else settings.snapshot_dir
    assert directory is not None  # narrowed for mypy: either given or just created
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"ARGOAI_REVIEWER_SNAPSHOT_DIR: cannot create {directory}: {exc.strerror}"
        ) from None
    store = SnapshotStore(directory, snapshot_limits(settings))
    try:
        yield store
    finally:
        store.clear()
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


@asynccontextmanager
async def build_runner(config: ReviewerConfig, services: RuntimeServices) -> AsyncIterator[ReviewRunner]:
    """The review pipeline for ``config``; closes its clients when the reviewer stops."""
    async with AsyncExitStack() as stack:
        github = GitHubAppAdapter(
            config.github,
            services.redis.client,
            key_prefix=config.redis.key_prefix,
            policy=GitHubPolicy(write_spacing_seconds=config.reviewer.github_write_spacing_seconds),
            circuit=services.breakers.circuit(f"github:{config.github.host}"),
        )
        stack.push_async_callback(github.aclose)
        model: ConcurrencyLimitedModel | None = None
        if config.llm.configured:
            guarded: AnyModel = await guarded_model(stack, config.llm, services.breakers)
            if config.fallback_llm.configured:
                fallback = await guarded_model(stack, config.fallback_llm, services.breakers)
                guarded = FallbackModel(
                    guarded, fallback, primary_label=f"{config.llm.provider} {config.llm.model}"
                )
            model = ConcurrencyLimitedModel(guarded, config.reviewer.llm_concurrency)
        else:
            log.warning("no LLM configured: reviews run the built-in checks only")
        policies: PolicyProvider
        if config.common.policy_file is not None:
            policies = StaticPolicyProvider(load_policy_file(config.common.policy_file))
        else:
            watcher = PolicyWatcher(services.js, StreamNames(config.nats.prefix))
            await watcher.start()
            stack.push_async_callback(watcher.stop)
            policies = KvPolicyProvider(watcher)
        settings = config.reviewer
        state_ttl = settings.state_ttl_days * SECONDS_PER_DAY
        store = await stack.enter_async_context(snapshot_store(settings))
        yield ReviewPipeline(
            github=github,
            policies=policies,
            model=model,
            # Questions are asked of the same client, within the same concurrency limit as reviews.
            answer_model=model,
            lock=services.lock,
            state=services.state,
            history=services.history,
            budget=RedisTokenBudget(services.redis),
            failures=FailureComment(github, services.lock, remember_seconds=state_ttl),
            notifier=services.notifier,
            stores=conversation_stores(services.redis, state_ttl_seconds=state_ttl),
            options=PipelineOptions(
                lock_ttl_seconds=settings.lock_ttl_seconds,
                analysis=AnalysisOptions(
                    input_tokens_per_call=settings.max_input_tokens_per_call,
                    llm_concurrency=settings.llm_concurrency,
                    bot_name=config.common.bot_name,
                    analyzers=AnalyzerRunner(AnalyzerLimits.from_settings(settings)),
                ),
                llm=config.llm,
                state_ttl_seconds=state_ttl,
                closed_ttl_seconds=min(state_ttl, settings.closed_state_ttl_days * SECONDS_PER_DAY),
                sources=SourceOptions(store=store, index_cache=IndexCache()),
                prompts_dir=settings.prompts_dir,
                llm_cache=ReplyCache(RedisReplyStore(services.redis), config.llm),
            ),
        )
