"""Decide what a webhook delivery asks of the reviewer: a :class:`ReviewJob`, or a reason to do nothing.

Pure: no I/O. A payload that is not what GitHub sends raises :class:`InvalidInputError`, which the intake
consumer turns into a terminated delivery (never an endless redelivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from argoai_core.errors import InvalidInputError
from argoai_core.models.job import RepoRef, ReviewJob

# pull_request actions that put a new head (or a newly reviewable PR) in front of the reviewer.
REVIEW_ACTIONS = frozenset({"opened", "reopened", "ready_for_review", "synchronize"})


class SkipReason(StrEnum):
    """Why a delivery produces no review job."""

    UNSUPPORTED_EVENT = "unsupported_event"
    IGNORED_ACTION = "ignored_action"
    CLOSED = "closed"
    OWN_PULL_REQUEST = "own_pull_request"
    NO_INSTALLATION = "no_installation"


@dataclass(frozen=True)
class Skip:
    """A delivery that needs no review, and why."""

    reason: SkipReason
    detail: str = ""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Model):
    login: str
    type: str = "User"


class _Ref(_Model):
    sha: str
    ref: str


class _PullRequest(_Model):
    number: int
    state: str
    title: str = ""
    body: str | None = None
    draft: bool = False
    user: _User
    head: _Ref
    base: _Ref


class _Owner(_Model):
    login: str


class _Repository(_Model):
    name: str
    owner: _Owner


class _Installation(_Model):
    id: int


class _PullRequestEvent(_Model):
    action: str
    number: int | None = None
    pull_request: _PullRequest
    repository: _Repository
    sender: _User
    installation: _Installation | None = None
    before: str | None = None


def is_bot(user_login: str, user_type: str, bot_name: str) -> bool:
    """Whether a GitHub user is this App's bot account (``<bot_name>[bot]``)."""
    login = user_login.lower()
    name = bot_name.lower()
    return login == f"{name}[bot]" or (user_type == "Bot" and login == name)


def job_from_webhook(
    event: str, delivery_id: str, payload: dict[str, Any], *, github_host: str, bot_name: str
) -> ReviewJob | Skip:
    """The review job a webhook delivery calls for, or why there is none.

    Drafts become jobs with ``draft=True``: whether drafts are reviewed is policy, applied by the pipeline.
    """
    if event != "pull_request":
        return Skip(SkipReason.UNSUPPORTED_EVENT, event)
    try:
        parsed = _PullRequestEvent.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(f"malformed pull_request payload: {_first_error(exc)}") from None
    pr = parsed.pull_request
    if parsed.action == "closed" or pr.state == "closed":
        return Skip(SkipReason.CLOSED, f"#{pr.number}")
    if parsed.action not in REVIEW_ACTIONS:
        return Skip(SkipReason.IGNORED_ACTION, parsed.action)
    # Reviewing our own pull requests (or reacting to our own pushes) could loop forever.
    if is_bot(pr.user.login, pr.user.type, bot_name) or is_bot(
        parsed.sender.login, parsed.sender.type, bot_name
    ):
        return Skip(SkipReason.OWN_PULL_REQUEST, f"#{pr.number}")
    if parsed.installation is None:
        # Without an installation the App has no token for the repository: nothing can be reviewed.
        return Skip(SkipReason.NO_INSTALLATION, f"#{pr.number}")
    try:
        return ReviewJob(
            delivery_id=delivery_id,
            installation_id=parsed.installation.id,
            repo=RepoRef(host=github_host, owner=parsed.repository.owner.login, name=parsed.repository.name),
            number=pr.number,
            action=parsed.action,
            head_sha=pr.head.sha,
            base_sha=pr.base.sha,
            base_ref=pr.base.ref,
            before_sha=parsed.before if parsed.action == "synchronize" else None,
            title=pr.title,
            body=pr.body or "",
            author=pr.user.login,
            draft=pr.draft,
        )
    except ValidationError as exc:
        raise InvalidInputError(
            f"pull_request payload does not make a review job: {_first_error(exc)}"
        ) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"
