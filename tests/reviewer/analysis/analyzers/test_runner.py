"""The analyzer runner: a failing tool is a note, never a failed review; one bad file costs only its own
findings; a missing tool is named; the review's time budget holds."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from argoai_core.models.findings import Category, Severity
from argoai_core.models.policy import AnalyzersPolicy, PolicySpec
from argoai_reviewer.analysis.analyzers import AnalyzerLimits, AnalyzerRunner, Executables, Report, TempCopy
from argoai_reviewer.analysis.analyzers.base import ToolContext, Wanted
from argoai_reviewer.analysis.analyzers.runner import plan_batches
from argoai_reviewer.analysis.analyzers.sandbox import MemoryLimit
from argoai_reviewer.analysis.analyzers.tools import TOOLS
from argoai_reviewer.analysis.diff import FileDiff, parse_patch
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.conversation.render import compose_review
from support.analyzer_repos import make_repo, review

# A stand-in tool: reports every line containing "TODO"; crashes when it is given a file holding "POISON";
# hangs on "HANG".
SCRIPT = """
import json, sys, time
reports = []
for path in sys.argv[1:]:
    text = open(path).read()
    if "POISON" in text:
        sys.exit(3)
    if "HANG" in text:
        time.sleep(60)
    for number, line in enumerate(text.splitlines(), 1):
        if "TODO" in line:
            reports.append({"path": path, "line": number})
print(json.dumps(reports))
"""


class FakeTool:
    """A :class:`~argoai_reviewer.analysis.analyzers.base.ToolAnalyzer` running :data:`SCRIPT`."""

    name = "ruff"  # a policy name it can be enabled or disabled by
    distribution = "argoai"
    memory_kind: MemoryLimit = "as"
    ok_exit_codes = frozenset({0})

    def __init__(self, installed: bool = True) -> None:
        self.installed = installed

    def program(self, executables: Executables) -> list[str] | None:
        return [sys.executable, "-I", "-c", SCRIPT] if self.installed else None

    def matches(self, path: str, text: str) -> bool:
        return path.endswith(".txt")

    def extra_files(self, repository_config: bool) -> Sequence[str]:
        return ()

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        return None

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        return [*program, *files]

    def parse(self, stdout: bytes, files: Sequence[str], root: Path, wanted: Wanted) -> list[Report]:
        return [
            Report(
                item["path"],
                item["line"],
                "TODO1",
                "A TODO was added",
                Severity.MINOR,
                Category.MAINTAINABILITY,
            )
            for item in json.loads(stdout)
            if wanted(item["path"], item["line"])
        ]


def _new_file(path: str, text: str) -> FileDiff:
    lines = text.splitlines()
    return parse_patch(path, f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}\n" for line in lines))


async def _run(runner: AnalyzerRunner, files: dict[str, str]) -> tuple[list[tuple[str, int]], list[str]]:
    async def unavailable(path: str) -> str | None:
        return None

    diffs = [_new_file(path, text) for path, text in files.items()]
    result = await runner.run(diffs, files, AnalyzersPolicy(), TempCopy(unavailable, files))
    return sorted((f.path, f.start_line) for f in result.findings), result.notes


async def test_one_crashing_file_costs_only_its_own_findings() -> None:
    """A batch that crashes is split until the poisoned file is alone: the others' findings stay."""
    runner = AnalyzerRunner(tools=[FakeTool()], builtins=[])
    files = {f"f{i}.txt": f"x\nTODO {i}\n" for i in range(5)} | {"bad.txt": "POISON\nTODO\n"}
    found, notes = await _run(runner, files)
    assert found == [(f"f{i}.txt", 2) for i in range(5)]
    assert len(notes) == 1
    assert "`bad.txt`" in notes[0]
    assert "crashed" in notes[0]


async def test_a_hanging_tool_is_cut_at_the_review_budget() -> None:
    """A tool that hangs is stopped when the review's analyzer time is spent; the result still stands."""
    runner = AnalyzerRunner(AnalyzerLimits(review_seconds=2.0), tools=[FakeTool()], builtins=[])
    started = time.monotonic()
    found, notes = await _run(runner, {"slow.txt": "HANG\nTODO\n"})
    assert time.monotonic() - started < 10
    assert found == []
    assert notes == ["ruff could not check `slow.txt`: it timed out (no ruff findings there)."]


async def test_a_missing_tool_is_named_in_the_notes() -> None:
    """A tool that is not installed checks nothing and the summary says which files it skipped."""
    runner = AnalyzerRunner(tools=[FakeTool(installed=False)], builtins=[])
    found, notes = await _run(runner, {"a.txt": "TODO\n"})
    assert found == []
    assert notes == ["ruff is not installed: `a.txt` not checked by it."]


async def test_a_failing_analyzer_is_a_note_in_the_posted_review(tmp_path: Path) -> None:
    """Through the whole analysis: a crashed analyzer does not fail the review; the body says so."""
    (tmp_path / "repo").mkdir()
    repo = make_repo(tmp_path / "repo", {"a.txt": "ok\n"}, {"a.txt": "ok\nTODO\n", "b.txt": "POISON\n"})
    runner = AnalyzerRunner(tools=[FakeTool()], builtins=[])
    result = await review(repo, options=AnalysisOptions(analyzers=runner))
    assert [(p.path, p.finding.start_line) for p in result.analysis.placements] == [("a.txt", 2)]
    draft = compose_review(
        result.analysis.placements, policy=PolicySpec(), head_sha=result.change.head_sha
    ).draft
    # The note goes to the pull request's summary comment with the rest of the review's summary.
    assert "ruff could not check `b.txt`: it crashed" in result.analysis.summary
    assert len(draft.comments) == 1


def test_every_tool_is_installed_here_and_listed_with_its_version() -> None:
    """The image and the dev install ship every analyzer: each tool is found, with its wheel's version."""
    infos = AnalyzerRunner().available()
    assert [info.name for info in infos] == ["secrets", "conflicts", "debugger", *(t.name for t in TOOLS)]
    missing = [info.name for info in infos if info.version is None]
    assert missing == []


class CountingTool(FakeTool):
    """:class:`FakeTool` that keeps the files of every process it is started for."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: list[list[str]] = []

    def command(self, program: list[str], files: Sequence[str], context: ToolContext) -> list[str]:
        self.processes.append(sorted(files))
        return super().command(program, files, context)


async def test_a_small_change_is_checked_by_one_process_per_tool() -> None:
    """Two small files go to one tool process (a second would add a start-up and save no time)."""
    tool = CountingTool()
    runner = AnalyzerRunner(AnalyzerLimits(concurrency=2), tools=[tool], builtins=[])
    found, _ = await _run(runner, {"a.txt": "x\nTODO a\n", "b.txt": "TODO b\n"})
    assert found == [("a.txt", 2), ("b.txt", 1)]
    assert tool.processes == [["a.txt", "b.txt"]]


async def test_a_large_change_is_spread_over_every_process_slot() -> None:
    """Two files of 96,000 characters each are checked by two processes at once."""
    tool = CountingTool()
    runner = AnalyzerRunner(AnalyzerLimits(concurrency=2), tools=[tool], builtins=[])
    big = "x = 1\n" * 16_000 + "TODO\n"
    found, _ = await _run(runner, {"a.txt": big, "b.txt": big})
    assert found == [("a.txt", 16_001), ("b.txt", 16_001)]
    assert sorted(tool.processes) == [["a.txt"], ["b.txt"]]


def test_batches_follow_the_slots_the_sizes_and_the_file_cap() -> None:
    """As many batches as slots when there is enough to check, fewer when small, none over max_files."""
    files = [f"f{i}" for i in range(10)]
    small = dict.fromkeys(files, 1_000)
    large = dict.fromkeys(files, 50_000)
    assert plan_batches(files, small, slots=4, max_files=64, min_chars=64_000) == [files]
    assert plan_batches(files, large, slots=4, max_files=64, min_chars=64_000) == [
        files[0:3],
        files[3:6],
        files[6:9],
        files[9:10],
    ]
    assert plan_batches(files, large, slots=2, max_files=3, min_chars=64_000) == [
        files[0:3],
        files[3:6],
        files[6:9],
        files[9:10],
    ]
    assert plan_batches([], {}, slots=2, max_files=64, min_chars=64_000) == []
