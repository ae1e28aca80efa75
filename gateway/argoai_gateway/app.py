"""The gateway's HTTP application: ``POST /webhooks/github``, ``GET /healthz``, ``/readyz``, ``/metrics``.

:func:`create_app` wires the dependencies built at start-up into a FastAPI app. The webhook endpoint is the
hot path and is served by :class:`~argoai_gateway.webhook.WebhookReceiver` directly, in front of FastAPI's
routing (see that module for why); the other routes are ordinary FastAPI routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from argoai_core.errors import ArgoAIError
from argoai_gateway.metrics import GatewayMetrics
from argoai_gateway.ports import Publisher
from argoai_gateway.settings import GatewaySettings
from argoai_gateway.status import error_body, error_headers, status_for
from argoai_gateway.webhook import WEBHOOK_PATH, WebhookReceiver, send_json

# FastAPI's native telemetry (a server span, OTel metrics and operation spans per request) costs a large
# share of the webhook route's throughput; the gateway keeps its own Prometheus metrics and opens one span
# per stored delivery, whose context travels with the message.
_NO_NATIVE_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


@dataclass(frozen=True)
class GatewayDependencies:
    """Everything the app needs, built by the entrypoint from the settings."""

    publisher: Publisher
    secrets: Sequence[bytes]
    settings: GatewaySettings
    metrics: GatewayMetrics = field(default_factory=GatewayMetrics)


class _WebhookFastPath:
    """ASGI middleware sending ``POST /webhooks/github`` straight to the receiver; the rest to FastAPI."""

    def __init__(self, app: ASGIApp, receiver: WebhookReceiver) -> None:
        self.app = app
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH:
            if scope["method"] == "POST":
                await self.receiver(scope, receive, send)
            else:
                body = b'{"error":"method_not_allowed","message":"use POST"}'
                await send_json(send, 405, body, {"Allow": "POST"})
            return
        await self.app(scope, receive, send)


def create_app(deps: GatewayDependencies) -> FastAPI:
    """The gateway application wired to ``deps``."""
    app = FastAPI(
        title="ArgoAI webhook gateway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=_NO_NATIVE_TELEMETRY,
    )
    metrics = deps.metrics
    publisher = deps.publisher
    receiver = WebhookReceiver(publisher, deps.secrets, deps.settings.max_body_bytes, metrics)
    # Added middleware sits inside Starlette's ServerErrorMiddleware: a bug still answers a plain 500.
    app.add_middleware(_WebhookFastPath, receiver=receiver)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Alive: the process answers HTTP."""
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/readyz")
    async def readyz() -> Response:
        """Ready: NATS is connected and the webhooks stream exists; 503 otherwise."""
        if await publisher.ready():
            return Response(b'{"status":"ready"}', media_type="application/json")
        body = b'{"status":"not ready","reason":"NATS not connected or webhooks stream missing"}'
        return Response(body, status_code=503, media_type="application/json")

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus metrics of this app."""
        return Response(metrics.exposition(), media_type=metrics.content_type)

    @app.exception_handler(ArgoAIError)
    async def argoai_error(_: Request, exc: ArgoAIError) -> Response:
        """Any ArgoAI error escaping a route, answered through the one status mapping."""
        return Response(
            error_body(exc),
            status_code=status_for(exc),
            headers=error_headers(exc),
            media_type="application/json",
        )

    app.state.dependencies = deps
    return app
