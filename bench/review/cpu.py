"""The reviewer's CPU per warm small review, in this process, and the requests behind it.

The real ``ReviewPipeline`` wired as part (a) of ``run.py`` wires it (``inprocess.Bench``: githubkit against
the fake GitHub, Redis, the OpenAI adapter against the instant fake LLM, analyzers on), three warm-up reviews,
then ``--reviews`` reviews of fresh pull requests of 2 files / 40 changed lines, one after the other.
Reported: process CPU per review (``time.process_time`` while the pipeline runs, the bench's own checks of the
posted review excluded: every thread of this process, not the analyzer tool
processes it starts), the Redis commands per review (``INFO commandstats`` of the Redis used, commands run
inside Lua scripts included, so it is only meaningful on a Redis nobody else uses at the time) and the GitHub
requests per review by method and route, as the fake GitHub logged them.

Usage: ``.venv/bin/python bench/review/cpu.py [--reviews N] [--profile FILE]``; one JSON object on stdout.
``--profile`` also writes a ``cProfile`` of the measured reviews to FILE (read it with ``python -m pstats``);
the profiler's own overhead inflates the CPU figure, so profile and measure in separate runs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from inprocess import Bench  # noqa: E402
from prs import make_pr  # noqa: E402
from services import backends, fake_github, fake_llm, key_prefix  # noqa: E402

from argoai_core.logs import configure_logging  # noqa: E402

_ROUTE_IDS = re.compile(r"/[0-9a-f]{40}\b|/\d+")  # commit SHAs first: they may start with digits


def _command_calls(url: str) -> dict[str, int]:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        stats: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def measure(bench: Bench, redis_url: str, reviews: int, profile: Path | None = None) -> dict[str, Any]:
    """Warm up, then review ``reviews`` fresh pull requests: their CPU, Redis commands and GitHub requests."""
    files = make_pr(2, 40, marker_every=10)
    for _ in range(3):
        number, head = bench.open_pr(files)
        await bench.review(bench.job(number, head))
    opened = [bench.open_pr(files) for _ in range(reviews)]
    logged_before = len(bench.fake.call("requests_to"))
    commands_before = _command_calls(redis_url)
    profiler = cProfile.Profile(time.process_time) if profile else None
    cpu = 0.0
    if profiler:
        profiler.enable()
    for number, head in opened:
        cpu += (await bench.review(bench.job(number, head))).cpu
    if profiler:
        profiler.disable()
    if profiler and profile:
        profiler.dump_stats(profile)
    commands_after = _command_calls(redis_url)
    requests = bench.fake.call("requests_to")[logged_before:]
    commands = {
        name: calls - commands_before.get(name, 0)
        for name, calls in commands_after.items()
        if calls > commands_before.get(name, 0)
    }
    routes = Counter(f"{r['method']} {_ROUTE_IDS.sub('/N', r['path'])}" for r in requests)
    return {
        "reviews": reviews,
        "cpu_ms_per_review": round(1000 * cpu / reviews, 1),
        "redis_commands_per_review": round(sum(commands.values()) / reviews, 1),
        "redis_commands": {
            k: round(v / reviews, 2) for k, v in sorted(commands.items(), key=lambda kv: -kv[1])
        },
        "github_requests_per_review": round(len(requests) / reviews, 2),
        "github_requests": {route: round(n / reviews, 2) for route, n in routes.most_common()},
    }


def main() -> int:
    """Run the measurement and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=30, help="measured reviews")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured reviews here")
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="argoai-bench-cpu-") as tmp:
        workdir = Path(tmp)
        with (
            backends(workdir) as services,
            fake_github(workdir) as github,
            fake_llm(workdir, 0.0, "llm") as llm,
        ):

            async def run() -> dict[str, Any]:
                bench = Bench(github, llm, services.redis_url, key_prefix(), workdir / "snapshots")
                try:
                    return await measure(bench, services.redis_url, args.reviews, args.profile)
                finally:
                    await bench.aclose()

            result = asyncio.run(run())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
