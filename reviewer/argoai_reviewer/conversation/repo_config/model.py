"""In-repository configuration (``.github/argoai.yaml``): the safe subset a repository may set, and the merge.

The file is read from the repository's DEFAULT branch, never from the pull request's head (the caller's
business, see :mod:`~argoai_reviewer.conversation.repo_config.cache`): a pull request cannot change its
own review rules.

What a repository may set, and how it combines with the effective cluster policy:

===================  ==============================================================================
``instructions``     appended to the policy's instructions (it adds, never removes)
``pathInstructions`` appended (a glob the policy already has then carries both entries)
``exclude``          added to the policy's exclusions
``include``          used when the policy has none; ignored (with a note) when the policy has its own
``minSeverity``      replaces the policy's
``maxComments``      the smaller of the two (the policy's is a ceiling)
``reviewDrafts``     replaces the policy's
``analyzers``        narrows the policy's ``analyzers``, never widens them: ``enabled: false`` turns them
                     off; ``disabled`` and ``disabledRules`` are added; a ``minSeverity`` per analyzer
                     applies when stricter than the policy's; ``maxComments`` the smaller;
                     ``countTowardsMaxComments: true`` and ``repositoryConfig: false`` apply. A request
                     to widen (enable analyzers, lower a minimum, stop counting towards the cap, honour
                     the repository's ruff configuration) is ignored with a note.
===================  ==============================================================================

Anything else (provider, model, commands, token budget, events, anything naming a URL or a secret) is not
a setting a repository has: a file that names one is ignored as a whole, with a note in the review summary,
as is a file that is not valid. Parsing never raises. Notes quote no text from the file beyond a key name
that is plainly a key (the summary is public and mentions would ping people).

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from argoai_core.models.findings import Severity
from argoai_core.models.policy import (
    AnalyzerName,
    AnalyzerSeverities,
    AnalyzersPolicy,
    PathGlob,
    PathInstruction,
    PolicySpec,
    RuleRef,
)

CONFIG_PATH = ".github/argoai.yaml"
MAX_CONFIG_CHARS = 64 * 1024
_PLAIN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,40}$")


class RepoAnalyzers(BaseModel):
    """What ``.github/argoai.yaml`` may say about analyzers (each setting can only narrow the policy's)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    enabled: bool | None = None
    disabled: list[AnalyzerName] = Field(default_factory=list, max_length=10)
    disabled_rules: list[RuleRef] = Field(default_factory=list, max_length=500)
    min_severity: AnalyzerSeverities | None = None
    count_towards_max_comments: bool | None = None
    max_comments: int | None = Field(default=None, ge=0, le=100)
    repository_config: bool | None = None


class RepoConfig(BaseModel):
    """The settings a repository may make in ``.github/argoai.yaml`` (camelCase or snake_case keys)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    instructions: str = Field(default="", max_length=4000)
    path_instructions: list[PathInstruction] = Field(default_factory=list, max_length=50)
    include: list[PathGlob] = Field(default_factory=list, max_length=200)
    exclude: list[PathGlob] = Field(default_factory=list, max_length=200)
    min_severity: Severity | None = None
    max_comments: int | None = Field(default=None, ge=0, le=100)
    review_drafts: bool | None = None
    analyzers: RepoAnalyzers | None = None


@dataclass(frozen=True)
class ParsedConfig:
    """A parsed file: its settings (None when absent or refused) and a note for the summary when refused."""

    config: RepoConfig | None
    note: str | None = None


def parse_repo_config(text: str | None) -> ParsedConfig:
    """The configuration in the text of ``.github/argoai.yaml`` (None: there is no file); never raises."""
    if text is None:
        return ParsedConfig(None)
    if len(text) > MAX_CONFIG_CHARS:
        return _refused(f"it is larger than {MAX_CONFIG_CHARS // 1024} KB")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        return _refused(f"it is not valid YAML{where}")
    if document is None:
        return ParsedConfig(RepoConfig())
    if not isinstance(document, dict):
        return _refused("it is not a mapping of settings")
    try:
        return ParsedConfig(RepoConfig.model_validate(document))
    except ValidationError as exc:
        return _refused(_reason(exc))


def apply_repo_config(policy: PolicySpec, config: RepoConfig) -> tuple[PolicySpec, list[str]]:
    """``policy`` with ``config`` merged in (see the module table), and notes for the review summary."""
    notes: list[str] = []
    instructions = "\n\n".join(text for text in (policy.instructions, config.instructions) if text)
    include = policy.include
    if config.include:
        if policy.include:
            notes.append(f"`include` in `{CONFIG_PATH}` was not applied: the review policy sets its own.")
        else:
            include = list(config.include)
    update = {
        "instructions": instructions,
        "path_instructions": [*policy.path_instructions, *config.path_instructions],
        "include": include,
        "exclude": [*policy.exclude, *(glob for glob in config.exclude if glob not in policy.exclude)],
        "min_severity": config.min_severity or policy.min_severity,
        "max_comments": min(policy.max_comments, config.max_comments)
        if config.max_comments is not None
        else policy.max_comments,
        "review_drafts": policy.review_drafts if config.review_drafts is None else config.review_drafts,
    }
    if config.analyzers is not None:
        update["analyzers"] = _narrow_analyzers(policy.analyzers, config.analyzers, notes)
    return policy.model_copy(update=update), notes


def _stricter(policy: Severity | None, repo: Severity | None) -> Severity | None:
    if repo is None:
        return policy
    if policy is None:
        return repo
    return repo if repo.rank < policy.rank else policy


def _narrow_analyzers(policy: AnalyzersPolicy, repo: RepoAnalyzers, notes: list[str]) -> AnalyzersPolicy:
    """``policy`` narrowed by ``repo``; a widening request is ignored and noted (by setting name only)."""
    widened: list[str] = []
    if repo.enabled and not policy.enabled:
        widened.append("enabled")
    if repo.count_towards_max_comments is False and policy.count_towards_max_comments:
        widened.append("countTowardsMaxComments")
    if repo.repository_config and not policy.repository_config:
        widened.append("repositoryConfig")
    if repo.max_comments is not None and repo.max_comments > policy.max_comments:
        widened.append("maxComments")
    severities = {}
    for name in AnalyzerSeverities.model_fields:
        ours, theirs = policy.min_severity.for_analyzer(name), None
        if repo.min_severity is not None:
            theirs = repo.min_severity.for_analyzer(name)
        if theirs is not None and ours is not None and theirs.rank > ours.rank:
            widened.append(f"minSeverity.{name}")
        severities[name] = _stricter(ours, theirs)
    if widened:
        what = ", ".join(widened)
        notes.append(f"`analyzers` in `{CONFIG_PATH}` cannot widen the review policy; not applied: {what}.")
    return policy.model_copy(
        update={
            "enabled": policy.enabled and repo.enabled is not False,
            "disabled": list(dict.fromkeys([*policy.disabled, *repo.disabled])),
            "disabled_rules": list(dict.fromkeys([*policy.disabled_rules, *repo.disabled_rules])),
            "min_severity": AnalyzerSeverities(**severities),
            "count_towards_max_comments": policy.count_towards_max_comments
            or bool(repo.count_towards_max_comments),
            "max_comments": min(policy.max_comments, repo.max_comments)
            if repo.max_comments is not None
            else policy.max_comments,
            "repository_config": policy.repository_config and repo.repository_config is not False,
        }
    )


def _refused(why: str) -> ParsedConfig:
    return ParsedConfig(None, f"`{CONFIG_PATH}` on the default branch was ignored: {why}.")


def _reason(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    keys = [str(part) for part in error["loc"] if isinstance(part, str)]
    key = keys[0] if keys and _PLAIN_KEY.match(keys[0]) else None
    if error["type"] == "extra_forbidden":
        return f"`{key}` is not a setting a repository can make" if key else "it has an unknown setting"
    return f"`{key}` is not valid" if key else "a setting is not valid"
