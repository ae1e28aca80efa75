"""Decide what a webhook delivery asks of the reviewer: a :class:`ReviewJob`, a :class:`CommandJob` (a
trusted ``@<bot> <command>`` comment on a pull request, see
:mod:`~argoai_reviewer.conversation.commands`), or a reason to do nothing. Comments from untrusted people
or bots never become jobs: they cost nothing and get no reply.

Pure: no I/O. A payload that is not what GitHub sends raises :class:`InvalidInputError`, which the intake
consumer turns into a terminated delivery (never an endless redelivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from argoai_core.errors import InvalidInputError
from argoai_core.models.job import CommandJob, RepoRef, ReviewJob
from argoai_reviewer.conversation.commands import Untrusted, parse_command, untrusted

# Webhook events the intake reads (the others it is never given: its consumer filters on these).
INTAKE_EVENTS = ("pull_request", "issue_comment")
# pull_request actions that put a new head (or a newly reviewable PR) in front of the reviewer.
REVIEW_ACTIONS = frozenset({"opened", "reopened", "ready_for_review", "synchronize"})


class SkipReason(StrEnum):
    """Why a delivery produces no review job."""

    UNSUPPORTED_EVENT = "unsupported_event"
    IGNORED_ACTION = "ignored_action"
    CLOSED = "closed"
    OWN_PULL_REQUEST = "own_pull_request"
    NO_INSTALLATION = "no_installation"
    NOT_A_PULL_REQUEST = "not_a_pull_request"
    NO_COMMAND = "no_command"
    BOT_COMMENT = "bot_comment"
    UNTRUSTED_COMMENTER = "untrusted_commenter"


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
    default_branch: str | None = None


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


class _Issue(_Model):
    number: int
    state: str
    # Present (an object of URLs) only when the issue is a pull request.
    pull_request: dict[str, Any] | None = None


class _Comment(_Model):
    id: int
    body: str | None = None
    user: _User
    author_association: str | None = None


class _IssueCommentEvent(_Model):
    action: str
    issue: _Issue
    comment: _Comment
    repository: _Repository
    installation: _Installation | None = None


def is_bot(user_login: str, user_type: str, bot_name: str) -> bool:
    """Whether a GitHub user is this App's bot account (``<bot_name>[bot]``)."""
    login = user_login.lower()
    name = bot_name.lower()
    return login == f"{name}[bot]" or (user_type == "Bot" and login == name)


def job_from_webhook(
    event: str, delivery_id: str, payload: dict[str, Any], *, github_host: str, bot_name: str
) -> ReviewJob | CommandJob | Skip:
    """The review job a webhook delivery calls for, or why there is none.

    Drafts become jobs with ``draft=True``: whether drafts are reviewed is policy, applied by the pipeline.
    """
    if event == "issue_comment":
        return command_from_webhook(delivery_id, payload, github_host=github_host, bot_name=bot_name)
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
            default_branch=parsed.repository.default_branch,
        )
    except ValidationError as exc:
        raise InvalidInputError(
            f"pull_request payload does not make a review job: {_first_error(exc)}"
        ) from None


def command_from_webhook(
    delivery_id: str, payload: dict[str, Any], *, github_host: str, bot_name: str
) -> CommandJob | Skip:
    """The command job of an ``issue_comment`` delivery, or why there is none.

    Only a new comment (``created``; an edit could turn an old comment into a command) on an open pull
    request, from a trusted person (``commands.untrusted``), whose text gives a command counts.
    """
    try:
        parsed = _IssueCommentEvent.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(f"malformed issue_comment payload: {_first_error(exc)}") from None
    issue, comment = parsed.issue, parsed.comment
    if parsed.action != "created":
        return Skip(SkipReason.IGNORED_ACTION, parsed.action)
    if issue.pull_request is None:
        return Skip(SkipReason.NOT_A_PULL_REQUEST, f"#{issue.number}")
    if issue.state == "closed":
        return Skip(SkipReason.CLOSED, f"#{issue.number}")
    command = parse_command(comment.body, bot_name)
    if command is None:
        return Skip(SkipReason.NO_COMMAND, f"#{issue.number}")
    refused = untrusted(comment.user.login, comment.user.type, comment.author_association)
    if refused is not None:
        # Logged by the consumer (who and why; never the comment's text); no reply, no cost.
        reason = SkipReason.BOT_COMMENT if refused is Untrusted.BOT else SkipReason.UNTRUSTED_COMMENTER
        association = comment.author_association or "NONE"
        return Skip(reason, f"#{issue.number} '{command}' from {comment.user.login} ({association})")
    if parsed.installation is None:
        return Skip(SkipReason.NO_INSTALLATION, f"#{issue.number}")
    try:
        return CommandJob(
            delivery_id=delivery_id,
            installation_id=parsed.installation.id,
            repo=RepoRef(host=github_host, owner=parsed.repository.owner.login, name=parsed.repository.name),
            number=issue.number,
            command=command,
            comment_id=comment.id,
            commenter=comment.user.login,
            default_branch=parsed.repository.default_branch,
        )
    except ValidationError as exc:
        raise InvalidInputError(
            f"issue_comment payload does not make a command job: {_first_error(exc)}"
        ) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"
