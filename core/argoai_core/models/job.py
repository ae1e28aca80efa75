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
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SHA = Field(pattern=r"^[0-9a-f]{40}$")
# The commands a comment can give (see argoai_reviewer.conversation.commands); none takes an argument.
JobCommand = Literal["review", "ignore"]
# Every job version this code reads (1: ReviewJob, 2: CommandJob).
JOB_VERSIONS = frozenset({1, 2})
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

    @property
    def key(self) -> str:
        """Identity of the review: one (PR, head SHA) is reviewed at most once, plus once per command."""
        key = f"{self.repo.host}/{self.repo.full_name}#{self.number}@{self.head_sha}"
        return key if self.command_id is None else f"{key}/command-{self.command_id}"

    @property
    def pr_key(self) -> str:
        """Identity of the pull request, independent of its head."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}"


class CommandJob(BaseModel):
    """A command from a trusted ``@<bot> <command>`` comment on a pull request (version 2).

    Only commands that exist can be expressed: ``review`` (review the current head now, even if it was
    reviewed; lifts ``ignore``) and ``ignore`` (skip this pull request's later pushes). Nothing that names a
    URL, key, model, provider or secret can be carried.
    """

    model_config = ConfigDict(frozen=True)

    version: Literal[2] = 2
    delivery_id: str = Field(min_length=1, max_length=100, description="X-GitHub-Delivery that caused it")
    installation_id: int = Field(gt=0)
    repo: RepoRef
    number: int = Field(gt=0)
    command: JobCommand
    comment_id: int = Field(gt=0, description="The comment that holds the command: one comment, one command")
    commenter: str = Field(min_length=1, max_length=100)
    default_branch: str | None = BRANCH

    @property
    def key(self) -> str:
        """Identity of the command: a redelivered comment webhook is the same command."""
        return f"{self.pr_key}!{self.command}/{self.comment_id}"

    @property
    def pr_key(self) -> str:
        """Identity of the pull request."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}"


AnyJob = ReviewJob | CommandJob


def parse_job(document: dict[str, Any]) -> AnyJob:
    """The job a decoded document holds, by its ``version``; pydantic's ValidationError when it is not one.

    The caller checks ``version`` against :data:`JOB_VERSIONS` first to tell an unknown version apart.
    """
    if document.get("version") == CommandJob.model_fields["version"].default:
        return CommandJob.model_validate(document)
    return ReviewJob.model_validate(document)
