"""The one place where ArgoAI's error tree becomes an HTTP status and a JSON error body."""

from __future__ import annotations

import math

import orjson

from argoai_core.errors import (
    ArgoAIError,
    ConfigError,
    InvalidInputError,
    PermanentError,
    RetryableError,
)
from argoai_gateway.errors import (
    DeliveryError,
    InvalidJSONError,
    MissingHeaderError,
    PayloadTooLargeError,
    SignatureError,
    UnsupportedMediaTypeError,
)

# Most specific classes first: the first match wins.
_STATUS: tuple[tuple[type[ArgoAIError], int], ...] = (
    (SignatureError, 401),
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (MissingHeaderError, 400),
    (InvalidJSONError, 400),
    (InvalidInputError, 400),
    # A misconfigured gateway is our fault, not the sender's.
    (ConfigError, 500),
    (PermanentError, 500),
    # NATS down, no PubAck in time, rate limited: GitHub (or its redelivery job) should try again.
    (RetryableError, 503),
)


def status_for(error: ArgoAIError) -> int:
    """The HTTP status answering ``error``."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_code(error: ArgoAIError) -> str:
    """The short machine-readable code put in the JSON error body."""
    if isinstance(error, DeliveryError):
        return error.code
    if isinstance(error, RetryableError):
        return "unavailable"
    return "internal_error"


def error_body(error: ArgoAIError) -> bytes:
    """The JSON error body: ``{"error": <code>, "message": <what was wrong>}``."""
    return orjson.dumps({"error": error_code(error), "message": str(error)})


def error_headers(error: ArgoAIError) -> dict[str, str]:
    """Extra response headers: ``Retry-After`` for retryable errors."""
    if isinstance(error, RetryableError):
        return {"Retry-After": str(max(1, math.ceil(error.delay)))}
    return {}
