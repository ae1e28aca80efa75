"""The review policy: what to review and how. Source of the ``ReviewPolicy`` CRD's schema.

The same model reads ``ARGOAI_POLICY_FILE`` in local mode and the ``spec`` of ``ReviewPolicy`` resources in a
cluster; ``scripts/gen_crd.py`` writes the CRD from it and a test fails when they drift. Field names are
camelCase on the wire (as Kubernetes resources are), snake_case in Python.

Cross-field rules live twice, side by side: as a pydantic validator (local mode, the operator) and as the CEL
rule the API server runs (``x-kubernetes-validations`` in ``json_schema_extra``, copied into the CRD by the
generator). Tests evaluate both on the same documents so that they cannot disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from argoai_core.models.findings import Severity
from argoai_core.models.notification import NotificationEvent, TargetName

API_VERSION = "argoai.dev/v1alpha1"
KIND = "ReviewPolicy"

# A glob over GitHub owner or owner/repo names: letters, digits, '-', '_', '.', and glob characters.
OrgGlob = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.*?\[\]-]+$")]
RepoGlob = Annotated[
    str, Field(min_length=3, max_length=201, pattern=r"^[A-Za-z0-9_.*?\[\]-]+/[A-Za-z0-9_.*?\[\]-]+$")
]
PathGlob = Annotated[str, Field(min_length=1, max_length=512)]

# Kubernetes list semantics: a ``set`` list rejects duplicates at the API server (uniqueItems is not allowed
# in structural schemas); a ``map`` list is keyed by the named fields.
_SET: dict[str, Any] = {"x-kubernetes-list-type": "set"}


def _cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """One CEL validation rule as the CRD carries it."""
    entry = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


def _unique(values: list[Any], what: str) -> None:
    duplicates = sorted({str(value) for value in values if values.count(value) > 1})
    if duplicates:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(duplicates)}")


PullRequestAction = Literal["opened", "reopened", "ready_for_review", "synchronize"]
# The analyzers a review runs (argoai_reviewer.analysis.analyzers): the built-in checks and the tools.
AnalyzerName = Literal[
    "secrets",
    "conflicts",
    "debugger",
    "ruff",
    "bandit",
    "shellcheck",
    "hadolint",
    "actionlint",
    "yamllint",
    "biome",
]
# ``tool:rule`` as findings name them, e.g. ``ruff:F401``, ``shellcheck:SC2086``, ``biome:lint/style/noVar``.
RuleRef = Annotated[
    str,
    Field(min_length=3, max_length=140, pattern=r"^[a-z][a-z0-9-]{0,39}:[A-Za-z0-9][A-Za-z0-9_./-]{0,99}$"),
]
Command = Literal["help", "review", "full-review", "pause", "resume", "ignore", "summary", "dismiss", "ask"]
CheckPassConclusion = Literal["success", "neutral"]


def _all_actions() -> list[PullRequestAction]:
    return ["opened", "reopened", "ready_for_review", "synchronize"]


def _default_commands() -> list[Command]:
    # ``ignore`` stays opt-in, as it was: ``pause``/``resume`` do the same visibly (the summary says so).
    return ["help", "review", "full-review", "pause", "resume", "summary", "dismiss", "ask"]


class _Spec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


SCOPE_RULE = _cel(
    "!(has(self.orgs) && size(self.orgs) > 0 && has(self.repos) && size(self.repos) > 0)",
    "scope lists either orgs or repos, not both (write one policy per level)",
)


class PolicyScope(_Spec):
    """Which repositories a policy applies to. Empty: every repository (the cluster default).

    A policy is either repo-level (``repos``), org-level (``orgs``) or the cluster default (neither): its
    precedence is then unambiguous, which is why listing both is refused.
    """

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [SCOPE_RULE]})

    orgs: list[OrgGlob] = Field(
        default_factory=list,
        max_length=100,
        description="Owner globs (fnmatch *, ?, [...]), case-insensitive; makes the policy org-level",
        json_schema_extra=_SET,
    )
    repos: list[RepoGlob] = Field(
        default_factory=list,
        max_length=100,
        description="owner/repo globs, matched case-insensitively; makes the policy repo-level",
        json_schema_extra=_SET,
    )

    @model_validator(mode="after")
    def _one_level(self) -> Self:
        if self.orgs and self.repos:
            raise ValueError(SCOPE_RULE["message"])
        return self


class PathInstruction(_Spec):
    """Extra review instructions for the files that match a glob."""

    path: PathGlob = Field(description="Glob (gitignore style) of the files these instructions apply to")
    instructions: str = Field(min_length=1, max_length=4000, description="Instructions for those files")


class RelatedContext(_Spec):
    """Unchanged code shown to the model beside the change: definitions it uses, callers of what it edits."""

    enabled: bool = Field(default=True, description="Add related unchanged code to the prompts")
    max_tokens_per_call: int = Field(
        default=4000, ge=0, le=200_000, description="Most tokens of related code in one LLM call"
    )
    max_tokens_per_review: int = Field(
        default=16000, ge=0, le=2_000_000, description="Most tokens of related code in one review"
    )


class AgentMode(_Spec):
    """Agent mode: the model may call read-only tools over the repository at the reviewed head before it
    answers (read a file range, search, find definitions and references, list a directory), within bounds
    per review. Off by default: it multiplies the tokens of a review (each round resends the conversation),
    while the related-code prompt already shows the definitions and callers most cross-file bugs need."""

    enabled: bool = Field(default=False, description="Let the model call read-only tools over the repository")
    max_rounds: int = Field(default=8, ge=1, le=100, description="Most rounds of tool calls in one review")
    max_tool_calls: int = Field(default=40, ge=1, le=1000, description="Most tool calls in one review")
    max_tokens: int = Field(
        default=200_000, ge=1000, le=10_000_000, description="Most LLM tokens of agent calls in one review"
    )
    max_seconds: int = Field(
        default=180, ge=5, le=3600, description="Most seconds of agent work in one review"
    )


class Verification(_Spec):
    """Each candidate finding of the model checked by one more LLM call (keep or drop, with a reason) before
    it is posted; analyzer findings are not verified."""

    mode: Literal["off", "same-model", "other-model"] = Field(
        default="off", description="off, same-model (the review's model) or other-model (verification.model)"
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Model of the configured provider that verifies, with mode other-model",
    )

    @model_validator(mode="after")
    def _model_with_other(self) -> Self:
        if self.mode == "other-model" and not self.model:
            raise ValueError("verification.model: required with mode other-model")
        return self


def _severity(name: str) -> Any:
    return Field(default=None, description=f"Findings of {name} below this are not posted")


class AnalyzerSeverities(_Spec):
    """Minimum severity per analyzer, on top of the policy's ``minSeverity`` (the stricter of the two)."""

    secrets: Severity | None = _severity("the credential check")
    conflicts: Severity | None = _severity("the merge-conflict check")
    debugger: Severity | None = _severity("the debugger-leftover check")
    ruff: Severity | None = _severity("ruff")
    bandit: Severity | None = _severity("bandit")
    shellcheck: Severity | None = _severity("shellcheck")
    hadolint: Severity | None = _severity("hadolint")
    actionlint: Severity | None = _severity("actionlint")
    yamllint: Severity | None = _severity("yamllint")
    biome: Severity | None = _severity("biome")

    def for_analyzer(self, name: str) -> Severity | None:
        """The minimum set for analyzer ``name``, or None."""
        value = getattr(self, name, None)
        return value if isinstance(value, Severity) else None


class AnalyzersPolicy(_Spec):
    """Which analyzers run on the changed lines and how their findings are posted."""

    enabled: bool = Field(default=True, description="Run analyzers at all (false: the LLM alone)")
    disabled: list[AnalyzerName] = Field(
        default_factory=list,
        max_length=10,
        description="Analyzers not run, e.g. [bandit, yamllint]",
        json_schema_extra=_SET,
    )
    disabled_rules: list[RuleRef] = Field(
        default_factory=list,
        max_length=500,
        description="Rules whose findings are dropped, as tool:rule (ruff:E501, shellcheck:SC2086)",
        json_schema_extra=_SET,
    )
    min_severity: AnalyzerSeverities = Field(
        default_factory=AnalyzerSeverities, description="Minimum severity per analyzer"
    )
    count_towards_max_comments: bool = Field(
        default=True,
        description="Analyzer findings share maxComments with the LLM's (false: analyzers.maxComments)",
    )
    max_comments: int = Field(
        default=20,
        ge=0,
        le=100,
        description="Most inline analyzer comments when countTowardsMaxComments is false",
    )
    repository_config: bool = Field(
        default=False,
        description="Honour the repository's ruff configuration (plain data: ruff.toml, pyproject.toml)",
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        _unique(list(self.disabled), "analyzers.disabled")
        _unique(list(self.disabled_rules), "analyzers.disabledRules")
        return self

    def runs(self, name: str) -> bool:
        """True when analyzer ``name`` is to run."""
        return self.enabled and name not in self.disabled


class NotificationRoute(_Spec):
    """Which events go to which notification targets (names from the installation's targets Secret)."""

    events: list[NotificationEvent] = Field(
        min_length=1,
        max_length=4,
        description=(
            "critical_findings (a review posted a critical finding), review_failed (a review failed for "
            "good), token_budget_exhausted (the repository's daily token budget is spent), dead_lettered "
            "(any job went to the dead-letter stream)"
        ),
        json_schema_extra=_SET,
    )
    targets: list[TargetName] = Field(
        min_length=1,
        max_length=10,
        description="Names of targets configured in the installation's notification targets",
        json_schema_extra=_SET,
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        _unique(list(self.events), "notifications[].events")
        _unique(list(self.targets), "notifications[].targets")
        return self


# A variant's name is a Prometheus label value: short, and at most MAX_VARIANTS per experiment.
VariantName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
MAX_VARIANTS = 8
VARIANT_MODEL_RULE = _cel(
    "!has(self.model) || self.model == null || (has(self.provider) && self.provider != null)",
    "model names are provider-specific: set provider when setting model",
    ".model",
)


class ExperimentVariant(_Spec):
    """One arm of an experiment: what it changes from the policy (unset fields keep the policy's value)."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [VARIANT_MODEL_RULE]})

    name: VariantName = Field(description="The variant's name (the `variant` label of the metrics)")
    provider: Literal["openai", "anthropic"] | None = Field(default=None, description="LLM provider")
    model: str | None = Field(default=None, min_length=1, max_length=200, description="LLM model")
    prompt_dir: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$",
        description=(
            "A directory under the reviewer's ARGOAI_REVIEWER_PROMPTS_DIR whose system.j2 / batch.j2 replace "
            "the built-in prompt templates (a missing file keeps the built-in one)"
        ),
    )
    verification: Verification | None = Field(
        default=None, description="Verification of findings for this variant (replaces the policy's)"
    )
    max_input_tokens_per_call: int | None = Field(
        default=None,
        ge=2000,
        le=2_000_000,
        description=(
            "Context budget: prompt tokens of one LLM call (ARGOAI_REVIEWER_MAX_INPUT_TOKENS_PER_CALL)"
        ),
    )

    @model_validator(mode="after")
    def _provider(self) -> Self:
        if self.model is not None and self.provider is None:
            raise ValueError(f"model: {VARIANT_MODEL_RULE['message']}")
        return self


class Experiment(_Spec):
    """An experiment: pull requests split between variants by a stable hash of (repository, number)."""

    name: VariantName = Field(description="The experiment's name (recorded with each review)")
    variants: list[ExperimentVariant] = Field(
        min_length=2,
        max_length=MAX_VARIANTS,
        description="Two or more variants; each gets an equal share of the pull requests",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        _unique([variant.name for variant in self.variants], "experiment.variants[].name")
        return self


MODEL_RULE = _cel(
    "!has(self.model) || self.model == null || (has(self.provider) && self.provider != null)",
    "model names are provider-specific: set provider when setting model",
    ".model",
)


class PolicySpec(_Spec):
    """How ArgoAI reviews the pull requests of the repositories in ``scope``."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [MODEL_RULE]})

    scope: PolicyScope = Field(
        default_factory=PolicyScope,
        description="Repositories this policy applies to; precedence: repos > orgs > empty (cluster default)",
    )
    events: list[PullRequestAction] = Field(
        default_factory=_all_actions,
        max_length=4,
        description="pull_request actions that start a review",
        json_schema_extra=_SET,
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
    max_files: int = Field(
        default=3000, ge=1, le=3000, description="Most files reviewed in one pull request (by priority)"
    )
    max_lines: int = Field(
        default=20000, ge=1, le=200000, description="Most changed lines reviewed in one pull request"
    )
    max_diff_tokens: int = Field(
        default=1_000_000,
        ge=1000,
        le=10_000_000,
        description="Most tokens of changed code reviewed in one pull request (estimated from the diffs)",
    )
    related_context: RelatedContext = Field(
        default_factory=RelatedContext, description="Related unchanged code shown beside the change"
    )
    agent: AgentMode = Field(
        default_factory=AgentMode,
        description="Read-only tools the model may call (agent mode), and their bounds",
    )
    verification: Verification = Field(
        default_factory=Verification, description="A second LLM call that keeps or drops each finding"
    )
    instructions: str = Field(default="", max_length=8000, description="Review instructions for every file")
    path_instructions: list[PathInstruction] = Field(
        default_factory=list,
        max_length=50,
        description="Extra instructions per file glob (one entry per glob)",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"]},
    )
    review_drafts: bool = Field(default=False, description="Also review draft pull requests")
    request_changes: bool = Field(
        default=False, description="Submit REQUEST_CHANGES when a critical finding is posted"
    )
    token_budget_per_day: int | None = Field(
        default=None, ge=1000, le=1_000_000_000, description="LLM tokens per repository per day"
    )
    llm_cache_ttl_hours: int = Field(
        default=168,
        ge=0,
        le=2160,
        description=(
            "Hours an LLM answer is reused for an identical question (same model and prompt, same "
            "installation): a full review of an unchanged head costs no tokens; 0 turns the cache off"
        ),
    )
    commands: list[Command] = Field(
        default_factory=_default_commands,
        max_length=9,
        description=(
            "Comment commands that are enabled (default: help, review, full-review, pause, resume, summary, "
            "dismiss, ask; ask also enables questions in threads on ArgoAI's comments)"
        ),
        json_schema_extra=_SET,
    )
    questions_per_hour: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="Questions (ask, and mentions in ArgoAI's threads) answered per pull request per hour",
    )
    check_fail_on: Severity | None = Field(
        default=Severity.CRITICAL,
        description=(
            "The ArgoAI check run fails while an open finding is at or above this severity (default "
            "critical); null: it never fails"
        ),
    )
    check_pass_conclusion: CheckPassConclusion = Field(
        default="success", description="Conclusion of the ArgoAI check run when it does not fail"
    )
    learn_from_feedback: bool = Field(
        default=True,
        description=(
            "Do not post findings like ones the team rejected (a thumbs-down or dismiss) in the repository"
        ),
    )
    analyzers: AnalyzersPolicy = Field(
        default_factory=AnalyzersPolicy,
        description="Static analyzers run on the changed lines (ruff, bandit, shellcheck, hadolint, ...)",
    )
    notifications: list[NotificationRoute] = Field(
        default_factory=list,
        max_length=20,
        description="Events sent to notification targets (Slack, Discord, signed webhooks)",
    )
    experiment: Experiment | None = Field(
        default=None, description="An experiment splitting pull requests between variants"
    )

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.model is not None and self.provider is None:
            raise ValueError(f"model: {MODEL_RULE['message']}")
        _unique(list(self.events), "events")
        _unique(list(self.commands), "commands")
        _unique([entry.path for entry in self.path_instructions], "pathInstructions[].path")
        return self

    @property
    def level(self) -> int:
        """Precedence of this policy: 2 repo-level, 1 org-level, 0 cluster default."""
        if self.scope.repos:
            return 2
        return 1 if self.scope.orgs else 0


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


ConditionType = Literal["Ready", "Invalid"]


class PolicyCondition(BaseModel):
    """A status condition, shaped like Kubernetes' ``metav1.Condition``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    type: ConditionType = Field(description="Ready: valid and published; Invalid: the spec was refused")
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime = Field(description="When status last changed")
    observed_generation: int | None = Field(default=None, ge=0)


class PolicyStatus(BaseModel):
    """What the operator last did with a ``ReviewPolicy``; written only by the operator."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    observed_generation: int | None = Field(default=None, ge=0, description="Generation of the spec handled")
    matched_scope: str | None = Field(
        default=None, description="The level and globs this policy applies to, e.g. 'org: acme'"
    )
    revision: int | None = Field(
        default=None, ge=0, description="Revision of the policy-set key in the KV bucket that includes it"
    )
    conflicts: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Policies of the same precedence whose globs overlap this one's",
    )
    conditions: list[PolicyCondition] = Field(
        default_factory=list,
        max_length=8,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
