"""Benchmark of agent mode's tools on the context benchmark's 2,000-file, 200,000-line repository.

Everything runs in this process as the reviewer runs it: the repository (``bench/context/run.py``'s
generator) is unpacked into a snapshot, then each tool is called through the review's toolbox (argument
checks, budget, redaction and fencing included), first on a cold index (the first call of a review) and then
warm. Figures are the time per call in milliseconds and the size of each answer.

    .venv/bin/python bench/agent/run.py [--files 2000] [--lines 100]

Prints one JSON object. Targets: every tool call ≤ 1 s once the index is warm (an LLM round takes seconds; a
regular-expression search reads every file, the slowest call), the first call of a review (which tokenizes
the repository once, as related context does) ≤ 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "review"))
# The context benchmark's repository generator (its module is also called ``run``: loaded by path).
_spec = importlib.util.spec_from_file_location("context_bench", HERE.parent / "context" / "run.py")
assert _spec is not None
assert _spec.loader is not None
context_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(context_bench)
MemorySource, repository, tarball = (
    context_bench.MemorySource,
    context_bench.repository,
    context_bench.tarball,
)

from argoai_core.logs import configure_logging  # noqa: E402
from argoai_reviewer.agent.budget import AgentBudget, AgentLimits  # noqa: E402
from argoai_reviewer.agent.calls import ToolCall  # noqa: E402
from argoai_reviewer.agent.toolbox import SnapshotToolbox  # noqa: E402
from argoai_reviewer.agent.tools import SnapshotTools  # noqa: E402
from argoai_reviewer.index.code_index import CodeIndex  # noqa: E402
from argoai_reviewer.workspace.snapshot import SnapshotKey  # noqa: E402
from argoai_reviewer.workspace.store import SnapshotStore  # noqa: E402

CALLS = [
    ("find_definitions", {"name": "scale_7"}),
    ("find_references", {"name": "helper_42"}),
    ("search", {"pattern": "compute_3(items"}),
    ("search", {"pattern": r"def step_1\d_3\(", "regex": True}),
    ("read_file", {"path": "pkg/lib.py", "start_line": 1, "end_line": 200}),
    ("list_directory", {"path": "pkg/mod3"}),
    ("read_file", {"path": "../etc/passwd"}),
]
TARGETS = {"warm_call_ms": 1000.0, "cold_first_call_s": 5.0}


async def main_async(files: int, lines: int) -> dict[str, Any]:
    tree = repository(files, lines)
    source = MemorySource({"h" * 40: tarball(tree)})
    with tempfile.TemporaryDirectory() as directory:
        store = SnapshotStore(Path(directory))
        async with store.checkout(SnapshotKey("bench", "o", "r", "h" * 40), source) as snapshot:
            index = CodeIndex(snapshot)
            box = SnapshotToolbox(
                SnapshotTools(snapshot, index), AgentBudget(AgentLimits(max_tool_calls=1000, max_rounds=1000))
            )
            figures: dict[str, Any] = {}
            for label in ("cold", "warm"):
                for name, args in CALLS:
                    started = time.perf_counter()
                    [result] = await box.run([ToolCall("c", name, json.dumps(args))])
                    elapsed = (time.perf_counter() - started) * 1000
                    key = f"{name}({next(iter(args.values()))})"
                    figures.setdefault(key, {})[f"{label}_ms"] = round(elapsed, 1)
                    figures[key]["chars"] = len(result.text)
                    figures[key]["error"] = result.is_error
    warm = max(entry["warm_ms"] for entry in figures.values())
    cold = max(entry["cold_ms"] for entry in figures.values()) / 1000
    return {
        "files": len(tree),
        "lines": sum(text.count("\n") for text in tree.values()),
        "calls": figures,
        "worst_warm_call_ms": warm,
        "worst_cold_call_s": round(cold, 2),
        "targets": TARGETS,
        "met": warm <= TARGETS["warm_call_ms"] and cold <= TARGETS["cold_first_call_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=100)
    args = parser.parse_args()
    configure_logging("WARNING")
    result = asyncio.run(main_async(args.files, args.lines))
    print(json.dumps(result, indent=2))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
