"""GitHub's JSON, read into the reviewer's domain dataclasses.

githubkit's generated models require every documented field, and GitHub (or an Enterprise Server version)
sometimes sends fewer; a missing field we never use must not fail a review. These models declare only what
the reviewer reads, and ignore the rest.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from argoai_reviewer.domain import (
    ChangedFile,
    CheckRun,
    Comparison,
    ExistingReview,
    FileStatus,
    IssueComment,
    PullRequest,
    Reactor,
    ReviewComment,
)
from argoai_reviewer.redeliver.job import HookDelivery

MAX_FILE_BYTES = 1024 * 1024  # the contents API sends content inline only up to 1 MB


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class UserJson(_Model):
    """An account: ``type`` is ``User``, ``Bot`` or ``Organization``."""

    login: str
    type: str = "User"


class RefJson(_Model):
    """``head`` or ``base`` of a pull request."""

    ref: str
    sha: str


class PullJson(_Model):
    """``GET /repos/{o}/{r}/pulls/{n}``."""

    number: int
    title: str
    body: str | None = None
    state: str
    draft: bool = False
    user: UserJson | None = None
    head: RefJson
    base: RefJson

    def to_domain(self) -> PullRequest:
        """The reviewer's view of it."""
        return PullRequest(
            number=self.number,
            title=self.title,
            body=self.body or "",
            head_sha=self.head.sha,
            base_sha=self.base.sha,
            base_ref=self.base.ref,
            state=self.state,
            draft=self.draft,
            author=self.user.login if self.user else "ghost",
            author_is_bot=bool(self.user and self.user.type == "Bot"),
        )


class FileJson(_Model):
    """One entry of ``/pulls/{n}/files`` or of a comparison's ``files``."""

    filename: str
    status: FileStatus
    additions: int = 0
    deletions: int = 0
    patch: str | None = None  # absent for binary files and very large diffs
    previous_filename: str | None = None

    def to_domain(self) -> ChangedFile:
        """The reviewer's view of it."""
        return ChangedFile(
            path=self.filename,
            status=self.status,
            additions=self.additions,
            deletions=self.deletions,
            patch=self.patch,
            previous_path=self.previous_filename,
        )


class CompareJson(_Model):
    """``GET /repos/{o}/{r}/compare/{base}...{head}``."""

    status: str
    files: list[FileJson] = Field(default_factory=list)

    def to_domain(self) -> Comparison:
        """The reviewer's view of it."""
        return Comparison(status=self.status, files=[f.to_domain() for f in self.files])


class ReviewJson(_Model):
    """One entry of ``/pulls/{n}/reviews``."""

    id: int
    body: str | None = None
    commit_id: str | None = None
    user: UserJson | None = None

    def to_domain(self) -> ExistingReview:
        """The reviewer's view of it."""
        return ExistingReview(
            id=self.id,
            body=self.body or "",
            commit_id=self.commit_id,
            author=self.user.login if self.user else "ghost",
        )


class ContentJson(_Model):
    """``GET /repos/{o}/{r}/contents/{path}`` for a single item (a directory answers a list instead)."""

    type: str
    size: int = 0
    encoding: str | None = None
    content: str | None = None

    def text(self) -> str | None:
        """The file's text; None for symlinks, submodules, files over 1 MB and binary files."""
        if (
            self.type != "file"
            or self.size > MAX_FILE_BYTES
            or self.encoding != "base64"
            or self.content is None
        ):
            # Over 1 MB GitHub answers encoding "none" and empty content: too large to review anyway.
            return None
        try:
            data = base64.b64decode(
                self.content
            )  # GitHub wraps the base64 at 60 columns; newlines are skipped
        except (binascii.Error, ValueError):
            return None
        if b"\x00" in data:
            return None  # binary
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None  # not text we can show a model


class DeliveryJson(_Model):
    """One entry of ``GET /app/hook/deliveries``."""

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool = False
    status: str
    status_code: int
    event: str
    action: str | None = None
    installation_id: int | None = None
    repository_id: int | None = None

    def to_domain(self) -> HookDelivery:
        """As a plain dataclass."""
        return HookDelivery(**self.model_dump())


class IssueCommentJson(_Model):
    """One entry of ``/issues/{n}/comments``."""

    id: int
    body: str | None = None
    user: UserJson | None = None

    def to_domain(self) -> IssueComment:
        """The reviewer's view of it."""
        return IssueComment(
            id=self.id,
            body=self.body or "",
            author=self.user.login if self.user else "ghost",
            author_is_bot=bool(self.user and self.user.type == "Bot"),
        )


class ReactionsJson(_Model):
    """The ``reactions`` roll-up of a comment."""

    plus_one: int = Field(default=0, alias="+1")
    minus_one: int = Field(default=0, alias="-1")


class ReviewCommentJson(_Model):
    """One entry of ``/pulls/{n}/comments`` (or ``/pulls/comments/{id}``)."""

    id: int
    body: str | None = None
    user: UserJson | None = None
    path: str = ""
    in_reply_to_id: int | None = None
    reactions: ReactionsJson | None = None
    line: int | None = None
    start_line: int | None = None
    original_line: int | None = None
    original_start_line: int | None = None

    def to_domain(self) -> ReviewComment:
        """The reviewer's view of it."""
        reactions = self.reactions or ReactionsJson()
        return ReviewComment(
            id=self.id,
            body=self.body or "",
            author=self.user.login if self.user else "ghost",
            author_is_bot=bool(self.user and self.user.type == "Bot"),
            path=self.path,
            in_reply_to=self.in_reply_to_id,
            thumbs_up=reactions.plus_one,
            thumbs_down=reactions.minus_one,
            line=self.line,
            start_line=self.start_line,
            original_line=self.original_line,
            original_start_line=self.original_start_line,
        )


class ReactionJson(_Model):
    """One entry of ``/comments/{id}/reactions``."""

    content: str
    user: UserJson | None = None

    def to_domain(self) -> Reactor:
        """Who reacted."""
        return Reactor(
            login=self.user.login if self.user else "ghost",
            is_bot=bool(self.user and self.user.type == "Bot"),
        )


class PermissionJson(_Model):
    """``GET /repos/{o}/{r}/collaborators/{user}/permission``: ``role_name`` is precise (maintain, triage),
    ``permission`` the legacy name (admin, write, read, none)."""

    permission: str = "none"
    role_name: str | None = None

    def role(self) -> str:
        """The most precise role GitHub reports."""
        return (self.role_name or self.permission or "none").lower()


class AppJson(_Model):
    """The App of a check run."""

    slug: str | None = None


class CheckRunJson(_Model):
    """One check run."""

    id: int
    name: str
    status: str
    conclusion: str | None = None
    app: AppJson | None = None

    def to_domain(self) -> CheckRun:
        """The reviewer's view of it."""
        return CheckRun(
            id=self.id,
            name=self.name,
            status=self.status,
            conclusion=self.conclusion,
            app_slug=self.app.slug if self.app else None,
        )
