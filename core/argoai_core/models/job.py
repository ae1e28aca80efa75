"""The jobs the reviewer's intake publishes: a review of one pull request head, or a comment command.

Jobs cross process boundaries through JetStream, so the documents are versioned: a reviewer refuses
(terminates) a job whose ``version`` it does not know instead of guessing.

* Version 1, :class:`ReviewJob`: review a pull request at a known head. Still written for every
  ``pull_request`` event, unchanged except for optional fields with defaults (``default_branch``,
  ``command_id``): a reviewer that predates them reads the job as before and ignores them, which is safe
  (it then reads no in-repo configuration; ``command_id`` is never on the wire, see below).
* Version 2, :class:`CommandJob`: a trusted ``@<bot> <command>`` comment on a pull request. A comment does not
  name the head commit, so this is a different document, not a v1 job with blanks: a reviewer that only knows
  version 1 dead-letters it ("unknown version") rather than running it as a review of some head. The
  pipeline resolves a ``review`` command into a :class:`ReviewJob` at the pull request's current head, with
  ``command_id`` set (the comment id): that job exists only inside the pipeline.
* Version 3, also :class:`CommandJob`: every command of the conversation (``help``, ``full-review``,
  ``pause``, ``resume``, ``summary``, ``dismiss``… see :data:`JobCommand`), from a pull request comment or a
  review comment (``comment_kind``, ``in_reply_to``), with the commenter's ``author_association``: a commenter
  GitHub does not call a member may still hold write permission, which the pipeline asks GitHub about. A
  reviewer that knows only versions 1 and 2 dead-letters it rather than run a command it does not know.
  Version 2 documents still read (as trusted ``review``/``ignore`` commands from a pull request comment).
* Version 4, :class:`PullRequestClosedJob`: a pull request was closed; the reviewer reads the reactions on its
  comments (GitHub sends no webhook for reactions) and lets the pull request's state expire.
* Version 5, also :class:`CommandJob`: a question to the model, ``ask`` (``@<bot> ask <question>``) or
  ``question`` (any other mention of the bot in a reply in a diff thread). Written only for these two
  commands (the others stay version 3, so a reviewer that predates questions runs them as before); a
  reviewer that knows only versions 1 to 4 dead-letters a question as an unknown version. The question's
  text is not in the job: the reviewer reads the comment from GitHub, so the job still carries no argument.

A ``check_run`` ``rerequested`` event becomes a version 1 :class:`ReviewJob` with ``rerun_id`` set (a full
review of that head again); a reviewer that predates the field sees an action its policy does not review and
skips it.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

SHA = Field(pattern=r"^[0-9a-f]{40}$")
# The commands a comment can give (see argoai_reviewer.conversation.commands.grammar); none takes an argument
# (a question's text is read from the comment itself).
JobCommand = Literal[
    "help", "review", "full-review", "pause", "resume", "ignore", "summary", "dismiss", "ask", "question"
]
# The commands that ask the model a question: only in version 5 jobs.
QUESTION_COMMANDS = frozenset({"ask", "question"})
# Where a command was written: a pull request (issue) comment, or a review comment (in a diff thread).
CommentKind = Literal["issue", "review"]
# Every job version this code reads (1: ReviewJob, 2, 3 and 5: CommandJob, 4: PullRequestClosedJob).
JOB_VERSIONS = frozenset({1, 2, 3, 4, 5})
# An optional branch name: no whitespace, control or git-special characters (it becomes a ``ref`` parameter).
BRANCH = Field(default=None, min_length=1, max_length=255, pattern=r"^[^\s~^:?*\[\\\x00-\x1f\x7f]+$")


class RepoRef(BaseModel):
    """A repository on one GitHub host."""

    model_config = ConfigDict(frozen=True)

    host: str = Field(min_length=1, description="GitHub API host, e.g. api.github.com or ghe.example.com")
    owner: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=100)

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"


class ReviewJob(BaseModel):
    """One review of one pull request at one head commit."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1] = 1
    delivery_id: str = Field(min_length=1, max_length=100, description="X-GitHub-Delivery that caused it")
    installation_id: int = Field(gt=0)
    repo: RepoRef
    number: int = Field(gt=0)
    action: str = Field(description="pull_request action: opened, reopened, ready_for_review, synchronize")
    head_sha: str = SHA
    base_sha: str = SHA
    base_ref: str
    # For synchronize: the head before the push, to review only what changed since.
    before_sha: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    title: str = ""
    body: str = ""
    author: str = ""
    draft: bool = False
    # The repository's default branch, where its in-repo configuration is read (never from the PR's head).
    default_branch: str | None = BRANCH
    # Set only on the job the pipeline makes from a ``review`` command: the comment that asked for it.
    command_id: int | None = Field(default=None, gt=0)
    # Set on the job of a ``check_run`` ``rerequested`` event: the delivery that asked (one rerun each).
    rerun_id: str | None = Field(default=None, min_length=1, max_length=100)
    # Review the whole pull request, not only what changed since the last reviewed head.
    full: bool = False
    # Set on a job replayed from the dead-letter stream (``argoai dlq replay``): the replay's id. The pipeline
    # reviews such a job at the pull request's current head. A reviewer that predates it reviews the job's
    # head (and finds it superseded when the pull request moved on).
    replay_id: str | None = Field(default=None, min_length=1, max_length=100)

    @property
    def key(self) -> str:
        """Identity of the review: one (PR, head SHA) is reviewed once, plus once per command or re-run."""
        key = f"{self.repo.host}/{self.repo.full_name}#{self.number}@{self.head_sha}"
        if self.command_id is not None:
            return f"{key}/command-{self.command_id}"
        return key if self.rerun_id is None else f"{key}/rerun-{self.rerun_id}"

    @property
    def forced(self) -> bool:
        """Asked for explicitly (a command or a re-run of the check): the event rules do not apply."""
        return self.command_id is not None or self.rerun_id is not None

    @property
    def pr_key(self) -> str:
        """Identity of the pull request, independent of its head."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}"


class CommandJob(BaseModel):
    """A command from an ``@<bot> <command>`` comment on a pull request (versions 2, 3 and 5).

    Only commands that exist can be expressed (:data:`JobCommand`); none takes an argument, so nothing that
    names a URL, key, model, provider or secret can be carried. Bots never make command jobs; whether the
    commenter may give commands (``association``, else GitHub's permission) is checked by the pipeline.
    """

    model_config = ConfigDict(frozen=True)

    version: Literal[2, 3, 5] = 3
    delivery_id: str = Field(min_length=1, max_length=100, description="X-GitHub-Delivery that caused it")
    installation_id: int = Field(gt=0)
    repo: RepoRef
    number: int = Field(gt=0)
    command: JobCommand
    comment_id: int = Field(gt=0, description="The comment that holds the command: one comment, one command")
    commenter: str = Field(min_length=1, max_length=100)
    default_branch: str | None = BRANCH
    # The comment's author_association as GitHub computed it; None on version 2 (trusted by the intake).
    association: str | None = Field(default=None, max_length=40)
    comment_kind: CommentKind = "issue"
    # A review comment's thread: the id of the thread's first comment (GitHub's ``in_reply_to_id``).
    in_reply_to: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _question_version(self) -> Self:
        # A question in an older version would reach reviewers that cannot answer it; version 5 is questions.
        if (self.command in QUESTION_COMMANDS) != (self.version == 5):
            raise ValueError(
                "the commands ask and question are version 5 jobs, and version 5 holds only them"
            )
        return self

    @classmethod
    def version_for(cls, command: str) -> Literal[3, 5]:
        """The version a job of ``command`` is written with."""
        return 5 if command in QUESTION_COMMANDS else 3

    @property
    def key(self) -> str:
        """Identity of the command: a redelivered comment webhook is the same command."""
        kind = "" if self.comment_kind == "issue" else "review-comment-"
        return f"{self.pr_key}!{self.command}/{kind}{self.comment_id}"

    @property
    def pr_key(self) -> str:
        """Identity of the pull request."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}"


class PullRequestClosedJob(BaseModel):
    """A pull request was closed (version 4): read the feedback on its comments, let its state expire."""

    model_config = ConfigDict(frozen=True)

    version: Literal[4] = 4
    delivery_id: str = Field(min_length=1, max_length=100, description="X-GitHub-Delivery that caused it")
    installation_id: int = Field(gt=0)
    repo: RepoRef
    number: int = Field(gt=0)
    merged: bool = False

    @property
    def key(self) -> str:
        """Identity: one job per close (a pull request closed, reopened and closed again has two)."""
        return f"{self.pr_key}!closed/{self.delivery_id}"

    @property
    def pr_key(self) -> str:
        """Identity of the pull request."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}"


AnyJob = ReviewJob | CommandJob | PullRequestClosedJob


def parse_job(document: dict[str, Any]) -> AnyJob:
    """The job a decoded document holds, by its ``version``; pydantic's ValidationError when it is not one.

    The caller checks ``version`` against :data:`JOB_VERSIONS` first to tell an unknown version apart.
    """
    version = document.get("version")
    if version in (2, 3, 5):
        return CommandJob.model_validate(document)
    if version == 4:
        return PullRequestClosedJob.model_validate(document)
    return ReviewJob.model_validate(document)
