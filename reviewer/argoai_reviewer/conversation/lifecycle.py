"""A closed pull request: the last look at the feedback on ArgoAI's comments, then its state expires.

GitHub sends no webhook for reactions, so the reactions on the bot's comments are read once more when the
pull request is closed (``pull_request`` ``closed``, merged or not): 👍 and 👎 are counted, a trusted 👎
rejects its finding for the repository (:mod:`~argoai_reviewer.conversation.feedback.rejections`).
The pull request's
state in Redis then expires after ``closed_ttl_seconds`` (a pull request reopened within it carries on where
it was; after it, it is reviewed afresh and its summary comment found again on GitHub).
"""

from __future__ import annotations

from dataclasses import replace

from argoai_core.logs import get_logger
from argoai_core.models.history import FeedbackCounts
from argoai_core.models.job import PullRequestClosedJob
from argoai_reviewer.conversation.feedback.rejections import Feedback
from argoai_reviewer.conversation.ports import GitHubApp, PolicyProvider
from argoai_reviewer.conversation.state import Conversation
from argoai_reviewer.outcome import ReviewOutcome

log = get_logger(__name__)


class Lifecycle:
    """Handles :class:`~argoai_core.models.job.PullRequestClosedJob` s."""

    def __init__(
        self,
        *,
        github: GitHubApp,
        policies: PolicyProvider,
        conversation: Conversation,
        feedback: Feedback,
        closed_ttl_seconds: float,
    ) -> None:
        self._github = github
        self._policies = policies
        self._conversation = conversation
        self._feedback = feedback
        self._closed_ttl = closed_ttl_seconds

    async def closed(self, job: PullRequestClosedJob) -> ReviewOutcome:
        """Read the reactions on the pull request's comments once more, then let its state expire."""
        if await self._conversation.stored(job.pr_key) is None:
            return ReviewOutcome.skipped("closed: ArgoAI holds nothing about this pull request")
        gh = self._github.installation(job.installation_id)
        policy = self._policies.policy_for(job.repo)
        async with self._conversation.turn(job.pr_key):
            record = await self._conversation.record(gh, job.repo, job.number, job.pr_key)
            comments = await gh.review_comments(job.repo, job.number)
            await self._feedback.sync(
                gh, job.repo, job.number, record, comments, learn=policy.learn_from_feedback
            )
            await self._conversation.save(job.pr_key, record)
        await self._conversation.expire(job.pr_key, self._closed_ttl)
        log.info("closed pull request: feedback read, state expiring", pr=job.pr_key, merged=job.merged)
        findings = list(record.findings.values())
        counts = FeedbackCounts(
            findings=len(findings),
            addressed=sum(f.status == "addressed" for f in findings),
            rejected=sum(f.status == "rejected" for f in findings),
            thumbs_up=sum(f.thumbs_up for f in findings),
            thumbs_down=sum(f.thumbs_down for f in findings),
        )
        return replace(ReviewOutcome.skipped("closed: feedback read, state expiring"), feedback=counts)
