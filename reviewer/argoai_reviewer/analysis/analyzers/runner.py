"""Run the enabled analyzers on a change and keep what they report on its changed lines.

For one review: the built-in analyzers read the diff; each tool analyzer gets the changed files it checks (at
head, from a :class:`~argoai_reviewer.analysis.analyzers.workspace.HeadTree`), in batches of at most
``batch_files``, one sandboxed process per batch, at most ``concurrency`` processes at once in the whole
process (shared by every review). Files are split over several processes only when there is enough to check
(:func:`plan_batches`): a small change is one process per tool. Each process's CPU and wall time is
``base_seconds + seconds_per_file × files`` and never more than what is left of the review's
``review_seconds``; its memory is capped at ``memory_mb``. A batch that fails (timeout, crash, limit,
unreadable output) is split in two and retried while time remains, so one pathological file costs only its own
findings. Whatever still fails becomes a note in the review summary; an analyzer never fails a review.

Only reports on lines the change adds are kept, minus the policy's disabled rules; each becomes a
:class:`~argoai_core.models.findings.ToolFinding` quoting its line at head.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from argoai_core.logs import get_logger
from argoai_core.models.findings import ToolFinding
from argoai_core.models.policy import AnalyzersPolicy
from argoai_reviewer.analysis.analyzers.base import (
    BuiltinAnalyzer,
    Executables,
    Report,
    ToolAnalyzer,
    ToolContext,
    Wanted,
    distribution_version,
)
from argoai_reviewer.analysis.analyzers.conflicts import ConflictsAnalyzer
from argoai_reviewer.analysis.analyzers.debugger import DebuggerAnalyzer
from argoai_reviewer.analysis.analyzers.lines import changed_lines
from argoai_reviewer.analysis.analyzers.merge import dedupe_tool_findings
from argoai_reviewer.analysis.analyzers.sandbox import (
    Failure,
    Limits,
    SandboxError,
    clean_environment,
    exit_failure,
    run_limited,
)
from argoai_reviewer.analysis.analyzers.secrets import SecretsAnalyzer
from argoai_reviewer.analysis.analyzers.tools import TOOLS
from argoai_reviewer.analysis.analyzers.tools._output import OutputError
from argoai_reviewer.analysis.analyzers.workspace import HeadTree, write_tree
from argoai_reviewer.analysis.diff import FileDiff
from argoai_reviewer.domain import FileStatus
from argoai_reviewer.metrics import ANALYZER_FINDINGS, ANALYZER_RUNS, ANALYZER_SECONDS
from argoai_reviewer.settings import ReviewerSettings

log = get_logger(__name__)

BUILTINS: tuple[BuiltinAnalyzer, ...] = (SecretsAnalyzer(), ConflictsAnalyzer(), DebuggerAnalyzer())
"""The in-process analyzers, run on every review unless the policy disables them."""

TITLE_MAX = 120
# A file can hold thousands of reports (a generated file, a new vendored script): past this, counted only.
REPORTS_PER_FILE = 50
_OUTCOMES = {
    Failure.TIMEOUT: "timed_out",
    Failure.CPU: "out_of_cpu",
    Failure.MEMORY: "out_of_memory",
    Failure.KILLED: "killed",
    Failure.OUTPUT: "too_much_output",
    Failure.CRASHED: "crashed",
    Failure.MISSING: "not_installed",
}


# What one tool process should have to check before a tool's files are split over several: its start-up
# (~0.15 s of CPU for bandit) is then a small share of its work (bandit checks ~130 KB of code a second).
MIN_BATCH_CHARS = 64_000


@dataclass(frozen=True)
class AnalyzerLimits:
    """What analyzers may use (``ARGOAI_REVIEWER_ANALYZER_*`` settings)."""

    concurrency: int = 2
    review_seconds: float = 60.0
    base_seconds: float = 10.0
    seconds_per_file: float = 1.0
    memory_mb: int = 1024
    max_file_bytes: int = 1_000_000
    batch_files: int = 64
    output_mb: int = 32

    @classmethod
    def from_settings(cls, settings: ReviewerSettings) -> AnalyzerLimits:
        """The limits ``ARGOAI_REVIEWER_ANALYZER_*`` set."""
        return cls(
            concurrency=settings.analyzer_concurrency,
            review_seconds=settings.analyzer_review_seconds,
            seconds_per_file=settings.analyzer_seconds_per_file,
            memory_mb=settings.analyzer_memory_mb,
        )


@dataclass
class AnalyzerResult:
    """What the analyzers found on the changed lines, and notes for the summary about what did not run."""

    findings: list[ToolFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Analyzer name → files it checked (the built-in ones: files with added lines).
    checked: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Target:
    path: str
    text: str
    changed: frozenset[int]

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass
class _Outcome:
    reports: list[Report] = field(default_factory=list)
    failed: dict[str, Failure] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalyzerInfo:
    """One analyzer as ``argoai dev`` lists it."""

    name: str
    builtin: bool
    version: str | None  # None: not installed


class AnalyzerRunner:
    """Runs analyzers for reviews; one per process (its concurrency bound is shared by every review)."""

    def __init__(
        self,
        limits: AnalyzerLimits | None = None,
        *,
        tools: Sequence[ToolAnalyzer] = TOOLS,
        builtins: Sequence[BuiltinAnalyzer] = BUILTINS,
        executables: Executables | None = None,
    ) -> None:
        self.limits = limits or AnalyzerLimits()
        self._tools = tuple(tools)
        self._builtins = tuple(builtins)
        self._executables = executables or Executables()
        self._gate = asyncio.Semaphore(self.limits.concurrency)

    def available(self) -> list[AnalyzerInfo]:
        """Every analyzer, with the installed version of each tool (None when it is not installed)."""
        infos = [AnalyzerInfo(builtin.name, True, "built in") for builtin in self._builtins]
        for tool in self._tools:
            installed = tool.program(self._executables) is not None
            version = distribution_version(tool.distribution) if installed else None
            infos.append(AnalyzerInfo(tool.name, False, (version or "installed") if installed else None))
        return infos

    async def run(
        self,
        diffs: Sequence[FileDiff],
        texts: Mapping[str, str | None],
        policy: AnalyzersPolicy,
        tree: HeadTree,
    ) -> AnalyzerResult:
        """Every enabled analyzer's findings on the lines ``diffs`` add (``texts``: the files at head)."""
        result = AnalyzerResult()
        if not policy.enabled:
            return result
        readable = [
            diff for diff in diffs if not diff.binary and diff.hunks and diff.status != FileStatus.REMOVED
        ]
        found: list[ToolFinding] = []
        for builtin in self._builtins:
            if policy.runs(builtin.name):
                for diff in readable:
                    found += builtin.check(diff)
                result.checked[builtin.name] = len(readable)
        targets = self._targets(readable, texts, result)
        found += await self._run_tools(targets, policy, tree, result)
        kept = [f for f in found if f.rule_ref not in policy.disabled_rules]
        result.findings = dedupe_tool_findings(kept)
        for tool, count in Counter(finding.tool for finding in result.findings).items():
            ANALYZER_FINDINGS.labels(tool).inc(count)
        return result

    def _targets(
        self, diffs: Sequence[FileDiff], texts: Mapping[str, str | None], result: AnalyzerResult
    ) -> dict[str, _Target]:
        targets = {}
        too_large = []
        for diff in diffs:
            text = texts.get(diff.path)
            changed = changed_lines(diff)
            if text is None or not changed:
                continue
            if len(text.encode("utf-8", errors="replace")) > self.limits.max_file_bytes:
                too_large.append(diff.path)
                continue
            targets[diff.path] = _Target(diff.path, text, changed)
        if too_large:
            result.notes.append(
                f"Analyzers skipped {_files(too_large)}: larger than {self.limits.max_file_bytes // 1000} KB."
            )
        return targets

    async def _run_tools(
        self, targets: Mapping[str, _Target], policy: AnalyzersPolicy, tree: HeadTree, result: AnalyzerResult
    ) -> list[ToolFinding]:
        plans: list[tuple[ToolAnalyzer, list[str], list[str]]] = []
        for tool in self._tools:
            if not policy.runs(tool.name):
                continue
            files = [t.path for t in targets.values() if tool.matches(t.path, t.text)]
            if not files:
                continue
            program = tool.program(self._executables)
            if program is None:
                ANALYZER_RUNS.labels(tool.name, "not_installed").inc()
                result.notes.append(f"{tool.name} is not installed: {_files(files)} not checked by it.")
                continue
            plans.append((tool, program, files))
        if not plans:
            return []
        paths = [path for _, _, files in plans for path in files]
        paths += [extra for tool, _, _ in plans for extra in tool.extra_files(policy.repository_config)]
        deadline = time.monotonic() + self.limits.review_seconds
        findings: list[ToolFinding] = []

        def wanted(path: str, line: int) -> bool:
            target = targets.get(path)
            return target is not None and line in target.changed

        with tempfile.TemporaryDirectory(prefix="argoai-analyzer-home-") as home:
            async with tree.open(paths) as root:
                context = ToolContext(root, self._executables, repository_config=policy.repository_config)
                env = clean_environment(Path(home), self._executables.directories)
                outcomes = await asyncio.gather(
                    *(
                        self._tool(tool, program, files, context, env, deadline, wanted, targets)
                        for tool, program, files in plans
                    )
                )
        for (tool, _, files), outcome in zip(plans, outcomes, strict=True):
            result.checked[tool.name] = len(files) - len(outcome.failed)
            findings += self._findings(tool.name, outcome.reports, targets)
            if outcome.failed:
                result.notes.append(_failure_note(tool.name, outcome.failed))
        return findings

    async def _tool(
        self,
        tool: ToolAnalyzer,
        program: list[str],
        files: list[str],
        context: ToolContext,
        env: Mapping[str, str],
        deadline: float,
        wanted: Wanted,
        targets: Mapping[str, _Target],
    ) -> _Outcome:
        narrowed = await asyncio.to_thread(_narrowed, tool, files, targets)
        read = narrowed if narrowed is not None else {path: targets[path].text for path in files}
        batches = plan_batches(
            files,
            {path: len(text) for path, text in read.items()},
            slots=self.limits.concurrency,
            max_files=self.limits.batch_files,
            min_chars=MIN_BATCH_CHARS,
        )
        with contextlib.ExitStack() as stack:
            if narrowed is not None:
                # The tool reads its own narrowed copies (same paths, same line numbers), never the tree.
                scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="argoai-narrowed-")))
                await asyncio.to_thread(write_tree, scratch / "tree", narrowed)
                context = replace(context, root=scratch / "tree")
            parts = await asyncio.gather(
                *(self._batch(tool, program, batch, context, env, deadline, wanted) for batch in batches)
            )
        outcome = _Outcome()
        for part in parts:
            outcome.reports += part.reports
            outcome.failed.update(part.failed)
        return outcome

    async def _batch(
        self,
        tool: ToolAnalyzer,
        program: list[str],
        files: list[str],
        context: ToolContext,
        env: Mapping[str, str],
        deadline: float,
        wanted: Wanted,
    ) -> _Outcome:
        """Reports for ``files`` from one process; on failure, each half again while time remains."""
        async with self._gate:
            remaining = deadline - time.monotonic()
            if remaining <= 0.5:
                return _Outcome(failed=dict.fromkeys(files, Failure.TIMEOUT))
            budget = min(self.limits.base_seconds + self.limits.seconds_per_file * len(files), remaining)
            limits = Limits(
                cpu_seconds=budget,
                wall_seconds=budget,
                memory_bytes=self.limits.memory_mb * 1024 * 1024,
                memory_kind=tool.memory_kind,
                output_bytes=self.limits.output_mb * 1024 * 1024,
            )
            started = time.monotonic()
            failure: Failure | None = None
            try:
                completed = await run_limited(
                    tool.command(program, files, context), cwd=context.root, env=env, limits=limits
                )
                if completed.returncode not in tool.ok_exit_codes:
                    raise exit_failure(completed)
                # Megabytes of output are parsed off the event loop, which other reviews share.
                reports = await asyncio.to_thread(tool.parse, completed.stdout, files, context.root, wanted)
            except SandboxError as exc:
                failure = exc.failure
                log.warning("analyzer failed", analyzer=tool.name, files=len(files), error=str(exc))
            except OutputError as exc:
                failure = Failure.CRASHED
                log.warning(
                    "analyzer output unreadable", analyzer=tool.name, files=len(files), error=str(exc)
                )
            finally:
                ANALYZER_SECONDS.labels(tool.name).observe(time.monotonic() - started)
        outcome_label = "ok" if failure is None else _OUTCOMES.get(failure, "crashed")
        ANALYZER_RUNS.labels(tool.name, outcome_label).inc()
        if failure is None:
            return _Outcome(reports=reports)
        if len(files) == 1 or failure is Failure.MISSING:
            return _Outcome(failed=dict.fromkeys(files, failure))
        half = len(files) // 2
        first, second = await asyncio.gather(
            self._batch(tool, program, files[:half], context, env, deadline, wanted),
            self._batch(tool, program, files[half:], context, env, deadline, wanted),
        )
        return _Outcome(reports=first.reports + second.reports, failed={**first.failed, **second.failed})

    @staticmethod
    def _findings(tool: str, reports: Sequence[Report], targets: Mapping[str, _Target]) -> list[ToolFinding]:
        """Reports on changed lines as findings (at most :data:`REPORTS_PER_FILE` per file), in file order."""
        findings = []
        per_file: dict[str, int] = {}
        on_changed = [r for r in reports if r.path in targets and r.line in targets[r.path].changed]
        for report in sorted(on_changed, key=lambda r: (r.path, r.line)):
            target = targets[report.path]
            per_file[report.path] = per_file.get(report.path, 0) + 1
            if per_file[report.path] > REPORTS_PER_FILE:
                continue
            findings.append(to_finding(tool, report, target.lines))
        return findings


def plan_batches(
    files: Sequence[str], sizes: Mapping[str, int], *, slots: int, max_files: int, min_chars: int
) -> list[list[str]]:
    """``files`` in consecutive batches, one process each: enough to keep every process slot busy (the tools
    are CPU bound) when there is enough to check, fewer when the files are small, none over ``max_files``.

    A tool process spends about 0.15 s of CPU before it reads a file (bandit: its imports), so splitting
    a few small files over several processes adds a start-up each and saves no time: a batch gets at least
    ``min_chars`` characters' worth of files when the files allow it.
    """
    if not files:
        return []
    total = sum(sizes.get(path, 0) for path in files)
    count = max(1, min(slots, len(files), -(-total // max(1, min_chars))))
    size = max(1, min(max_files, -(-len(files) // count)))
    return [list(files[i : i + size]) for i in range(0, len(files), size)]


def _narrowed(
    tool: ToolAnalyzer, files: Sequence[str], targets: Mapping[str, _Target]
) -> dict[str, str] | None:
    """Every file of ``tool`` as it should read it (narrowed where it can be), or None when none narrows."""
    texts = {}
    narrowed_any = False
    for path in files:
        target = targets[path]
        narrowed = tool.narrow(path, target.text, target.changed)
        narrowed_any = narrowed_any or narrowed is not None
        texts[path] = target.text if narrowed is None else narrowed
    return texts if narrowed_any else None


def describe(infos: Sequence[AnalyzerInfo]) -> str:
    """One line naming the analyzers: built-in ones, installed tools with their versions, missing tools."""
    builtin = [info.name for info in infos if info.builtin]
    tools = [f"{info.name} {info.version}" for info in infos if not info.builtin and info.version]
    missing = [info.name for info in infos if not info.builtin and not info.version]
    text = ", ".join(tools) + (f"; built in: {', '.join(builtin)}" if builtin else "")
    return text + (f"; not installed: {', '.join(missing)}" if missing else "")


def to_finding(tool: str, report: Report, lines: Sequence[str]) -> ToolFinding:
    """``report`` as a finding on its one line, quoting that line of ``lines`` (the file at head)."""
    line = lines[report.line - 1] if report.line <= len(lines) else ""
    summary = report.message or f"{tool} rule {report.rule}"
    title = summary if len(summary) <= TITLE_MAX else summary[: TITLE_MAX - 1].rsplit(" ", 1)[0] + "…"
    return ToolFinding(
        tool=tool,
        rule=report.rule,
        rule_url=report.url,
        path=report.path,
        start_line=report.line,
        end_line=report.line,
        quote=line[:4000] if line.strip() else "(empty line)",
        severity=report.severity,
        category=report.category,
        title=title,
        body=summary[:4000],
        suggestion=None,
    )


def _files(paths: Sequence[str]) -> str:
    shown = ", ".join(f"`{path}`" for path in paths[:3])
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return f"{len(paths)} file(s) ({shown}{more})" if len(paths) > 1 else shown


def _failure_note(tool: str, failed: Mapping[str, Failure]) -> str:
    by_reason: dict[Failure, list[str]] = {}
    for path, failure in failed.items():
        by_reason.setdefault(failure, []).append(path)
    parts = [f"{_files(paths)}: it {failure.value}" for failure, paths in by_reason.items()]
    return f"{tool} could not check " + "; ".join(parts) + f" (no {tool} findings there)."
