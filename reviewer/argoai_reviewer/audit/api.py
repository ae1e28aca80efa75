"""The read-only HTTP API of ``argoai api`` (FastAPI; the OpenAPI document at ``/openapi.json``, docs at
``/docs``): reviews with filters and cursor pagination, one record, the most active repositories, a
repository's statistics, the dead letters. ``/healthz`` and ``/readyz`` answer without a token (probes);
everything under ``/api/v1`` needs a bearer token (:mod:`.auth`), 401 otherwise.

Queries run in FastAPI's thread pool on the query store (SQLite, WAL): the store's writer (the stream
follower) never blocks them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from argoai_core.errors import ArgoAIError, InvalidInputError
from argoai_core.logs import get_logger
from argoai_core.models.history import OUTCOMES
from argoai_reviewer.audit.auth import BearerTokens
from argoai_reviewer.audit.stats import repo_stats
from argoai_reviewer.audit.store import Filters, HistoryStore

log = get_logger(__name__)

API_PREFIX = "/api/v1"


class DeadLetterLister(Protocol):
    """The dead letters, as the API lists them."""

    async def summaries(self) -> list[dict[str, Any]]:
        """One JSON-ready summary per dead letter, oldest first."""
        ...


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def build_app(
    store: HistoryStore,
    tokens: BearerTokens,
    *,
    dead_letters: DeadLetterLister | None = None,
    ready: Callable[[], bool] = lambda: True,
    lifespan: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    """The API on ``store``, accepting ``tokens``."""
    app = FastAPI(
        title="ArgoAI audit history API",
        version="1",
        description="Read-only: what ArgoAI did (reviews, skips, failures, commands), per repository "
        "statistics, and the dead letters. Every /api/v1 route needs `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )

    def authorized(request: Request) -> None:
        if not tokens.accepts(request.headers.get("authorization")):
            log.info("api request refused: no valid bearer token", path=request.url.path)
            raise HTTPException(
                status_code=401,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(authorized)])

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        ok = ready()
        return JSONResponse({"ready": ok}, status_code=200 if ok else 503)

    @api.get("/reviews", summary="History records, newest first")
    def reviews(
        repo: Annotated[str | None, Query(description="owner/name")] = None,
        pr: Annotated[int | None, Query(gt=0, description="Pull request number (with repo)")] = None,
        outcome: Annotated[str | None, Query(description=f"One of {', '.join(OUTCOMES)}")] = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        if outcome is not None and outcome not in OUTCOMES:
            raise InvalidInputError(f"outcome: one of {', '.join(OUTCOMES)}")
        page = store.reviews(
            Filters(repo=repo, number=pr, outcome=outcome, since=_utc(since), until=_utc(until)),
            limit=limit,
            cursor=cursor,
        )
        return {
            "items": [record.model_dump(mode="json", exclude_none=True) for record in page.records],
            "next_cursor": page.next_cursor,
        }

    @api.get("/reviews/{record_id:path}", summary="One history record")
    def review(record_id: str) -> dict[str, Any]:
        record = store.get(record_id)
        if record is None:
            raise HTTPException(status_code=404, detail="no such record")
        return record.model_dump(mode="json", exclude_none=True)

    @api.get("/repos", summary="The most active repositories over a window")
    def repos(
        days: Annotated[int, Query(ge=1, le=3650)] = 30, limit: Annotated[int, Query(ge=1, le=500)] = 20
    ) -> dict[str, Any]:
        since = datetime.now(UTC) - timedelta(days=days)
        return {"since": since.isoformat(), "items": store.repos(since, limit)}

    @api.get("/repos/{owner}/{name}/stats", summary="A repository's statistics over a window")
    def stats(
        owner: str,
        name: str,
        days: Annotated[int, Query(ge=1, le=3650)] = 30,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        end = _utc(until) or datetime.now(UTC)
        start = _utc(since) or end - timedelta(days=days)
        return repo_stats(store, f"{owner}/{name}", start, end)

    @api.get("/dead-letters", summary="Jobs and webhooks that failed for good, oldest first")
    async def dead_letter_list() -> dict[str, Any]:
        if dead_letters is None:
            return {"items": []}
        try:
            return {"items": await asyncio.wait_for(dead_letters.summaries(), timeout=10)}
        except (ArgoAIError, TimeoutError) as exc:
            raise HTTPException(status_code=503, detail=f"dead letters unavailable: {exc}") from None

    app.include_router(api)
    return app
