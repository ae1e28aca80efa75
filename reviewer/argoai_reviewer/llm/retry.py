"""How hard an LLM call is tried, and the error a transient failure becomes (with the delay the server asked
for, when it gave one). See :mod:`argoai_reviewer.llm.structured` for who retries what."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from argoai_core.errors import RateLimitedError, RetryableError, UnavailableError
from argoai_core.settings import LLMSettings


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: transient retries (stamina backoff) and how often to ask again for valid output."""

    attempts: int = 4
    wait_initial: float = 0.5
    wait_max: float = 10.0
    wait_jitter: float = 0.5
    # A retry-after longer than this is not slept on in-process: the job goes back to the queue.
    max_in_process_wait: float = 20.0
    # The delay suggested to the queue when transient retries are exhausted without a server hint.
    requeue_delay: float = 30.0
    # Total replies examined per review (1 + how often the model is asked again).
    validation_attempts: int = 3
    # A call that timed out is tried once more at most, and only after this pause: a server that keeps
    # generating for a client that left (llama-cpp-python without streaming) would otherwise queue every
    # identical retry behind the abandoned one.
    timeout_attempts: int = 2
    timeout_retry_wait: float = 5.0

    @classmethod
    def from_settings(cls, settings: LLMSettings) -> RetryPolicy:
        """The default policy with ``settings.max_retries`` transient retries."""
        return cls(attempts=settings.max_retries + 1)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The delay a response asks for: ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date)."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            delay = float(value) / divisor
        except ValueError:
            continue
        if math.isfinite(delay) and delay >= 0:
            return delay
    date = headers.get("retry-after")
    if date:
        try:
            parsed = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())
    return None


class ServerAskedDelay(RateLimitedError):
    """A transient failure whose response said how long to wait (``retry-after``): ``delay`` is that wait."""


class TimedOut(UnavailableError):
    """An LLM call that took too long; the message names the setting that bounded it and its value."""


def timed_out(what: str, setting: str, seconds: float, *, policy: RetryPolicy) -> TimedOut:
    """The error for a call stopped by ``setting`` (``ARGOAI_LLM_…``) after ``seconds``."""
    return TimedOut(f"{what} within {seconds:g}s ({setting}={seconds:g})", delay=policy.requeue_delay)


def transient_error(
    what: str, *, status: int | None, headers: Mapping[str, str] | None, policy: RetryPolicy
) -> RetryableError:
    """The error for a transient failure: the server's delay when it gave one, else the policy's."""
    asked = retry_after_seconds(headers)
    label = f"{what} (HTTP {status})" if status else what
    if asked is not None:
        return ServerAskedDelay(f"{label}; asked to retry after {asked:g}s", delay=asked)
    if status == 429:
        return RateLimitedError(f"{label}; no retry-after given", delay=policy.requeue_delay)
    return UnavailableError(label, delay=policy.requeue_delay)
