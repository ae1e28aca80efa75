"""Benchmark of the analyzers: time they add to a review, and the cost of a suggestion's parse check.

(a) Added review time: the review's analysis (``analyze``, no LLM) of the review benchmark's pull requests
    (bench/review/prs.py: 20 files / 1,000 changed lines, 300 files / 20,000 changed lines, Python modules
    of 160 lines) with the analyzers on (default policy: secrets, conflicts, debugger, ruff, bandit) and off
    (``analyzers.enabled: false``), alternately, ``--runs`` times each; added = p50(on) − p50(off). The
    analyzers' own stage (``AnalyzerRunner.run``) is timed too, with its findings and the files each
    analyzer checked. Default limits (``ARGOAI_REVIEWER_ANALYZER_CONCURRENCY`` = 2). With an LLM the
    analyzers run while the model is asked, so they add only what outlasts the LLM calls: this measures the
    worst case, a review without an LLM.
(b) Parse checks: ``check_suggestion`` on a 160-line and a 2,000-line Python module and a 600-line
    TypeScript module, for valid and syntax-breaking suggestions: ``cold``, each the first on its file (the
    file is parsed, then the top-level statements the edit touches), and ``warm``, the next ones on the same
    file (its parse cached); p50, p90 and max of the CPU time in milliseconds (CPU time, so that other work on
    a shared machine does not count). The target applies to the cold p90 over all cases.

    .venv/bin/python bench/analyzers/run.py [--runs 5]

Prints one JSON object with ``targets``, the figures and ``met``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "review"))

from prs import BenchFile, make_pr

from argoai_core.logs import configure_logging
from argoai_core.models.policy import AnalyzersPolicy, PolicySpec
from argoai_reviewer.analysis.analyzers import AnalyzerRunner, TempCopy
from argoai_reviewer.analysis.analyzers.syntax import check_suggestion
from argoai_reviewer.analysis.diff import from_changed_file
from argoai_reviewer.analysis.review import AnalysisOptions, ChangeRequest, analyze
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.domain import ChangedFile, FileStatus, PullRequest

TARGETS = {"added_20_files_s": 1.0, "added_300_files_s": 10.0, "parse_check_p90_ms": 5.0}
PR = PullRequest(
    number=1,
    title="Bench",
    body="",
    head_sha="a" * 40,
    base_sha="b" * 40,
    base_ref="main",
    state="open",
    draft=False,
    author="dev",
    author_is_bot=False,
)


def _request(files: list[BenchFile]) -> ChangeRequest:
    changed = [
        ChangedFile(f.path, FileStatus.MODIFIED, f.changed_lines // 2, f.changed_lines // 2, f.patch)
        for f in files
    ]
    heads = {f.path: f.head for f in files}

    async def head_text(path: str) -> str | None:
        return heads.get(path)

    return ChangeRequest(pr=PR, files=changed, anchor_files=changed, head_text=head_text)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def _no_beat() -> None:
    return None


async def _review_seconds(request: ChangeRequest, policy: PolicySpec, options: AnalysisOptions) -> float:
    started = time.perf_counter()
    await analyze(request, policy, None, EstimateCounter(), options, heartbeat=_no_beat)
    return time.perf_counter() - started


async def added_time(files: list[BenchFile], runs: int) -> dict[str, Any]:
    """Part (a) for one pull request shape."""
    request = _request(files)
    options = AnalysisOptions(analyzers=AnalyzerRunner())
    on, off = PolicySpec(), PolicySpec(analyzers=AnalyzersPolicy(enabled=False))
    await _review_seconds(request, on, options)  # warm-up: imports, page cache
    with_analyzers, without = [], []
    for _ in range(runs):
        with_analyzers.append(await _review_seconds(request, on, options))
        without.append(await _review_seconds(request, off, options))
    diffs = [from_changed_file(changed) for changed in request.files]
    texts = {f.path: f.head for f in files}
    stage, own_cpu, tools_cpu = [], [], []
    for _ in range(runs):
        before_self, before_children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = await options.analyzers.run(diffs, texts, on.analyzers, TempCopy(request.head_text, texts))
        stage.append(time.perf_counter() - started)
        own_cpu.append(_cpu(resource.RUSAGE_SELF) - before_self)
        tools_cpu.append(_cpu(resource.RUSAGE_CHILDREN) - before_children)
    return {
        "files": len(files),
        "changed_lines": sum(f.changed_lines for f in files),
        "review_with_analyzers_p50_s": round(statistics.median(with_analyzers), 3),
        "review_without_analyzers_p50_s": round(statistics.median(without), 3),
        "added_p50_s": round(statistics.median(with_analyzers) - statistics.median(without), 3),
        "analyzer_stage_p50_s": round(statistics.median(stage), 3),
        "analyzer_stage_max_s": round(max(stage), 3),
        # CPU seconds of the stage: the reviewer process's own, and the tool processes'. On two idle cores the
        # stage cannot take less than max(own, (own + tools) / 2); a busy machine stretches wall time instead.
        "analyzer_stage_own_cpu_s": round(statistics.median(own_cpu), 3),
        "analyzer_stage_tools_cpu_s": round(statistics.median(tools_cpu), 3),
        "findings_on_changed_lines": len(result.findings),
        "files_checked": result.checked,
        "notes": result.notes,
    }


def _python(lines: int) -> str:
    body = [
        f"def step_{i}(items, factor={i % 7}):\n    return [x * factor for x in items if x > {i}]\n\n"
        for i in range(lines // 3)
    ]
    return "".join(body)


def _typescript(lines: int) -> str:
    body = [
        f"export function step{i}(items: number[], factor = {i % 7}): number[] {{\n"
        f"  return items.filter((x) => x > {i}).map((x) => x * factor);\n}}\n\n"
        for i in range(lines // 4)
    ]
    return "".join(body)


def parse_checks(repeat: int = 200) -> dict[str, Any]:
    """Part (b): each check the first on its file (cold), and the next ones on the same file (warm)."""
    cases = {
        "python_160_lines": (
            "m.py",
            _python(160),
            "    return [x * factor for x in items]",
            "    return [x * factor",
        ),
        "python_2000_lines": (
            "m.py",
            _python(2000),
            "    return [x * factor for x in items]",
            "    return [x * factor",
        ),
        "typescript_600_lines": (
            "m.ts",
            _typescript(600),
            "  return items.map((x) => x * factor);",
            "  return items.map((x) => x * factor;",
        ),
    }
    out: dict[str, Any] = {}
    cold: list[float] = []
    for name, (path, text, valid, broken) in cases.items():
        step = 3 if path.endswith(".py") else 4
        for kind, suggestion in (("valid", valid), ("broken", broken)):
            for warmth in ("cold", "warm"):
                times = []
                originals: dict[str, Any] = {}
                for i in range(repeat):
                    line = 2 + step * (i % 50)
                    cache = originals if warmth == "warm" else None
                    started = time.process_time()
                    verdict = check_suggestion(path, text, line, line, suggestion, cache)
                    times.append((time.process_time() - started) * 1000)
                    assert verdict.ok is (kind == "valid"), (name, kind, verdict)
                if warmth == "warm":
                    times = times[1:]  # the first one parsed the file
                times.sort()
                if warmth == "cold":
                    cold += times
                out[f"{name}_{kind}_{warmth}"] = {
                    "p50_ms": round(times[len(times) // 2], 3),
                    "p90_ms": round(times[int(len(times) * 0.9)], 3),
                    "max_ms": round(times[-1], 3),
                }
    cold.sort()
    out["cold_p50_ms"] = round(cold[len(cold) // 2], 3)
    out["cold_p90_ms"] = round(cold[int(len(cold) * 0.9)], 3)
    return out


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    started = time.monotonic()
    small = await added_time(make_pr(20, 1_000), args.runs)
    large = await added_time(make_pr(300, 20_000), max(3, args.runs // 2))
    checks = parse_checks()
    met = {
        "added_20_files_s": small["added_p50_s"] <= TARGETS["added_20_files_s"],
        "added_300_files_s": large["added_p50_s"] <= TARGETS["added_300_files_s"],
        "parse_check_p90_ms": checks["cold_p90_ms"] <= TARGETS["parse_check_p90_ms"],
    }
    report = {
        "targets": TARGETS,
        "pr_20_files": small,
        "pr_300_files": large,
        "parse_checks": checks,
        "met": met,
        "bench_seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
