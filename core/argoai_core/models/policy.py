"""The review policy: what to review and how. Source of the ``ReviewPolicy`` CRD's schema.

The same model reads ``ARGOAI_POLICY_FILE`` in local mode and the ``spec`` of ``ReviewPolicy`` resources in a
cluster; ``scripts/gen_crd.py`` writes the CRD from it and a test fails when they drift. Field names are
camelCase on the wire (as Kubernetes resources are), snake_case in Python.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from argoai_core.models.findings import Severity

API_VERSION = "argoai.dev/v1alpha1"
KIND = "ReviewPolicy"

# A glob over GitHub owner or owner/repo names: letters, digits, '-', '_', '.', and glob characters.
OrgGlob = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.*?\[\]-]+$")]
RepoGlob = Annotated[
    str, Field(min_length=3, max_length=201, pattern=r"^[A-Za-z0-9_.*?\[\]-]+/[A-Za-z0-9_.*?\[\]-]+$")
]
PathGlob = Annotated[str, Field(min_length=1, max_length=512)]
PullRequestAction = Literal["opened", "reopened", "ready_for_review", "synchronize"]
Command = Literal["review", "summary", "ignore"]


def _all_actions() -> list[PullRequestAction]:
    return ["opened", "reopened", "ready_for_review", "synchronize"]


def _default_commands() -> list[Command]:
    return ["review"]


class _Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class PolicyScope(_Spec):
    """Which repositories a policy applies to. Empty: every repository (the cluster default)."""

    orgs: list[OrgGlob] = Field(default_factory=list, max_length=100, description="Owner globs")
    repos: list[RepoGlob] = Field(default_factory=list, max_length=100, description="owner/repo globs")


class PathInstruction(_Spec):
    """Extra review instructions for the files that match a glob."""

    path: PathGlob = Field(description="Glob (gitignore style) of the files these instructions apply to")
    instructions: str = Field(min_length=1, max_length=4000)


class PolicySpec(_Spec):
    """How ArgoAI reviews the pull requests of the repositories in ``scope``."""

    scope: PolicyScope = Field(default_factory=PolicyScope)
    events: list[PullRequestAction] = Field(
        default_factory=_all_actions,
        max_length=4,
        description="pull_request actions that start a review",
    )
    provider: Literal["openai", "anthropic"] | None = Field(
        default=None, description="LLM provider; unset uses the reviewer's configured provider"
    )
    model: str | None = Field(
        default=None, min_length=1, max_length=200, description="LLM model; unset uses the configured one"
    )
    max_comments: int = Field(default=20, ge=0, le=100, description="Most inline comments in one review")
    min_severity: Severity = Field(default=Severity.MINOR, description="Findings below this are not posted")
    include: list[PathGlob] = Field(
        default_factory=list, max_length=200, description="Only review files matching these globs"
    )
    exclude: list[PathGlob] = Field(
        default_factory=list, max_length=200, description="Never review files matching these globs"
    )
    skip_generated: bool = Field(
        default=True, description="Skip generated, lock, vendored, minified and binary files"
    )
    max_files: int = Field(default=300, ge=1, le=3000, description="Most files reviewed in one pull request")
    max_lines: int = Field(
        default=20000, ge=1, le=200000, description="Most changed lines reviewed in one pull request"
    )
    instructions: str = Field(default="", max_length=8000, description="Review instructions for every file")
    path_instructions: list[PathInstruction] = Field(default_factory=list, max_length=50)
    review_drafts: bool = Field(default=False, description="Also review draft pull requests")
    request_changes: bool = Field(
        default=False, description="Submit REQUEST_CHANGES when a critical finding is posted"
    )
    token_budget_per_day: int | None = Field(
        default=None, ge=1000, le=1_000_000_000, description="LLM tokens per repository per day"
    )
    commands: list[Command] = Field(
        default_factory=_default_commands, max_length=3, description="Comment commands that are enabled"
    )


class PolicyMetadata(BaseModel):
    """The part of Kubernetes object metadata a policy file needs."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    namespace: str | None = None


class ReviewPolicy(BaseModel):
    """A ``ReviewPolicy`` document, as in a policy file or as a Kubernetes resource."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    api_version: Literal["argoai.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["ReviewPolicy"]
    metadata: PolicyMetadata
    spec: PolicySpec = Field(default_factory=PolicySpec)
