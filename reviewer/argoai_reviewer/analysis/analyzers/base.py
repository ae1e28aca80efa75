"""The analyzer interface: what an analyzer is given, what it reports, and the two kinds of analyzer.

* A :class:`BuiltinAnalyzer` runs in-process on the diff's added lines (credentials, conflict markers,
  debugger leftovers): pure functions, exact lines.
* A :class:`ToolAnalyzer` is a static-analysis program (ruff, shellcheck, …) run on the changed files at
  head, in a sandboxed process (:mod:`~argoai_reviewer.analysis.analyzers.sandbox`), with ArgoAI's own
  configuration. It says which files it reads, the command line for a batch of them, and how to turn its
  output into :class:`Report` values; the runner does everything else (batching, limits, keeping only what
  falls on changed lines, policy filters, turning reports into findings).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Protocol

from argoai_core.models.findings import Category, Severity, ToolFinding
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit
from argoai_reviewer.analysis.diff import FileDiff

CONFIG_DIR = Path(__file__).parent / "config"
"""ArgoAI's own configuration files for the tools (package data)."""

Wanted = Callable[[str, int], bool]
"""Whether a report on (path, line) is of interest."""


@dataclass(frozen=True)
class Report:
    """One problem as a tool reported it: a file, a line (of the file at head), a rule and a message."""

    path: str
    line: int
    rule: str
    message: str
    severity: Severity
    category: Category
    url: str | None = None


@dataclass(frozen=True)
class ToolContext:
    """What a tool's command line may refer to: the files' directory and the programs found."""

    root: Path
    executables: Executables
    repository_config: bool = False


class BuiltinAnalyzer(Protocol):
    """An in-process check of a file's added lines."""

    @property
    def name(self) -> str:
        """Its name in policies (``analyzers.disabled``)."""
        ...

    def check(self, diff: FileDiff) -> list[ToolFinding]:
        """Findings on the added lines of ``diff``."""
        ...


class ToolAnalyzer(Protocol):
    """A static-analysis program run on changed files at head."""

    @property
    def name(self) -> str:
        """Its name in policies, and the ``tool`` of its findings."""
        ...

    @property
    def distribution(self) -> str:
        """The Python distribution (wheel) that installs it."""
        ...

    @property
    def memory_kind(self) -> MemoryLimit:
        """How its memory is capped (``data`` for runtimes that reserve a large address space)."""
        ...

    @property
    def ok_exit_codes(self) -> frozenset[int]:
        """Exit statuses of a normal run (with or without findings)."""
        ...

    def program(self, executables: Executables) -> list[str] | None:
        """The program's argv prefix, or None when it is not installed."""
        ...

    def matches(self, path: str, text: str) -> bool:
        """True when this tool checks the file at ``path`` whose head content is ``text``."""
        ...

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        """Other repository files the tool may read (its honoured configuration), when present at head."""
        ...

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        """A cheaper version of the file with the same line numbers and the same findings on the ``changed``
        lines, or None to check the file as it is (see :mod:`~argoai_reviewer.analysis.analyzers.narrow`)."""
        ...

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        """The full command line checking ``files`` (paths relative to ``context.root``)."""
        ...

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        """The reports in the tool's output for ``files`` (relative to ``root``) on lines ``wanted`` accepts
        (the changed lines: filtering early keeps a tool's thousands of reports on other lines cheap);
        ``OutputError`` when the output is not what the tool documents."""
        ...


@dataclass
class Executables:
    """Finds the analyzers' programs: first beside the running Python (the venv's or image's ``bin``), then on
    ``PATH``; Python tools run as ``python -I -m module`` (isolated: the working directory, which holds the
    repository's files, is never on ``sys.path``)."""

    bin_dir: Path = field(default_factory=lambda: Path(sys.executable).parent)
    _cache: dict[str, str | None] = field(default_factory=dict)

    def binary(self, name: str) -> str | None:
        """The absolute path of program ``name``, or None."""
        if name not in self._cache:
            beside = self.bin_dir / name
            found = str(beside) if beside.is_file() else shutil.which(name)
            self._cache[name] = str(Path(found).resolve()) if found else None
        return self._cache[name]

    def python_module(self, module: str) -> list[str] | None:
        """``[python, -I, -m, module]`` when ``module`` is importable, else None."""
        key = f"python:{module}"
        if key not in self._cache:
            self._cache[key] = sys.executable if importlib.util.find_spec(module) is not None else None
        python = self._cache[key]
        return [python, "-I", "-m", module] if python else None

    @property
    def directories(self) -> list[Path]:
        """Directories put on the tools' ``PATH``."""
        return [self.bin_dir]


def distribution_version(name: str) -> str | None:
    """The installed version of the Python distribution ``name`` (how a tool was installed), or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
