"""Learning from feedback: a team that keeps rejecting a kind of comment stops getting it in that repository.

GitHub sends no webhook for reactions, so they are read (one paginated list of the pull request's diff
comments, with their reaction counts) whenever the pull request is reviewed again and when it is closed:

* 👍 and 👎 on ArgoAI's inline comments are counted once each (per repository: the Prometheus counter
  ``argoai_feedback_total`` and counters in Redis that ``argoai feedback`` shows);
* a 👎 from someone who may give commands
  (:class:`~argoai_reviewer.conversation.commands.trust.Trust`; anybody's thumb is counted, only a trusted
  one rejects), or the ``dismiss`` command in the thread, rejects the finding: it
  is no longer open, and it is remembered for the repository.

A later finding is not posted in that repository when it has the fingerprint of a rejected one (same file,
category and code), or the same category and a near-identical quote or title (:data:`SIMILARITY` of
:class:`difflib.SequenceMatcher`): it is counted as suppressed and listed, collapsed, in the summary.
``argoai feedback`` lists a repository's rejections and clears one or all.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from argoai_core.logs import get_logger
from argoai_core.models.job import RepoRef
from argoai_reviewer import metrics
from argoai_reviewer.conversation.commands.trust import Trust
from argoai_reviewer.conversation.markers import find_finding_marker, find_reply_marker
from argoai_reviewer.conversation.ports import ConversationReader, RepositoryFeedback
from argoai_reviewer.conversation.record import PullRequestRecord, TrackedFinding
from argoai_reviewer.domain import ReviewComment

log = get_logger(__name__)

SIMILARITY = 0.9
"""How alike two quotes (or titles) of one category must be for a rejection of one to suppress the other."""
MIN_SIMILAR_LENGTH = 12
"""Shorter quotes and titles are compared exactly: too little text to call two of them near-identical."""

Signal = Literal["posted", "thumbs_up", "thumbs_down", "dismissed", "addressed", "suppressed"]


class Rejection(BaseModel):
    """A finding the team rejected in a repository (stored as JSON, listed by ``argoai feedback``)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(description="The rejected finding's fingerprint")
    category: str
    title: str = ""
    quote: str = ""
    path: str = ""
    source: Literal["thumbs-down", "dismiss"]
    by: str = ""
    pull_request: int = 0
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def similar(a: str, b: str) -> bool:
    """Whether two texts are near-identical (after case and whitespace are normalised)."""
    a, b = _normal(a), _normal(b)
    if not a or not b:
        return False
    if a == b:
        return True
    if min(len(a), len(b)) < MIN_SIMILAR_LENGTH:
        return False
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return (
        matcher.real_quick_ratio() >= SIMILARITY
        and matcher.quick_ratio() >= SIMILARITY
        and (matcher.ratio() >= SIMILARITY)
    )


class Suppressor:
    """Tells whether a finding is like one the team rejected in the repository."""

    def __init__(self, rejections: Iterable[Rejection]) -> None:
        self._rejections = list(rejections)
        self._by_id = {r.id: r for r in self._rejections}

    def __len__(self) -> int:
        return len(self._rejections)

    def match(self, fingerprint: str, category: str, title: str, quote: str) -> Rejection | None:
        """The rejection that suppresses this finding, or None."""
        exact = self._by_id.get(fingerprint)
        if exact is not None:
            return exact
        for rejection in self._rejections:
            if rejection.category != category:
                continue
            if similar(rejection.quote, quote) or similar(rejection.title, title):
                return rejection
        return None


def count(repo: RepoRef, signal: Signal, amount: int = 1) -> None:
    """Add to the per-repository feedback metric."""
    if amount > 0:
        metrics.FEEDBACK.labels(repo=repo.full_name, signal=signal, variant=metrics.variant()).inc(amount)


class Feedback:
    """Reads reactions on ArgoAI's comments, records rejections, and builds the repository's suppressor."""

    def __init__(self, store: RepositoryFeedback, trust: Trust, *, bot_name: str) -> None:
        self._store = store
        self._trust = trust
        self._bot = f"{bot_name.lower()}[bot]"

    def _ours(self, comment: ReviewComment) -> bool:
        return comment.author_is_bot and comment.author.lower() == self._bot

    async def suppressor(self, repo: RepoRef) -> Suppressor:
        """The repository's rejections, ready to match findings against."""
        rejections = []
        for document in await self._store.rejections(repo):
            try:
                rejections.append(Rejection.model_validate_json(document))
            except ValidationError:
                log.warning("unreadable rejection ignored", repo=repo.full_name)
        return Suppressor(rejections)

    async def reject(
        self,
        repo: RepoRef,
        number: int,
        finding: TrackedFinding,
        *,
        source: Literal["thumbs-down", "dismiss"],
        by: str,
    ) -> None:
        """Mark ``finding`` rejected and remember it for the repository."""
        finding.status = "rejected"
        rejection = Rejection(
            id=finding.fingerprint,
            category=finding.category,
            title=finding.title,
            quote=finding.quote[:2000],
            path=finding.path,
            source=source,
            by=by,
            pull_request=number,
        )
        await self._store.reject(repo, rejection.id, rejection.model_dump_json())
        signal: Signal = "dismissed" if source == "dismiss" else "thumbs_down"
        if source == "dismiss":
            count(repo, signal)
            await self._store.add_counts(repo, {signal: 1})
        log.info("finding rejected", repo=repo.full_name, finding=finding.fingerprint, source=source, by=by)

    async def add_counts(self, repo: RepoRef, counts: dict[str, int]) -> None:
        """Add to the repository's counters (Redis) and the metric."""
        for signal, amount in counts.items():
            count(repo, signal, amount)  # type: ignore[arg-type]
        await self._store.add_counts(repo, counts)

    async def sync(
        self,
        gh: ConversationReader,
        repo: RepoRef,
        number: int,
        record: PullRequestRecord,
        comments: list[ReviewComment],
        *,
        learn: bool,
    ) -> None:
        """Bring ``record`` up to date with the diff comments on GitHub: threads of our findings (their ids),
        new 👍/👎 (counted once), rejections by a trusted 👎 (when ``learn``), replies already posted."""
        counts: Counter[str] = Counter()
        for comment in comments:
            if not self._ours(comment):
                continue
            replied = find_reply_marker(comment.body)
            if replied is not None and replied[1] == "addressed":
                for finding in record.findings.values():
                    if finding.comment_id == replied[0] and finding.status == "open":
                        finding.status = "addressed"
                continue
            marked = find_finding_marker(comment.body)
            if marked is None or comment.in_reply_to is not None:
                continue
            fingerprint, category, severity = marked
            tracked = record.findings.get(fingerprint)
            if tracked is None:
                # Posted by a job whose record was lost: known by its marker only (no quote to compare).
                tracked = TrackedFinding(
                    fingerprint=fingerprint, path=comment.path, category=category, severity=severity
                )
                record.findings[fingerprint] = tracked
            tracked.comment_id = comment.id
            if comment.thumbs_up > tracked.thumbs_up:
                counts["thumbs_up"] += comment.thumbs_up - tracked.thumbs_up
                tracked.thumbs_up = comment.thumbs_up
            if comment.thumbs_down > tracked.thumbs_down:
                counts["thumbs_down"] += comment.thumbs_down - tracked.thumbs_down
                tracked.thumbs_down = comment.thumbs_down
            if learn and tracked.status == "open" and comment.thumbs_down > tracked.down_checked:
                tracked.down_checked = comment.thumbs_down
                who = await self._trusted_thumbs_down(gh, repo, comment.id)
                if who is not None:
                    await self.reject(repo, number, tracked, source="thumbs-down", by=who)
        if counts:
            await self.add_counts(repo, dict(counts))

    async def _trusted_thumbs_down(
        self, gh: ConversationReader, repo: RepoRef, comment_id: int
    ) -> str | None:
        for reactor in await gh.thumbs_down(repo, comment_id):
            if not reactor.is_bot and await self._trust.can_write(gh, repo, reactor.login):
                return reactor.login
        return None


def rejection_lines(documents: Iterable[str]) -> list[Rejection]:
    """Rejections from their stored documents, newest first (unreadable ones skipped)."""
    found = []
    for document in documents:
        try:
            found.append(Rejection.model_validate(json.loads(document)))
        except (ValueError, ValidationError):
            continue
    return sorted(found, key=lambda r: r.at, reverse=True)
