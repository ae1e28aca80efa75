"""Assemble the production review pipeline from settings and the runtime's shared services.

This is the one place that chooses implementations: githubkit for GitHub, the configured LLM (or none: the
built-in checks alone), the policy file in local mode or the operator's key-value bucket in a cluster.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from argoai_core.adapters.policy_kv import KvPolicyProvider, PolicyWatcher
from argoai_core.logs import get_logger
from argoai_core.policy_set import StaticPolicyProvider, load_policy_file
from argoai_core.streams import StreamNames
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.redis_state import RedisTokenBudget
from argoai_reviewer.analysis import AnalysisOptions
from argoai_reviewer.failures import FailureComment
from argoai_reviewer.llm import ConcurrencyLimitedModel, build_model
from argoai_reviewer.pipeline import PipelineOptions, ReviewPipeline
from argoai_reviewer.ports import PolicyProvider, ReviewModel
from argoai_reviewer.runtime import SECONDS_PER_DAY, ReviewerConfig, RuntimeServices
from argoai_reviewer.worker import ReviewRunner

log = get_logger(__name__)

LOCK_TTL_ACK_WAITS = 3


@asynccontextmanager
async def build_runner(config: ReviewerConfig, services: RuntimeServices) -> AsyncIterator[ReviewRunner]:
    """The review pipeline for ``config``; closes its clients when the reviewer stops."""
    async with AsyncExitStack() as stack:
        github = GitHubAppAdapter(config.github, services.redis.client, key_prefix=config.redis.key_prefix)
        stack.push_async_callback(github.aclose)
        model: ReviewModel | None = None
        if config.llm.configured:
            client = build_model(config.llm)
            stack.push_async_callback(client.aclose)
            model = ConcurrencyLimitedModel(client, config.reviewer.llm_concurrency)
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
        yield ReviewPipeline(
            github=github,
            policies=policies,
            model=model,
            lock=services.lock,
            state=services.state,
            history=services.history,
            budget=RedisTokenBudget(services.redis),
            failures=FailureComment(
                github, services.lock, remember_seconds=settings.state_ttl_days * SECONDS_PER_DAY
            ),
            options=PipelineOptions(
                # A few ack waits: renewed while the review runs, soon free when its pod died.
                lock_ttl_seconds=LOCK_TTL_ACK_WAITS * settings.ack_wait_seconds,
                analysis=AnalysisOptions(
                    input_tokens_per_call=settings.max_input_tokens_per_call,
                    llm_concurrency=settings.llm_concurrency,
                    bot_name=config.common.bot_name,
                ),
                llm=config.llm,
            ),
        )
