"""Evaluation datasets: a directory of cases, each a git change with golden comments.

A case is a directory holding ``case.yaml`` and either

* two file trees, ``base/`` (the whole repository before the change) and ``head/`` (only the files the change
  adds or modifies, laid over ``base/``; ``removed:`` lists deleted paths) — reviewable as plain files, turned
  into a git repository in a temporary directory when the case runs; or
* ``repository:``, a git bundle (``*.bundle``) or a git repository directory, with ``base`` and ``head`` refs
  (for cases converted from real pull requests).

Golden comments carry ``comment`` and ``severity`` as in the Martian Code Review Bench's golden-comment JSON
(its ``Critical``/``High``/``Medium``/``Low`` map to critical/major/minor/nit), and optionally ``path`` and
``line`` (new-file line): with a location a finding matches by file and line window, without one an LLM
judge decides. Nothing from a case is executed: git only reads it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from argoai_core.errors import InvalidInputError
from argoai_core.models.findings import Severity

CASE_FILE = "case.yaml"

# The Martian Code Review Bench's severities, and ours, as one scale.
_SEVERITIES = {
    "critical": Severity.CRITICAL,
    "high": Severity.MAJOR,
    "major": Severity.MAJOR,
    "medium": Severity.MINOR,
    "minor": Severity.MINOR,
    "low": Severity.NIT,
    "nit": Severity.NIT,
}


def _severity(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in _SEVERITIES:
        return _SEVERITIES[value.strip().lower()]
    return value


class GoldenComment(BaseModel):
    """A problem the change has and a good review reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(min_length=1)
    severity: Annotated[Severity, BeforeValidator(_severity)] = Severity.MAJOR
    path: str | None = None
    line: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _line_needs_path(self) -> GoldenComment:
        if self.line is not None and self.path is None:
            raise ValueError("a golden comment with a line needs its path")
        return self


class CaseFile(BaseModel):
    """The contents of a case's ``case.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, description="The change's title (the commit subject of head)")
    description: str = ""
    kind: str = Field(default="", description="Free label for grouping, e.g. in-diff, cross-file, clean")
    repository: str | None = Field(
        default=None, description="A git bundle or repository, relative to the case"
    )
    base: str = "base"
    head: str = "head"
    removed: list[str] = Field(default_factory=list, description="Paths the change deletes (trees only)")
    golden: list[GoldenComment] = Field(default_factory=list)


@dataclass(frozen=True)
class Case:
    """One case of a dataset: its name (the directory's), where it lives, and its ``case.yaml``."""

    name: str
    directory: Path
    spec: CaseFile


def _one_line(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the file"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def load_case(directory: Path) -> Case:
    """The case in ``directory``; InvalidInputError naming the file and the problem."""
    path = directory / CASE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        spec = CaseFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise InvalidInputError(f"{path}: {_one_line(exc)}") from None
    if spec.repository is None and not (directory / "base").is_dir():
        raise InvalidInputError(f"{path}: neither a base/ tree nor a repository: is given")
    return Case(name=directory.name, directory=directory, spec=spec)


def load_dataset(directory: Path, only: list[str] | None = None) -> list[Case]:
    """The cases of ``directory`` (its subdirectories holding a ``case.yaml``), by name."""
    if not directory.is_dir():
        raise InvalidInputError(f"dataset {directory}: no such directory")
    cases = [load_case(child) for child in sorted(directory.iterdir()) if (child / CASE_FILE).is_file()]
    if not cases:
        raise InvalidInputError(f"dataset {directory}: no case (a subdirectory with a {CASE_FILE})")
    if only:
        unknown = sorted(set(only) - {case.name for case in cases})
        if unknown:
            raise InvalidInputError(f"dataset {directory}: no case named {', '.join(unknown)}")
        cases = [case for case in cases if case.name in only]
    return cases


# Commits of generated repositories are reproducible: fixed identity and dates, no user configuration read.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "argoai-eval",
    "GIT_AUTHOR_EMAIL": "eval@argoai.invalid",
    "GIT_COMMITTER_NAME": "argoai-eval",
    "GIT_COMMITTER_EMAIL": "eval@argoai.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


async def _git(cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env={**os.environ, **_GIT_ENV},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise InvalidInputError(f"git {args[0]}: {lines[-1] if lines else 'failed'}")
    return out.decode(errors="replace")


def _copy_tree(source: Path, target: Path) -> None:
    # Symlinks are copied as links (never followed): a case cannot pull in files from outside itself.
    # Files get a fresh mtime (shutil.copy, not copy2): a head file of the same size and mtime as the base
    # file it replaces would look unchanged to git's index.
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, copy_function=shutil.copy)


@dataclass(frozen=True)
class Checkout:
    """A case ready to review: the git repository and the refs of the change."""

    repo: Path
    base: str
    head: str


async def materialize(case: Case, workdir: Path) -> Checkout:
    """The case as a git repository under ``workdir`` (a bundle is cloned; a repository is used in place)."""
    spec = case.spec
    if spec.repository is not None:
        source = (case.directory / spec.repository).resolve()
        if not source.exists():
            raise InvalidInputError(f"case {case.name}: repository {spec.repository} does not exist")
        if source.is_dir():
            return Checkout(repo=source, base=spec.base, head=spec.head)
        repo = workdir / "repo.git"
        await _git(workdir, "clone", "--quiet", "--mirror", str(source), str(repo))
        return Checkout(repo=repo, base=spec.base, head=spec.head)
    repo = workdir / "repo"
    repo.mkdir()
    await _git(repo, "init", "--quiet", "--initial-branch=base")
    await asyncio.to_thread(_copy_tree, case.directory / "base", repo)
    await _git(repo, "add", "--all")
    await _git(repo, "commit", "--quiet", "--allow-empty", "-m", "base")
    await _git(repo, "checkout", "--quiet", "-b", "head")
    if (case.directory / "head").is_dir():
        await asyncio.to_thread(_copy_tree, case.directory / "head", repo)
    for removed in spec.removed:
        target = (repo / removed).resolve()
        if not target.is_relative_to(repo.resolve()) or not target.is_file():
            raise InvalidInputError(f"case {case.name}: removed path {removed!r} is not a file of base/")
        target.unlink()
    await _git(repo, "add", "--all")
    message = spec.title if not spec.description else f"{spec.title}\n\n{spec.description}"
    await _git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return Checkout(repo=repo, base="base", head="head")
