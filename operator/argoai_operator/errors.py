"""The one place where ArgoAI's error tree becomes Kopf's (retryable → TemporaryError, else Permanent)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kopf

from argoai_core.errors import PermanentError, RetryableError


@contextmanager
def kopf_errors() -> Iterator[None]:
    """Run handler logic; Kopf retries a RetryableError after its delay and gives up on a PermanentError."""
    try:
        yield
    except RetryableError as exc:
        raise kopf.TemporaryError(str(exc), delay=max(exc.delay, 1.0)) from exc
    except PermanentError as exc:
        raise kopf.PermanentError(str(exc)) from exc
