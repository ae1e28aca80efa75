"""A capped retry policy for githubkit, replacing its default (which sleeps until a rate limit resets).

Inside a queue worker a long sleep holds a job and a slot while doing nothing, so only short waits are slept
here; a longer wait surfaces as ``RateLimitedError(delay=...)`` and the worker naks the job with that delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from githubkit.exception import GitHubException, RequestError, RequestFailed
from githubkit.retry import RetryOption

from argoai_reviewer.adapters.github_errors import rate_limit_delay, safe_to_repeat, status_of, unwrap

_NO = RetryOption(False)
# githubkit sleeps 60 s when the retry delay is falsy, and timedelta(0) is falsy.
_MIN_SLEEP = 0.01


@dataclass(frozen=True)
class GitHubPolicy:
    """Limits of the GitHub adapter: how long to sleep, how often to retry, how to pace writes."""

    max_sleep_seconds: float = 3.0  # a rate-limit wait up to this is slept; longer ones go back to the queue
    rate_limit_retries: int = 2
    server_error_retries: int = 3  # 5xx / connection errors on reads, with exponential backoff
    backoff_seconds: float = 0.5  # first backoff; doubles each time, plus up to 25 % jitter
    write_spacing_seconds: float = 1.0  # GitHub: content-creating requests at least a second apart
    write_wait_seconds: float = 30.0  # longest wait for an installation's write turn before giving up
    writes_per_hour: int | None = 450  # GitHub allows 500 content-creating requests per hour


class CappedRetry:
    """githubkit ``RetryDecisionFunc``: bounded retries, short sleeps only, writes never repeated blindly."""

    def __init__(self, policy: GitHubPolicy) -> None:
        self.policy = policy

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        """Whether (and when) to retry a request that failed with ``exc`` after ``retry_count`` retries."""
        exc = unwrap(exc)
        delay = rate_limit_delay(exc)
        if delay is not None:
            # A rate-limited request was refused, not processed: repeating it is safe even for a write.
            if retry_count < self.policy.rate_limit_retries and delay <= self.policy.max_sleep_seconds:
                return RetryOption(True, timedelta(seconds=max(delay, _MIN_SLEEP)))
            return _NO
        if retry_count >= self.policy.server_error_retries:
            return _NO
        status = status_of(exc)
        transient = (status is not None and status >= 500) or (
            isinstance(exc, RequestError) and not isinstance(exc, RequestFailed)
        )
        if not transient:
            return _NO
        # A write that may have reached GitHub (5xx, read timeout) is not repeated here: GitHub sometimes
        # creates the review and still answers 502. The job's retry re-reads the reviews first instead.
        if not safe_to_repeat(exc):
            return _NO
        backoff = self.policy.backoff_seconds * 2**retry_count
        return RetryOption(True, timedelta(seconds=backoff * (1 + random.random() / 4)))  # noqa: S311
