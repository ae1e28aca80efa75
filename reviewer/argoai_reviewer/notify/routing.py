"""Which events go to which targets, and publishing them: one message per (event, target) on the
notifications stream, keyed so that an event is published once per target however often it happens.

Publishing never blocks or fails a review: a stream that cannot be reached is logged (one line, no target
URL) and the review goes on. A route naming a target the installation does not configure is skipped, with a
warning once per name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from argoai_core.errors import ArgoAIError
from argoai_core.logs import get_logger
from argoai_core.models.job import AnyJob, RepoRef
from argoai_core.models.notification import (
    MAX_FINDINGS,
    Notification,
    NotificationEvent,
    NotifiedFinding,
)
from argoai_core.models.policy import PolicySpec
from argoai_reviewer import metrics

log = get_logger(__name__)


class NotificationSink(Protocol):
    """Where notifications are published (the notifications stream)."""

    async def publish_notification(self, target: str, data: bytes, *, key: str) -> bool:
        """Publish ``data`` for ``target`` under dedup ``key``; False when it duplicates a recent one."""
        ...


def targets_for(policy: PolicySpec, event: NotificationEvent) -> list[str]:
    """The target names the policy routes ``event`` to, each once, in route order."""
    names: list[str] = []
    for route in policy.notifications:
        if event in route.events:
            names.extend(name for name in route.targets if name not in names)
    return names


def pull_request_url(repo: RepoRef, number: int | None) -> str:
    """The pull request's page on GitHub (github.com for api.github.com, the host itself for GHES)."""
    host = "github.com" if repo.host == "api.github.com" else repo.host
    scheme = "http" if host.startswith(("127.0.0.1", "localhost")) else "https"
    path = f"/{repo.owner}/{repo.name}" + (f"/pull/{number}" if number else "")
    return f"{scheme}://{host}{path}"


class Notifier:
    """Publishes the notifications a policy asks for; does nothing when no target is configured."""

    def __init__(self, sink: NotificationSink | None, targets: Sequence[str]) -> None:
        self._sink = sink
        self._targets = frozenset(targets)
        self._warned: set[str] = set()

    @property
    def enabled(self) -> bool:
        """Whether any target is configured."""
        return self._sink is not None and bool(self._targets)

    async def critical_findings(
        self,
        job: AnyJob,
        policy: PolicySpec,
        findings: Sequence[NotifiedFinding],
        *,
        variant: tuple[str, str] | None = None,
    ) -> None:
        """A review of ``job`` posted ``findings`` (critical ones)."""
        await self._emit(
            "critical_findings",
            job,
            policy,
            key=f"critical:{job.key}",
            findings=list(findings[:MAX_FINDINGS]),
            findings_total=len(findings),
            variant=variant,
        )

    async def review_failed(self, job: AnyJob, policy: PolicySpec, reason: str) -> None:
        """The review of ``job`` failed for good (it was dead-lettered)."""
        await self._emit("review_failed", job, policy, key=f"failed:{job.key}", reason=reason)

    async def dead_lettered(self, job: AnyJob, policy: PolicySpec, reason: str, letter: str) -> None:
        """``job`` went to the dead-letter stream (``letter``: the dead letter's key)."""
        await self._emit("dead_lettered", job, policy, key=f"dead:{letter}", reason=reason)

    async def budget_exhausted(self, job: AnyJob, policy: PolicySpec) -> None:
        """The daily token budget of ``job``'s repository is spent (published once per day and target)."""
        day = datetime.now(UTC).date().isoformat()
        await self._emit(
            "token_budget_exhausted",
            job,
            policy,
            key=f"budget:{job.repo.host}/{job.repo.full_name}:{day}",
            repository_wide=True,
        )

    async def _emit(
        self,
        event: NotificationEvent,
        job: AnyJob,
        policy: PolicySpec,
        *,
        key: str,
        findings: list[NotifiedFinding] | None = None,
        findings_total: int = 0,
        reason: str = "",
        variant: tuple[str, str] | None = None,
        repository_wide: bool = False,
    ) -> None:
        if self._sink is None:
            return
        # An event about the repository (its budget) names no pull request, and links the repository.
        number = None if repository_wide else job.number
        for target in targets_for(policy, event):
            if target not in self._targets:
                if target not in self._warned:
                    self._warned.add(target)
                    log.warning(
                        "notification target not configured", target=target, setting="ARGOAI_NOTIFY_TARGETS"
                    )
                continue
            note = Notification(
                id=f"{target}:{key}"[:300],
                event=event,
                target=target,
                occurred_at=datetime.now(UTC),
                host=job.repo.host,
                repository=job.repo.full_name,
                number=number,
                head_sha=getattr(job, "head_sha", "") or "",
                url=pull_request_url(job.repo, number),
                title="" if repository_wide else getattr(job, "title", "") or "",
                findings=findings or [],
                findings_total=findings_total,
                reason=reason[:2000],
                experiment=variant[0] if variant else None,
                variant=variant[1] if variant else None,
            )
            try:
                published = await self._sink.publish_notification(
                    target, note.model_dump_json().encode(), key=note.id
                )
            except ArgoAIError as exc:
                # Never the review's problem: it goes on, and the log says which event was lost.
                metrics.NOTIFICATIONS.labels(target=target, event=event, outcome="not_published").inc()
                log.warning(
                    "could not publish a notification", target=target, notification=event, error=str(exc)
                )
                continue
            if published:
                metrics.NOTIFICATIONS.labels(target=target, event=event, outcome="published").inc()
                log.info("notification published", target=target, notification=event, id=note.id)
