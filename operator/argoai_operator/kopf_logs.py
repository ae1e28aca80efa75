"""Kopf log lines that the operator reports better itself, lowered to DEBUG.

- While the API server cannot be reached, Kopf logs an ERROR line for every retry of every request
  (discovery, each watch stream). The Kubernetes API probe (``dependencies.Dependency``) reports the same
  outage as one warning, repeated with backoff, and one line when it is back. Other failed requests (403
  Forbidden, 5xx…) keep their level: only Kopf tells about them.
- "Request attempt … failed; TCP closed; will re-authenticate": a request cut by its session closing
  (at shutdown, or when credentials are renewed); Kopf retries it with a new session by itself.
- "OS signals are ignored: running not in the main thread": by design, the main thread handles them.
- "… Ran out of valid credentials …" (with a traceback): the API refused the credentials twice; the
  operator exits with one configuration-error line saying so.
"""

from __future__ import annotations

import logging

CONNECTION_FAILURES = (
    "ClientConnectionError",
    "ClientConnectorError",
    "ClientConnectionResetError",
    "ClientOSError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "ConnectionTimeoutError",
    "TimeoutError",
)


def _reported_elsewhere(message: str) -> bool:
    if message.startswith("OS signals are ignored") or "Ran out of valid credentials" in message:
        return True
    if not message.startswith("Request attempt"):
        return False
    # A session closed under a request (shutdown, or new credentials): Kopf re-authenticates by itself.
    if "TCP closed; will re-authenticate" in message:
        return True
    return "will retry" in message and any(name in message for name in CONNECTION_FAILURES)


class ToDebug(logging.Filter):
    """A handler filter: Kopf lines reported elsewhere become DEBUG (shown at ARGOAI_LOG_LEVEL=DEBUG only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Lower the record when it is one of those lines; keep everything else."""
        lower = record.levelno > logging.DEBUG and record.name.startswith("kopf")
        if lower and _reported_elsewhere(record.getMessage()):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def install() -> None:
    """Add the filter to the root logger's handlers (set up by ``argoai_core.logs.configure_logging``)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, ToDebug) for existing in handler.filters):
            handler.addFilter(ToDebug())
