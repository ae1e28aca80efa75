"""The effective policy set: every named ReviewPolicy, and which one applies to a repository.

Shared by the operator (which computes and publishes it) and the reviewer (which resolves a policy per job,
from the KV bucket in a cluster or from ``ARGOAI_POLICY_FILE`` locally).

Resolution: the policy at the highest level wins — repo-level (``scope.repos``) over org-level
(``scope.orgs``) over the cluster default (empty scope) — and the built-in defaults (``PolicySpec()``) apply
when nothing matches. A policy applies whole: fields are not merged across levels, so what a repository gets
is exactly one document a human can read. Within one level the most specific matching glob wins (fewest
wildcards, then most literal characters), then the policy name; two policies of one level whose globs overlap
with equal specificity are a *conflict*, reported by :meth:`PolicySet.conflicts` (the operator turns them
into status and Events) and still resolved deterministically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml
from pydantic import ValidationError

from argoai_core.errors import ConfigError, InvalidInputError
from argoai_core.models.job import RepoRef
from argoai_core.models.policy import PolicySpec, ReviewPolicy

# Version of the JSON document stored in the KV bucket; readers refuse versions they do not know.
FORMAT_VERSION = 1
_WILDCARDS = re.compile(r"[*?\[]")
LEVEL_NAMES = {2: "repo", 1: "org", 0: "cluster default"}


@dataclass(frozen=True)
class NamedPolicy:
    """One ReviewPolicy of the set, under its ``namespace/name`` (or bare name in a policy file)."""

    name: str
    spec: PolicySpec

    @property
    def level(self) -> int:
        """2 repo-level, 1 org-level, 0 cluster default."""
        return self.spec.level

    @property
    def globs(self) -> list[str]:
        """The globs of its level (empty for the cluster default)."""
        return list(self.spec.scope.repos if self.level == 2 else self.spec.scope.orgs)

    def describe_scope(self) -> str:
        """Human-readable level and globs, e.g. ``org: acme, acme-*`` (the CRD's Scope column)."""
        globs = self.globs
        return f"{LEVEL_NAMES[self.level]}: {', '.join(globs)}" if globs else LEVEL_NAMES[self.level]

    def match(self, owner: str, repo: str) -> tuple[int, int] | None:
        """Specificity of the best glob matching ``owner/repo`` (higher is more specific), or None."""
        target = f"{owner}/{repo}".lower() if self.level == 2 else owner.lower()
        if self.level == 0:
            return (0, 0)
        best = [_specificity(glob) for glob in self.globs if fnmatchcase(target, glob.lower())]
        return max(best) if best else None


def _specificity(glob: str) -> tuple[int, int]:
    wildcards = len(_WILDCARDS.findall(glob))
    return (-wildcards, len(_WILDCARDS.sub("", glob)))


def _overlap(a: str, b: str) -> bool:
    """Whether two globs can match one name: each tried as a literal against the other (a heuristic)."""
    a, b = a.lower(), b.lower()
    return a == b or fnmatchcase(a, b) or fnmatchcase(b, a)


@dataclass(frozen=True)
class Conflict:
    """Two policies of one level that both claim some repositories with equally specific globs."""

    first: str
    second: str
    level: int
    globs: tuple[str, str]

    def message(self) -> str:
        """One line naming both policies and the overlapping globs."""
        if self.level == 0:
            return f"{self.first} and {self.second} are both cluster defaults; {self.first} applies"
        return (
            f"{self.first} ({self.globs[0]}) and {self.second} ({self.globs[1]}) are both "
            f"{LEVEL_NAMES[self.level]}-level and overlap; {self.first} applies where both match"
        )


@dataclass(frozen=True)
class PolicySet:
    """Every valid ReviewPolicy, sorted by name; immutable."""

    policies: tuple[NamedPolicy, ...] = ()

    @classmethod
    def of(cls, policies: Iterable[NamedPolicy]) -> PolicySet:
        """A set from ``policies`` in any order; names must be unique."""
        ordered = tuple(sorted(policies, key=lambda policy: policy.name))
        names = [policy.name for policy in ordered]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidInputError(f"policy names must be unique; repeated: {', '.join(duplicates)}")
        return cls(ordered)

    def __iter__(self) -> Iterator[NamedPolicy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def names(self) -> list[str]:
        """The policy names, sorted."""
        return [policy.name for policy in self.policies]

    def winner(self, owner: str, repo: str) -> NamedPolicy | None:
        """The policy that applies to ``owner/repo``, or None when only the built-in defaults do."""
        best: tuple[int, tuple[int, int]] | None = None
        chosen: NamedPolicy | None = None
        for policy in self.policies:  # sorted by name: the first of equals wins
            specificity = policy.match(owner, repo)
            if specificity is None:
                continue
            key = (policy.level, specificity)
            if best is None or key > best:
                best, chosen = key, policy
        return chosen

    def resolve(self, owner: str, repo: str) -> PolicySpec:
        """The policy for ``owner/repo``: repo > org > cluster default > built-in defaults."""
        chosen = self.winner(owner, repo)
        return chosen.spec if chosen is not None else PolicySpec()

    def conflicts(self) -> list[Conflict]:
        """Pairs of same-level policies whose globs overlap with equal specificity."""
        found: list[Conflict] = []
        for index, first in enumerate(self.policies):
            for second in self.policies[index + 1 :]:
                if first.level != second.level:
                    continue
                if first.level == 0:
                    found.append(Conflict(first.name, second.name, 0, ("", "")))
                    continue
                for a in first.globs:
                    pair = next(
                        (b for b in second.globs if _overlap(a, b) and _specificity(a) == _specificity(b)),
                        None,
                    )
                    if pair is not None:
                        found.append(Conflict(first.name, second.name, first.level, (a, pair)))
                        break
        return found

    def to_json(self) -> bytes:
        """The versioned JSON document stored in the KV bucket (deterministic: same set, same bytes)."""
        document = {
            "version": FORMAT_VERSION,
            "policies": [
                {"name": policy.name, "spec": policy.spec.model_dump(mode="json", by_alias=True)}
                for policy in self.policies
            ],
        }
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(cls, data: bytes) -> PolicySet:
        """Read a KV value; InvalidInputError for malformed JSON, an unknown version or an invalid spec."""
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"policy set is not JSON: {exc}") from None
        if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
            version = document.get("version") if isinstance(document, dict) else None
            raise InvalidInputError(
                f"policy set version {version!r} is not supported (want {FORMAT_VERSION})"
            )
        policies = []
        for index, entry in enumerate(document.get("policies", [])):
            try:
                policies.append(NamedPolicy(str(entry["name"]), PolicySpec.model_validate(entry["spec"])))
            except (KeyError, TypeError, ValidationError) as exc:
                raise InvalidInputError(f"policy set entry {index}: {exc}") from None
        return cls.of(policies)


class PolicyProvider(Protocol):
    """What the reviewer needs: the policy for one repository (mirrors the reviewer's own Protocol)."""

    def policy_for(self, repo: RepoRef) -> PolicySpec:
        """The effective policy for ``repo``."""
        ...


class StaticPolicyProvider:
    """A fixed policy set: local mode (``ARGOAI_POLICY_FILE``) and tests."""

    def __init__(self, policy_set: PolicySet) -> None:
        self._set = policy_set

    def policy_for(self, repo: RepoRef) -> PolicySpec:
        """The effective policy for ``repo``."""
        return self._set.resolve(repo.owner, repo.name)


def format_validation_error(exc: ValidationError, *, prefix: str = "") -> str:
    """``field.path: message`` for each problem, joined by ``; `` (camelCase paths, as in the YAML)."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)


def policy_key(namespace: str | None, name: str) -> str:
    """The name a policy has in the set: ``namespace/name``, or ``name`` when it has no namespace."""
    return f"{namespace}/{name}" if namespace else name


def load_policy_file(path: Path) -> PolicySet:
    """Read ``ARGOAI_POLICY_FILE`` (ReviewPolicy YAML documents); ConfigError naming document and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"ARGOAI_POLICY_FILE: cannot read {path}: {exc.strerror or exc}") from None
    try:
        documents: list[Any] = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ConfigError(f"ARGOAI_POLICY_FILE {path}: not valid YAML: {exc}") from None
    policies: list[NamedPolicy] = []
    number = 0
    for document in documents:
        if document is None:  # an empty document, e.g. a trailing '---'
            continue
        number += 1
        label = f"{path} document {number}"
        if isinstance(document, dict):
            name = (document.get("metadata") or {}).get("name")
            label += f" (ReviewPolicy {name!r})" if name else ""
        try:
            policy = ReviewPolicy.model_validate(document)
        except ValidationError as exc:
            raise ConfigError(f"ARGOAI_POLICY_FILE {label}: {format_validation_error(exc)}") from None
        policies.append(NamedPolicy(policy_key(policy.metadata.namespace, policy.metadata.name), policy.spec))
    try:
        return PolicySet.of(policies)
    except InvalidInputError as exc:
        raise ConfigError(f"ARGOAI_POLICY_FILE {path}: {exc}") from None
