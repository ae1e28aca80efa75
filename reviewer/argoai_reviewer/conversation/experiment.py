"""Experiments in production: which variant of a policy's experiment reviews a pull request, and what the
variant changes.

A pull request is assigned by a stable hash (SHA-256) of the experiment's name, its repository
(``owner/name``, case-insensitively; not the GitHub host, which a proxy or a move to GHES may change) and its
number: every push, every pod and every restart give the same
variant, and the variants get equal shares of the pull requests. A variant can change the model (and its
provider), the prompt templates (``promptDir``, a directory under ``ARGOAI_REVIEWER_PROMPTS_DIR``), the
verification setting (when the policy has one) and the context budget (prompt tokens of one LLM call).
The assignment is recorded in the summary comment's hidden metadata and the review history, and the metrics
carry it as their ``variant`` label (:mod:`argoai_reviewer.metrics`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from argoai_core.errors import ConfigError
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import ExperimentVariant, PolicySpec
from argoai_reviewer.analysis.review import AnalysisOptions


@dataclass(frozen=True)
class Assignment:
    """The variant of an experiment a pull request is reviewed with."""

    experiment: str
    variant: ExperimentVariant

    @property
    def label(self) -> tuple[str, str]:
        """``(experiment, variant)`` names."""
        return self.experiment, self.variant.name


def bucket(experiment: str, repo: RepoRef, number: int, variants: int) -> int:
    """The index of the variant of pull request ``repo#number`` among ``variants`` (stable)."""
    key = f"{experiment}\n{repo.full_name.lower()}#{number}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % variants


def assign(policy: PolicySpec, repo: RepoRef, number: int) -> Assignment | None:
    """The assignment of ``repo#number`` under ``policy``'s experiment; None when it runs none."""
    experiment = policy.experiment
    if experiment is None:
        return None
    index = bucket(experiment.name, repo, number, len(experiment.variants))
    return Assignment(experiment.name, experiment.variants[index])


def apply_to_policy(policy: PolicySpec, assignment: Assignment | None) -> PolicySpec:
    """``policy`` with the variant's model (and provider) and verification setting."""
    if assignment is None:
        return policy
    variant = assignment.variant
    update: dict[str, object] = {}
    if variant.model is not None:
        update.update(provider=variant.provider, model=variant.model)
    elif variant.provider is not None:
        update.update(provider=variant.provider, model=None)
    if variant.verification is not None:
        update["verification"] = variant.verification
    return policy.model_copy(update=update) if update else policy


def apply_to_analysis(
    options: AnalysisOptions, assignment: Assignment | None, prompts_root: Path | None
) -> AnalysisOptions:
    """``options`` with the variant's context budget and prompt templates.

    A variant naming a prompt directory that the reviewer does not have is a configuration error (the
    review fails, loudly, rather than running the control prompt under the variant's label).
    """
    if assignment is None:
        return options
    variant = assignment.variant
    update: dict[str, object] = {}
    if variant.max_input_tokens_per_call is not None:
        update["input_tokens_per_call"] = variant.max_input_tokens_per_call
    if variant.prompt_dir is not None:
        if prompts_root is None:
            raise ConfigError(
                f"experiment {assignment.experiment}, variant {variant.name}: promptDir needs "
                "ARGOAI_REVIEWER_PROMPTS_DIR on the reviewer"
            )
        directory = prompts_root / variant.prompt_dir
        if not directory.is_dir():
            raise ConfigError(
                f"experiment {assignment.experiment}, variant {variant.name}: no directory "
                f"{variant.prompt_dir!r} in ARGOAI_REVIEWER_PROMPTS_DIR"
            )
        update["prompts"] = directory
    return dataclasses.replace(options, **update) if update else options  # type: ignore[arg-type]
