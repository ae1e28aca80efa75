"""The review job: what the reviewer's intake publishes for each pull request head that needs a review.

Jobs cross process boundaries through JetStream, so the model is versioned: a reviewer refuses (terminates)
a job whose ``version`` it does not know instead of guessing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SHA = Field(pattern=r"^[0-9a-f]{40}$")


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

    @property
    def key(self) -> str:
        """Identity of the review: one (PR, head SHA) is reviewed at most once."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}@{self.head_sha}"

    @property
    def pr_key(self) -> str:
        """Identity of the pull request, independent of its head."""
        return f"{self.repo.host}/{self.repo.full_name}#{self.number}"
