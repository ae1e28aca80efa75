"""OpenTelemetry set-up and trace-context propagation through message headers.

Traces follow a webhook from the gateway through NATS (W3C ``traceparent`` in the message headers) into the
reviewer and out to the LLM and GitHub. Export is configured by the standard ``OTEL_*`` variables; with no
``OTEL_EXPORTER_OTLP_ENDPOINT`` spans are created (so context still propagates) but not exported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def configure_tracing(service: str) -> TracerProvider:
    """Install a tracer provider for ``service``; export over OTLP/HTTP when an endpoint is configured."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context (``traceparent``) to message ``headers``; return them."""
    propagate.inject(headers)
    return headers


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by message ``headers`` (empty when there is none)."""
    return propagate.extract(dict(headers or {}))
