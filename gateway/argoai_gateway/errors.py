"""Why the gateway refuses a delivery: refinements of ArgoAI's one error tree (argoai_core.errors).

Each class carries a short machine-readable ``code`` for the JSON error body; :mod:`argoai_gateway.status`
maps them to HTTP status codes in one place.
"""

from __future__ import annotations

from argoai_core.errors import InvalidInputError


class DeliveryError(InvalidInputError):
    """A delivery that can never be accepted as sent."""

    code = "invalid_delivery"


class MissingHeaderError(DeliveryError):
    """A required GitHub delivery header is absent or empty."""

    code = "missing_header"


class UnsupportedMediaTypeError(DeliveryError):
    """The body is not declared as JSON."""

    code = "unsupported_media_type"


class PayloadTooLargeError(DeliveryError):
    """The body is larger than GitHub ever sends."""

    code = "payload_too_large"


class SignatureError(DeliveryError):
    """The signature is missing its ``sha256=`` form or does not match any configured secret."""

    code = "invalid_signature"


class InvalidJSONError(DeliveryError):
    """The (correctly signed) body is not valid JSON."""

    code = "invalid_json"
