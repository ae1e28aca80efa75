"""The one error tree of ArgoAI.

Every failure a component can act on is either *retryable* (try again later, after ``delay`` seconds) or
*permanent* (trying again cannot help). Each component maps this tree in exactly one place: the reviewer to
JetStream nak/term, the operator to Kopf's TemporaryError/PermanentError, the gateway to HTTP status codes.
"""

from __future__ import annotations


class ArgoAIError(Exception):
    """Base of every error ArgoAI raises on purpose."""


class RetryableError(ArgoAIError):
    """A failure that may succeed when tried again after ``delay`` seconds."""

    def __init__(self, message: str, *, delay: float = 5.0) -> None:
        super().__init__(message)
        self.delay = max(0.0, delay)


class PermanentError(ArgoAIError):
    """A failure that trying again cannot fix (bad input, missing permission, bad configuration)."""


class ConfigError(PermanentError):
    """A setting is missing or malformed; the message names the setting."""


class UnavailableError(RetryableError):
    """A dependency (NATS, Redis, GitHub, the LLM) did not answer or answered 5xx."""


class CircuitOpenError(UnavailableError):
    """A dependency's circuit breaker is open (an outage seen across reviews): the call was not even tried.

    ``circuit`` names the breaker (provider and base URL), so the job can wait for that one to close instead
    of spending its deliveries.
    """

    def __init__(self, message: str, *, circuit: str, delay: float = 5.0) -> None:
        super().__init__(message, delay=delay)
        self.circuit = circuit


class RateLimitedError(RetryableError):
    """A dependency asked us to slow down; ``delay`` is how long it asked us to wait."""


class InvalidInputError(PermanentError):
    """Input that can never be processed (malformed payload, unknown version)."""
