"""Benchmark of deep review: snapshot, code index and related context on a 2,000-file, 200,000-line repo.

Everything runs in this process, as the reviewer runs it (no GitHub, no LLM: the archive comes from memory and
the model is a stand-in that counts the prompts it is sent):

(a) snapshot: a tar.gz of the repository unpacked by the ``SnapshotStore`` with 8 concurrent checkouts of the
    same head (how many downloads: must be 1), and the time to unpack;
(b) index + related context for a 20-file change at the first head (cold per-process cache), then for the next
    head of the same pull request, where one file changed (warm cache);
(c) prompt tokens of the 20-file benchmark pull request (``bench/review/prs.py``'s shape) reviewed without and
    with related context: the ratio;
(d) peak RSS of this process (``VmHWM``) once the snapshot is indexed.

    .venv/bin/python bench/context/run.py [--files 2000] [--lines 100]

Prints one JSON object; see bench/README.md. Targets: (b) ≤ 5 s first head, ≤ 1 s next head; (a) one fetch;
(c) ratio ≤ 1.5; (d) ≤ 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "review"))

from prs import make_pr  # noqa: E402

from argoai_core.logs import configure_logging  # noqa: E402
from argoai_core.models.findings import ReviewOutput  # noqa: E402
from argoai_core.models.policy import PolicySpec  # noqa: E402
from argoai_reviewer.analysis.context import build_batches  # noqa: E402
from argoai_reviewer.analysis.diff import by_path, from_changed_file  # noqa: E402
from argoai_reviewer.analysis.model import ModelReply  # noqa: E402
from argoai_reviewer.analysis.related import RelatedLimits, find_related  # noqa: E402
from argoai_reviewer.analysis.review import AnalysisOptions, ChangeRequest, analyze  # noqa: E402
from argoai_reviewer.analysis.tokens import counter_for  # noqa: E402
from argoai_reviewer.domain import ChangedFile, FileStatus, PullRequest  # noqa: E402
from argoai_reviewer.index.cache import IndexCache  # noqa: E402
from argoai_reviewer.index.code_index import CodeIndex  # noqa: E402
from argoai_reviewer.workspace.snapshot import SnapshotKey  # noqa: E402
from argoai_reviewer.workspace.store import SnapshotStore  # noqa: E402

TARGETS = {"first_head_s": 5.0, "next_head_s": 1.0, "fetches_per_head": 1, "token_ratio": 1.5, "rss_mb": 250}
COUNTER = counter_for("openai", "gpt-4o-mini")


def _python_module(index: int, lines: int) -> str:
    out = [f'"""Module {index}."""\n', f"from pkg.lib import compute_{index % 7}\n", "\n"]
    function = 0
    while len(out) < lines:
        out.append(f"def step_{index}_{function}(items, factor={function}):\n")
        body = [
            f"    total = compute_{(index + function) % 7}(items, factor)\n",
            f"    scaled = scale_{(index * 3 + function) % 50}(total, {function})\n",
            "    if scaled > 100:\n",
            f"        return helper_{(index + function) % 200}(scaled)\n",
            "    return scaled\n",
            "\n",
        ]
        out += body
        function += 1
    return "".join(out[:lines])


def _other_module(index: int, lines: int, language: str) -> tuple[str, str]:
    if language == "go":
        body = [f"package p{index % 20}\n\n"]
        body += [
            f"func Helper{index}_{n}(x int) int {{ return Scale{n % 50}(x) + {n} }}\n"
            for n in range(lines - 2)
        ]
        return f"go/p{index % 20}/f{index}.go", "".join(body)
    if language == "ts":
        body = [f"export function helper{index}_{n}(x: number): number {{ return scale{n % 50}(x) + {n}; }}\n"
                for n in range(lines)]  # fmt: skip
        return f"web/src/m{index}.ts", "".join(body)
    body = [f"class C{index} {{\n"]
    body += [f"  int m{n}(int x) {{ return Util.scale{n % 50}(x) + {n}; }}\n" for n in range(lines - 2)]
    body.append("}\n")
    return f"java/src/C{index}.java", "".join(body)


def repository(files: int, lines: int) -> dict[str, str]:
    """``files`` files of ``lines`` lines: 70 % Python, the rest Go, TypeScript and Java; definitions of the
    helpers they call live in a few library modules."""
    tree: dict[str, str] = {}
    library = [f"def compute_{n}(items, factor):\n    return sum(items) * factor\n\n" for n in range(7)]
    library += [f"def scale_{n}(value, percent):\n    return value * percent / 100\n\n" for n in range(50)]
    tree["pkg/lib.py"] = "".join(library)
    helpers = [f"def helper_{n}(value):\n    return value - {n}\n\n" for n in range(200)]
    tree["pkg/helpers.py"] = "".join(helpers)
    for index in range(files - len(tree)):
        if index % 10 < 7:
            tree[f"pkg/mod{index // 100}/m{index}.py"] = _python_module(index, lines)
        else:
            path, text = _other_module(index, lines, ("go", "ts", "java")[index % 3])
            tree[path] = text
    return tree


def tarball(tree: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, text in tree.items():
            data = text.encode()
            info = tarfile.TarInfo(f"bench-repo-1234567/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class MemorySource:
    """Archives from memory, counting downloads."""

    def __init__(self, archives: dict[str, bytes]) -> None:
        self.archives = archives
        self.downloads = 0

    async def download_archive(self, sha: str, destination: Path, max_bytes: int) -> None:
        self.downloads += 1
        await asyncio.sleep(0.05)  # a network's worth of time, so that concurrent checkouts overlap
        await asyncio.to_thread(destination.write_bytes, self.archives[sha])


def change(tree: dict[str, str], paths: list[str]) -> list[ChangedFile]:
    """Each of ``paths`` changed: a new call in the middle of the file, as a GitHub patch."""
    files = []
    for path in paths:
        lines = tree[path].splitlines(keepends=True)
        at = len(lines) // 2
        added = [f"    extra = scale_7(compute_3(items, 2), 0.15)  # new in {path}\n", "    total += extra\n"]
        tree[path] = "".join(lines[:at] + added + lines[at:])
        context_before, context_after = lines[at - 3 : at], lines[at : at + 3]
        patch = f"@@ -{at - 2},6 +{at - 2},8 @@\n" + "".join(f" {x}" for x in context_before)
        patch += "".join(f"+{x}" for x in added) + "".join(f" {x}" for x in context_after)
        files.append(ChangedFile(path, FileStatus.MODIFIED, 2, 0, patch.rstrip("\n")))
    return files


def related_for(index: CodeIndex, tree: dict[str, str], files: list[ChangedFile]) -> dict[str, Any]:
    diffs = [from_changed_file(f) for f in files]
    plan = build_batches(diffs, {f.path: tree[f.path] for f in files}, counter=COUNTER)
    related = find_related(index, plan.batches, by_path(diffs), COUNTER, RelatedLimits())
    return {"calls": len(plan.batches), "snippets": len(related.snippets), "files": related.files,
            "tokens": related.tokens}  # fmt: skip


class CountingModel:
    """A stand-in model: answers an empty review and counts the prompt tokens it was sent."""

    def __init__(self) -> None:
        self.tokens = 0
        self.calls = 0

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        self.tokens += COUNTER.count(system) + COUNTER.count(prompt)
        self.calls += 1
        return ModelReply(ReviewOutput(summary="", findings=[]), "bench", 0, 0)


def with_bench_pr(tree: dict[str, str]) -> tuple[dict[str, str], list[Any]]:
    """The repository with the 20-file benchmark PR (prs.make_pr's shape) applied: its files at head."""
    bench_files = make_pr(20, 1_000)
    return {**tree, **{bench.path: bench.head for bench in bench_files}}, bench_files


async def token_ratio(index: CodeIndex, tree: dict[str, str], bench_files: list[Any]) -> dict[str, Any]:
    """(c): the 20-file benchmark PR against the repository, reviewed without and with related code."""
    pr = PullRequest(1, "Bench change", "A benchmark pull request.", "h" * 40, "b" * 40, "main", "open",
                     False, "dev", False)  # fmt: skip
    files = [ChangedFile(f.path, FileStatus.MODIFIED, f.changed_lines // 2, f.changed_lines // 2, f.patch)
             for f in bench_files]  # fmt: skip
    results = {}
    for name, code in (("without", None), ("with", index)):
        model = CountingModel()

        async def head_text(path: str) -> str | None:
            return tree.get(path)

        async def beat() -> None:
            return None

        request = ChangeRequest(pr=pr, files=files, anchor_files=files, head_text=head_text, code=code)
        analysis = await analyze(request, PolicySpec(), model, COUNTER, AnalysisOptions(), heartbeat=beat)
        results[name] = {"prompt_tokens": model.tokens, "calls": model.calls,
                         "related_snippets": analysis.coverage.related_snippets}  # fmt: skip
    results["ratio"] = round(results["with"]["prompt_tokens"] / results["without"]["prompt_tokens"], 3)
    return results


def rss_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines()
              if line.startswith(("VmRSS", "VmHWM"))}  # fmt: skip
    return {"rss_mb": round(values["VmRSS"], 1), "peak_rss_mb": round(values["VmHWM"], 1)}


async def main_async(files: int, lines: int) -> dict[str, Any]:
    tree = repository(files, lines)
    total_lines = sum(text.count("\n") for text in tree.values())
    head1 = tarball(tree)
    changed = [p for p in sorted(tree) if p.endswith(".py")][5::97][:20]
    first_change = change(tree, changed)
    head2_tree = dict(tree)
    second_change = change(head2_tree, changed[:1])
    bench_tree, bench_files = with_bench_pr(head2_tree)
    source = MemorySource({"h1": tarball(tree), "h2": tarball(head2_tree), "h3": tarball(bench_tree)})
    result: dict[str, Any] = {
        "repository": {"files": len(tree), "lines": total_lines, "archive_bytes": len(head1)}
    }
    with tempfile.TemporaryDirectory(prefix="argoai-bench-context-") as directory:
        store = SnapshotStore(Path(directory))
        cache = IndexCache()
        key1 = SnapshotKey("bench", "o", "r", "h1")
        started = time.perf_counter()

        async def checkout() -> int:
            async with store.checkout(key1, source) as snapshot:
                return len(snapshot)

        counts = await asyncio.gather(*(checkout() for _ in range(8)))
        seconds = round(time.perf_counter() - started, 3)
        result["snapshot"] = {"checkouts": len(counts), "fetches": source.downloads, "seconds": seconds}
        async with store.checkout(key1, source) as snapshot:
            started = time.perf_counter()
            first = related_for(CodeIndex(snapshot, cache), tree, first_change)
            result["first_head"] = {"seconds": round(time.perf_counter() - started, 3), **first,
                                    "tokenized": cache.tokenized, "parsed": cache.parsed}  # fmt: skip
            result["memory_indexed"] = rss_mb()
        async with store.checkout(SnapshotKey("bench", "o", "r", "h2"), source) as snapshot:
            tokenized, parsed = cache.tokenized, cache.parsed
            started = time.perf_counter()
            second = related_for(CodeIndex(snapshot, cache), head2_tree, second_change + first_change[1:])
            result["next_head"] = {
                "seconds": round(time.perf_counter() - started, 3),
                **second,
                "tokenized": cache.tokenized - tokenized,
                "parsed": cache.parsed - parsed,
            }
        async with store.checkout(SnapshotKey("bench", "o", "r", "h3"), source) as snapshot:
            index = CodeIndex(snapshot, cache)
            result["tokens_20_file_pr"] = await token_ratio(index, bench_tree, bench_files)
    result["memory"] = rss_mb()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=100, help="lines per file")
    args = parser.parse_args()
    configure_logging("WARNING")
    started = time.monotonic()
    result: dict[str, Any] = {"targets": TARGETS, **asyncio.run(main_async(args.files, args.lines))}
    result["met"] = {
        "first_head": result["first_head"]["seconds"] <= TARGETS["first_head_s"],
        "next_head": result["next_head"]["seconds"] <= TARGETS["next_head_s"],
        "one_fetch_per_head": result["snapshot"]["fetches"] == TARGETS["fetches_per_head"],
        "token_ratio": result["tokens_20_file_pr"]["ratio"] <= TARGETS["token_ratio"],
        "rss": result["memory"]["peak_rss_mb"] <= TARGETS["rss_mb"],
    }
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
