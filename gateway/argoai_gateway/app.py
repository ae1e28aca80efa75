"""The gateway's HTTP application: ``POST /webhooks/github``, ``GET /healthz``, ``/readyz``, ``/metrics``.

:func:`create_app` wires the dependencies built at start-up into a FastAPI app. The webhook endpoint is the
hot path and is served by :class:`~argoai_gateway.webhook.WebhookReceiver` directly, in front of FastAPI's
middleware and routing; the other routes are ordinary FastAPI routes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from argoai_core.errors import ArgoAIError
from argoai_gateway.metrics import GatewayMetrics
from argoai_gateway.ports import Publisher
from argoai_gateway.settings import GatewaySettings
from argoai_gateway.status import error_body, error_headers, status_for
from argoai_gateway.webhook import WEBHOOK_PATH, WebhookReceiver

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


class GatewayAPI(FastAPI):
    """FastAPI app whose webhook route skips the middleware stack and routing.

    ``POST /webhooks/github`` is handed straight to the receiver: at thousands of deliveries per second,
    FastAPI's middlewares and router cost a measurable share of the throughput. The same receiver is also
    registered as an ordinary route, so other methods on the path get Starlette's 405.
    """

    receiver: WebhookReceiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == WEBHOOK_PATH:
            await self.receiver(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(deps: GatewayDependencies) -> GatewayAPI:
    """The gateway application wired to ``deps``."""
    app = GatewayAPI(
        title="ArgoAI webhook gateway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=_NO_NATIVE_TELEMETRY,
    )
    metrics = deps.metrics
    publisher = deps.publisher
    app.receiver = WebhookReceiver(publisher, deps.secrets, deps.settings.max_body_bytes, metrics)
    # An ASGI endpoint (not a function): Starlette's Route passes the raw scope, receive and send through.
    app.router.routes.append(Route(WEBHOOK_PATH, app.receiver, methods=["POST"]))

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

    return app
