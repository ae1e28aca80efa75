"""Say on the pull request, once, that its review failed for good (a ``worker.FailureNotifier``).

Without it a PR whose review was dead-lettered simply never gets one, and nobody knows why. The comment is
short and fixed: the error behind it may carry internals (URLs, model names, an upstream message) and stays in
the dead-letter stream and the logs. A hidden marker names the head; a claim in Redis (a lease that is kept,
not released) makes the comment idempotent across pods, settlement retries and every pod hearing the same
MAX_DELIVERIES advisory.
"""

from __future__ import annotations

from argoai_core.errors import ArgoAIError
from argoai_core.logs import get_logger
from argoai_core.models.job import ReviewJob
from argoai_reviewer import metrics
from argoai_reviewer.conversation.ports import GitHubApp, ReviewLock

log = get_logger(__name__)

MESSAGE = (
    "ArgoAI could not review commit `{short}` of this pull request: the review failed after repeated "
    "attempts. It will try again on the next push."
)


def failure_marker(head_sha: str) -> str:
    """The hidden marker of the failure comment for ``head_sha``."""
    return f"<!-- argoai:failed head={head_sha} -->"


class FailureComment:
    """Posts one conversation comment per failed (PR, head)."""

    def __init__(self, github: GitHubApp, claims: ReviewLock, *, remember_seconds: float) -> None:
        """``claims`` remembers which heads were reported, for ``remember_seconds`` (the state TTL)."""
        self._github = github
        self._claims = claims
        self._remember = remember_seconds

    async def review_failed(self, job: ReviewJob, reason: str) -> None:
        """Comment on ``job``'s pull request unless a comment for its head was already claimed."""
        claim = f"failed:{job.key}"
        token = await self._claims.acquire(claim, self._remember)
        if token is None:
            log.info("review failure already reported", key=job.key)
            return
        body = f"{MESSAGE.format(short=job.head_sha[:12])}\n\n{failure_marker(job.head_sha)}"
        try:
            await self._github.installation(job.installation_id).post_comment(job.repo, job.number, body)
        except ArgoAIError:
            # Not posted: free the claim so a later attempt (another pod, a retried settlement) may post.
            await self._claims.release(claim, token)
            raise
        metrics.REVIEW_FAILURES_NOTIFIED.labels(reason=reason).inc()
        log.info("review failure reported on the pull request", key=job.key, reason=reason)
