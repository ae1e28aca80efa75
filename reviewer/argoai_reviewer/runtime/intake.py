"""Decide what a webhook delivery asks of the reviewer: a job, or a reason to do nothing.

================================  ==================================================================
event (action)                    job
================================  ==================================================================
``pull_request`` (opened…)        :class:`ReviewJob` of its head
``pull_request`` (closed)         :class:`PullRequestClosedJob`: read the feedback, expire the state
``issue_comment`` (created)       :class:`CommandJob` when it gives ``@<bot> <command>`` on a pull request
``pull_request_review_comment``   :class:`CommandJob` likewise, from a diff thread (``dismiss``…); in a
(created)                         reply, any other mention of the bot is a ``question`` about the thread
``check_run`` (rerequested)       :class:`ReviewJob` of that head again (``rerun_id``), for our ``ArgoAI`` run
================================  ==================================================================

Comments from bots (ours included) never become jobs. A command from someone GitHub does not call a member
becomes a job carrying their ``author_association``: whether they hold write permission is asked of GitHub
by the pipeline, which refuses with one short reply
(see :mod:`~argoai_reviewer.conversation.commands.runner`).

Pure: no I/O. A payload that is not what GitHub sends raises :class:`InvalidInputError`, which the intake
consumer turns into a terminated delivery (never an endless redelivery).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from argoai_core.errors import InvalidInputError
from argoai_core.models.job import CommandJob, CommentKind, PullRequestClosedJob, RepoRef, ReviewJob
from argoai_reviewer.conversation.checks_run import CHECK_NAME
from argoai_reviewer.conversation.commands.grammar import Untrusted, mentions, parse_command, untrusted

# Webhook events the intake reads (the others it is never given: its consumer filters on these).
INTAKE_EVENTS = ("pull_request", "issue_comment", "pull_request_review_comment", "check_run")
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
    NOT_OUR_CHECK = "not_our_check"
    NO_PULL_REQUEST = "no_pull_request"


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
    merged: bool | None = None
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
    in_reply_to_id: int | None = None


class _IssueCommentEvent(_Model):
    action: str
    issue: _Issue
    comment: _Comment
    repository: _Repository
    installation: _Installation | None = None


class _CommentedPullRequest(_Model):
    number: int
    state: str


class _ReviewCommentEvent(_Model):
    action: str
    comment: _Comment
    pull_request: _CommentedPullRequest
    repository: _Repository
    installation: _Installation | None = None


class _CheckRef(_Model):
    sha: str
    ref: str = ""


class _CheckPullRequest(_Model):
    number: int
    head: _CheckRef
    base: _CheckRef


class _App(_Model):
    slug: str | None = None


class _CheckRun(_Model):
    id: int
    name: str
    head_sha: str
    app: _App | None = None
    pull_requests: list[_CheckPullRequest] = []


class _CheckRunEvent(_Model):
    action: str
    check_run: _CheckRun
    repository: _Repository
    installation: _Installation | None = None


def is_bot(user_login: str, user_type: str, bot_name: str) -> bool:
    """Whether a GitHub user is this App's bot account (``<bot_name>[bot]``)."""
    login = user_login.lower()
    name = bot_name.lower()
    return login == f"{name}[bot]" or (user_type == "Bot" and login == name)


def job_from_webhook(
    event: str, delivery_id: str, payload: dict[str, Any], *, github_host: str, bot_name: str
) -> ReviewJob | CommandJob | PullRequestClosedJob | Skip:
    """The review job a webhook delivery calls for, or why there is none.

    Drafts become jobs with ``draft=True``: whether drafts are reviewed is policy, applied by the pipeline.
    """
    if event == "issue_comment":
        return command_from_webhook(delivery_id, payload, github_host=github_host, bot_name=bot_name)
    if event == "pull_request_review_comment":
        return command_from_review_comment(delivery_id, payload, github_host=github_host, bot_name=bot_name)
    if event == "check_run":
        return rerun_from_check_run(delivery_id, payload, github_host=github_host, bot_name=bot_name)
    if event != "pull_request":
        return Skip(SkipReason.UNSUPPORTED_EVENT, event)
    try:
        parsed = _PullRequestEvent.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(f"malformed pull_request payload: {_first_error(exc)}") from None
    pr = parsed.pull_request
    if parsed.action == "closed":
        return _closed(delivery_id, parsed, github_host=github_host, bot_name=bot_name)
    if pr.state == "closed":
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
    request, by a person (never a bot, ``commands.untrusted``), whose text gives a command counts; whether
    that person may give commands is the pipeline's to decide (it may ask GitHub).
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
    return _command_job(
        delivery_id,
        comment,
        parsed.repository,
        parsed.installation,
        issue.number,
        kind="issue",
        github_host=github_host,
        bot_name=bot_name,
    )


def command_from_review_comment(
    delivery_id: str, payload: dict[str, Any], *, github_host: str, bot_name: str
) -> CommandJob | Skip:
    """The command job of a ``pull_request_review_comment`` delivery (a comment in a diff thread), or why
    there is none: as :func:`command_from_webhook`, with the thread it was written in."""
    try:
        parsed = _ReviewCommentEvent.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(
            f"malformed pull_request_review_comment payload: {_first_error(exc)}"
        ) from None
    if parsed.action != "created":
        return Skip(SkipReason.IGNORED_ACTION, parsed.action)
    if parsed.pull_request.state == "closed":
        return Skip(SkipReason.CLOSED, f"#{parsed.pull_request.number}")
    return _command_job(
        delivery_id,
        parsed.comment,
        parsed.repository,
        parsed.installation,
        parsed.pull_request.number,
        kind="review",
        github_host=github_host,
        bot_name=bot_name,
    )


def _command_job(
    delivery_id: str,
    comment: _Comment,
    repository: _Repository,
    installation: _Installation | None,
    number: int,
    *,
    kind: CommentKind,
    github_host: str,
    bot_name: str,
) -> CommandJob | Skip:
    command = parse_command(comment.body, bot_name)
    if command is None and kind == "review" and comment.in_reply_to_id and mentions(comment.body, bot_name):
        # A mention in a reply in a diff thread asks about the thread's comment (answered only in ArgoAI's).
        command = "question"
    if command is None:
        return Skip(SkipReason.NO_COMMAND, f"#{number}")
    if untrusted(comment.user.login, comment.user.type, comment.author_association) is Untrusted.BOT:
        # Logged by the consumer (who; never the comment's text); bots are never answered.
        return Skip(SkipReason.BOT_COMMENT, f"#{number} '{command}' from {comment.user.login}")
    if installation is None:
        return Skip(SkipReason.NO_INSTALLATION, f"#{number}")
    try:
        return CommandJob(
            version=CommandJob.version_for(command),
            delivery_id=delivery_id,
            installation_id=installation.id,
            repo=RepoRef(host=github_host, owner=repository.owner.login, name=repository.name),
            number=number,
            command=command,
            comment_id=comment.id,
            commenter=comment.user.login,
            default_branch=repository.default_branch,
            association=(comment.author_association or "NONE").upper(),
            comment_kind=kind,
            in_reply_to=comment.in_reply_to_id,
        )
    except ValidationError as exc:
        raise InvalidInputError(f"comment payload does not make a command job: {_first_error(exc)}") from None


def _closed(
    delivery_id: str, parsed: _PullRequestEvent, *, github_host: str, bot_name: str
) -> PullRequestClosedJob | Skip:
    pr = parsed.pull_request
    if is_bot(pr.user.login, pr.user.type, bot_name):
        return Skip(SkipReason.OWN_PULL_REQUEST, f"#{pr.number}")
    if parsed.installation is None:
        return Skip(SkipReason.NO_INSTALLATION, f"#{pr.number}")
    return PullRequestClosedJob(
        delivery_id=delivery_id,
        installation_id=parsed.installation.id,
        repo=RepoRef(host=github_host, owner=parsed.repository.owner.login, name=parsed.repository.name),
        number=pr.number,
        merged=bool(parsed.pull_request.merged),
    )


def rerun_from_check_run(
    delivery_id: str, payload: dict[str, Any], *, github_host: str, bot_name: str
) -> ReviewJob | Skip:
    """A ``check_run`` ``rerequested`` for our ``ArgoAI`` run: review that head again (in full)."""
    try:
        parsed = _CheckRunEvent.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInputError(f"malformed check_run payload: {_first_error(exc)}") from None
    run = parsed.check_run
    if parsed.action != "rerequested":
        return Skip(SkipReason.IGNORED_ACTION, parsed.action)
    slug = run.app.slug if run.app is not None else None
    if run.name != CHECK_NAME or (slug is not None and slug.lower() != bot_name.lower()):
        return Skip(SkipReason.NOT_OUR_CHECK, f"{run.name} of {slug}")
    pull = next((p for p in run.pull_requests if p.head.sha == run.head_sha), None)
    if pull is None:
        # GitHub lists no pull request for a fork's head: there is nothing to re-review here.
        return Skip(SkipReason.NO_PULL_REQUEST, f"check run {run.id}")
    if parsed.installation is None:
        return Skip(SkipReason.NO_INSTALLATION, f"#{pull.number}")
    try:
        return ReviewJob(
            delivery_id=delivery_id,
            installation_id=parsed.installation.id,
            repo=RepoRef(host=github_host, owner=parsed.repository.owner.login, name=parsed.repository.name),
            number=pull.number,
            action="rerequested",
            head_sha=run.head_sha,
            base_sha=pull.base.sha,
            base_ref=pull.base.ref,
            default_branch=parsed.repository.default_branch,
            rerun_id=delivery_id,
            full=True,
        )
    except ValidationError as exc:
        raise InvalidInputError(
            f"check_run payload does not make a review job: {_first_error(exc)}"
        ) from None


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}"
