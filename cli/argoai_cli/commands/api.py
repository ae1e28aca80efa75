"""``argoai api``: the read-only HTTP API over the audit history and the dead letters (see
:mod:`argoai_reviewer.audit.api`). Serves at once from the query store it keeps (ARGOAI_HISTORY_STORE) while
it follows the history stream in the background; ``/readyz`` answers 200 once it has caught up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from argoai_cli.errors import config_errors
from argoai_cli.options import tcp_port

if TYPE_CHECKING:
    from fastapi import FastAPI

    from argoai_cli.audit_services import AuditConfig
    from argoai_reviewer.audit.auth import BearerTokens
    from argoai_reviewer.audit.store import HistoryStore

# How often the query store reads what the history stream got since.
FOLLOW_SECONDS = 1.0


def command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(callback=tcp_port, help="Port to listen on")] = 8090,
) -> None:
    """Run the audit history API (FastAPI, OpenAPI at /openapi.json): /api/v1/reviews, /api/v1/repos,
    /api/v1/repos/{owner}/{repo}/stats, /api/v1/dead-letters. Every /api/v1 request needs a bearer token
    from ARGOAI_API_TOKENS or ARGOAI_API_TOKENS_FILE (one per line)."""
    import uvicorn

    from argoai_cli.audit_services import AuditConfig
    from argoai_core.logs import configure_logging
    from argoai_core.settings import ApiSettings, load
    from argoai_reviewer.audit.auth import BearerTokens
    from argoai_reviewer.audit.store import HistoryStore

    with config_errors():
        config = AuditConfig.load()
        tokens = BearerTokens(load(ApiSettings).token_list())
        configure_logging(config.common.log_level)
        store = HistoryStore(config.history.store_path(config.nats.prefix))
        app = _app(config, store, tokens)
    # No access log: request lines are noise here, and never carry the Authorization header anyway.
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")


def _app(config: AuditConfig, store: HistoryStore, tokens: BearerTokens) -> FastAPI:
    import asyncio
    import contextlib
    from collections.abc import AsyncIterator
    from typing import Any

    from argoai_core.adapters.history_stream import HistoryReader, ensure_history_stream
    from argoai_core.adapters.jetstream import connect
    from argoai_core.errors import ArgoAIError
    from argoai_core.logs import get_logger
    from argoai_reviewer.adapters.dead_letters import JetStreamDeadLetters
    from argoai_reviewer.audit.api import build_app
    from argoai_reviewer.audit.dead_letters import DeadLetters
    from argoai_reviewer.audit.sync import follow

    log = get_logger("argoai_cli.api")
    caught_up = asyncio.Event()
    letters: dict[str, DeadLetters] = {}

    class _Letters:
        async def summaries(self) -> list[dict[str, Any]]:
            if "dlq" not in letters:
                return []
            return await letters["dlq"].summaries()

    async def background() -> None:
        nc = await connect(config.nats, name="argoai-api")  # retries until NATS answers
        try:
            js = nc.jetstream()
            await ensure_history_stream(js, config.names, config.history)
            letters["dlq"] = DeadLetters(JetStreamDeadLetters(js, config.names), config.names)
            await follow(store, HistoryReader(js, config.names), FOLLOW_SECONDS, caught_up)
        except ArgoAIError as exc:
            # Still serving what the store holds; /readyz stays 503 so that the problem is seen.
            log.error("api cannot follow the history stream", error=str(exc))
        finally:
            await nc.close()

    @contextlib.asynccontextmanager
    async def lifespan(_: object) -> AsyncIterator[None]:
        task = asyncio.create_task(background(), name="history-follower")
        log.info("api serving", store=str(store.path), records=store.count())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return build_app(store, tokens, dead_letters=_Letters(), ready=caught_up.is_set, lifespan=lifespan)
