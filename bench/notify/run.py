"""Notification delivery benchmark: how fast one reviewer pod's notification consumer drains a backlog, and
how much a publish costs the review that makes it.

Starts its own nats-server (JetStream, temporary store) and a fake Slack (tests/support/fake_notify.py),
publishes ``--count`` critical-finding notifications through the reviewer's Notifier (each a JetStream
publish awaiting its PubAck: what a review pays), then runs the notification consumer (ConsumerLoop +
NotificationWorker + httpx) until the fake Slack has them all. Checks that each arrived exactly once.

Prints one JSON object: ``publish_ms_p50`` / ``publish_ms_p99`` (one publish, as a review sees it),
``delivered_per_s`` (backlog drained through HTTP, rate limit raised out of the way), ``delivered``,
``duplicates``. Exit 1 when a notification is missing or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nats
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

from argoai_cli.local_services import nats_process
from argoai_core.adapters.jetstream import ensure_streams
from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.models.notification import NotifiedFinding
from argoai_core.models.policy import PolicySpec
from argoai_core.streams import StreamNames
from argoai_reviewer.adapters.jobs import JetStreamJobs
from argoai_reviewer.adapters.notify_http import HttpxPoster
from argoai_reviewer.notify.routing import Notifier
from argoai_reviewer.runtime.consumer import ConsumerLoop
from argoai_reviewer.runtime.notify_worker import NotificationWorker
from argoai_reviewer.settings import NotifySettings
from support.fake_notify import FakeSlack

POLICY = PolicySpec.model_validate({"notifications": [{"events": ["critical_findings"], "targets": ["s"]}]})
FINDING = NotifiedFinding(severity="critical", title="SQL injection", path="db.py", line=3)


def _job(number: int) -> ReviewJob:
    return ReviewJob(
        delivery_id=f"d{number}", installation_id=1, repo=RepoRef(host="api.github.com", owner="o", name="r"),
        number=number, action="opened", head_sha=f"{number:040x}", base_sha="b" * 40, base_ref="main",
    )  # fmt: skip


async def _run(url: str, slack: FakeSlack, count: int, concurrency: int) -> dict[str, object]:
    nc = await nats.connect(url)
    names = StreamNames("BENCHNOTIFY")
    await ensure_streams(nc.jetstream(), names)
    jobs = JetStreamJobs(nc, names)
    settings = NotifySettings(
        targets=json.dumps({"s": {"kind": "slack", "url": slack.url}}), rate_per_minute=6000,
        concurrency=concurrency,
    )  # fmt: skip
    notifier = Notifier(jobs, ["s"])
    publish_ms = []
    for number in range(1, count + 1):
        started = time.perf_counter()
        await notifier.critical_findings(_job(number), POLICY, [FINDING])
        publish_ms.append((time.perf_counter() - started) * 1000)
    poster = HttpxPoster(settings.timeout_seconds, [slack.url])
    worker = NotificationWorker(settings.parsed_targets, poster, jobs, settings)
    source = await jobs.notify_source(settings)
    loop = ConsumerLoop(
        "notify", source, worker.handle, concurrency=concurrency, fetch_timeout=0.5, grace_period=5
    )
    started = time.perf_counter()
    task = asyncio.create_task(loop.run())
    deadline = started + 120
    while len(slack.received) < count and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(1)
    loop.stop()
    await task
    await source.close()
    await poster.aclose()
    await nc.close()
    ids = [r.json["blocks"][1]["text"]["text"] for r in slack.received]
    quantiles = statistics.quantiles(publish_ms, n=100)
    return {
        "count": count,
        "concurrency": concurrency,
        "publish_ms_p50": round(quantiles[49], 3),
        "publish_ms_p99": round(quantiles[98], 3),
        "delivered": len(slack.received),
        "duplicates": len(ids) - len(set(ids)),
        "delivered_per_s": round(len(slack.received) / elapsed, 1),
    }


def main() -> int:
    """Run the benchmark; print its JSON; exit 1 when a notification is missing or duplicated."""
    # One log line per notification would be most of the measured work.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as store:
        server = nats_process(Path(store))
        server.start()
        slack = FakeSlack()
        try:
            with slack.serving():
                result = asyncio.run(
                    _run(f"nats://127.0.0.1:{server.port}", slack, args.count, args.concurrency)
                )
        finally:
            server.stop()
    print(json.dumps(result))
    return 0 if result["delivered"] == args.count and result["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
