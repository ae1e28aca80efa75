"""Parts (b) and (e) of the reviewer benchmark: real ``argoai reviewer`` processes under many review jobs.

Pull requests are spread over many installations of the fake GitHub, because GitHub writes are paced per
installation (one at a time, ≥ 1 s apart: ``WriteGate``) and one installation could post at most one review a
second. Jobs go straight into the jobs stream, as the intake publishes them (``Nats-Msg-Id`` = the job key).
Each reviewer's ``/metrics`` is sampled: ``argoai_reviews_in_flight`` for the peak, the ``posted`` counter for
the rate, measured between 10 % and 90 % of the jobs done (ramp-up and tail left out).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
from prs import BenchFile, make_pr
from services import (
    LLM_KEY,
    RUN_PREFIX,
    FakeGitHubProcess,
    FakeLLMProcess,
    ReviewerProcess,
    cpu_seconds,
    peak_rss_mb,
    start_reviewer,
    stop_reviewer,
)

from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.streams import StreamNames

IN_FLIGHT = "argoai_reviews_in_flight"
POSTED = 'argoai_reviews_total{outcome="posted",variant="none"}'
BASE_SHA = "b" * 40
REPO = "service"
FIRST_INSTALLATION = 10_000


@dataclass
class Fleet:
    """Installations and pull requests on the fake GitHub, handed out one job at a time."""

    github: FakeGitHubProcess
    host: str
    installations: int
    files: list[BenchFile]
    opened: int = 0

    def setup_installations(self) -> None:
        """Install the App on ``installations`` accounts, each with one repository."""
        for index in range(self.installations):
            self.github.call(
                "add_installation",
                installation_id=FIRST_INSTALLATION + index,
                app_id=self.github.app_id,
                account=f"org{index}",
            )

    def open(self, count: int) -> list[ReviewJob]:
        """``count`` new pull requests, round-robin over the installations; their review jobs."""
        jobs = []
        specs = [f.spec() for f in self.files]
        for _ in range(count):
            index = self.opened % self.installations
            number = self.opened // self.installations + 1
            self.opened += 1
            head = uuid.uuid4().hex + uuid.uuid4().hex[:8]
            owner = f"org{index}"
            self.github.call(
                "add_pull_request", owner=owner, repo=REPO, number=number, head_sha=head, base_sha=BASE_SHA,
                files=specs, installation_id=FIRST_INSTALLATION + index, title="Bench change",
            )  # fmt: skip
            jobs.append(
                ReviewJob(
                    delivery_id=str(uuid.uuid4()),
                    installation_id=FIRST_INSTALLATION + index,
                    repo=RepoRef(host=self.host, owner=owner, name=REPO),
                    number=number,
                    action="opened",
                    head_sha=head,
                    base_sha=BASE_SHA,
                    base_ref="main",
                    title="Bench change",
                )
            )
        return jobs


async def publish(nats_url: str, prefix: str, jobs: list[ReviewJob]) -> None:
    """Publish ``jobs`` into the jobs stream as the intake does (acks awaited in batches)."""
    names = StreamNames(prefix)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for start in range(0, len(jobs), 200):
            await asyncio.gather(
                *(
                    js.publish(
                        names.review_subject,
                        job.model_dump_json().encode(),
                        stream=names.jobs_stream,
                        headers={"Nats-Msg-Id": job.key},
                    )
                    for job in jobs[start : start + 200]
                )
            )
    finally:
        await nc.close()


def measure(
    reviewers: list[ReviewerProcess], jobs: int, timeout: float, others: dict[str, int]
) -> dict[str, Any]:
    """Sample every reviewer's metrics until ``jobs`` more reviews are posted; rate, peak in flight, CPU.

    ``others``: name → pid of the other processes on the machine (fakes, nats-server), whose CPU is reported
    too, since they share the two cores with the reviewers.
    """
    samples: list[tuple[float, float]] = []  # (time, posted by all)
    peak = dict.fromkeys((r.name for r in reviewers), 0.0)
    peak_total = 0.0
    with httpx.Client(timeout=5) as client:
        start_posted = sum(r.metrics(client).get(POSTED, 0.0) for r in reviewers)
        pids = {**{r.name: r.process.pid for r in reviewers}, **others}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        tools_before = {r.name: cpu_seconds(r.process.pid, children=True) for r in reviewers}
        started = time.monotonic()
        done = 0.0
        while done < jobs:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"only {done:.0f} of {jobs} reviews posted in {timeout:.0f} s")
            metrics = {r.name: r.metrics(client) for r in reviewers}
            now = time.monotonic() - started
            done = sum(m.get(POSTED, 0.0) for m in metrics.values()) - start_posted
            samples.append((now, done))
            total = 0.0
            for name, m in metrics.items():
                peak[name] = max(peak[name], m.get(IN_FLIGHT, 0.0))
                total += m.get(IN_FLIGHT, 0.0)
            peak_total = max(peak_total, total)
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 2) for name, pid in pids.items()}
        tools = {
            f"{r.name}_tools": round(cpu_seconds(r.process.pid, children=True) - tools_before[r.name], 2)
            for r in reviewers
        }
    t10 = next(t for t, n in samples if n >= 0.1 * jobs)
    t90 = next(t for t, n in samples if n >= 0.9 * jobs)
    return {
        "reviews": jobs,
        "reviews_per_s": round(0.8 * jobs / (t90 - t10), 1),
        "seconds_all": round(samples[-1][0], 1),
        "peak_in_flight": {name: int(value) for name, value in peak.items()},
        "peak_in_flight_total": int(peak_total),
        "cpu_s": {**cpu, **tools},
        "machine_cpu_busy": round(
            (sum(cpu.values()) + sum(tools.values())) / elapsed / (os.cpu_count() or 1), 2
        ),
        "reviewer_cpu_ms_per_review": round(1000 * sum(cpu[r.name] for r in reviewers) / jobs, 1),
        "tools_cpu_ms_per_review": round(1000 * sum(tools.values()) / jobs, 1),
    }


def reviewer_env(
    github: FakeGitHubProcess,
    llm: FakeLLMProcess,
    nats_url: str,
    redis_url: str,
    prefix: str,
    concurrency: int,
) -> dict[str, str]:
    """The environment of a benchmarked ``argoai reviewer`` (production defaults except concurrency)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ARGOAI_LOG_LEVEL": "INFO",
        "ARGOAI_GITHUB_API_URL": github.url,
        "ARGOAI_GITHUB_APP_ID": str(github.app_id),
        "ARGOAI_GITHUB_PRIVATE_KEY": github.private_key,
        "ARGOAI_LLM_PROVIDER": "openai",
        "ARGOAI_LLM_BASE_URL": llm.openai_base_url,
        "ARGOAI_LLM_API_KEY": LLM_KEY,
        "ARGOAI_LLM_MODEL": "gpt-4o-mini",
        "ARGOAI_NATS_URL": nats_url,
        "ARGOAI_NATS_PREFIX": prefix,
        "ARGOAI_REDIS_URL": redis_url,
        "ARGOAI_REDIS_KEY_PREFIX": f"{RUN_PREFIX}:{prefix.lower()}",
        "ARGOAI_REVIEWER_CONCURRENCY": str(concurrency),
        # Every in-flight review may be waiting on the LLM at once: the process-wide limit must not cap them.
        "ARGOAI_REVIEWER_LLM_CONCURRENCY": str(concurrency),
        "ARGOAI_REVIEWER_METRICS_HOST": "127.0.0.1",
    }


def run(
    github: FakeGitHubProcess,
    llm: FakeLLMProcess,
    nats_url: str,
    redis_url: str,
    workdir: Path,
    *,
    concurrency: int,
    installations: int,
    jobs_one: int,
    jobs_two: int,
    timeout: float,
    others: dict[str, int],
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One reviewer process, then two, each draining a batch of jobs; peak RSS of each process."""
    prefix = f"RB{uuid.uuid4().hex[:8].upper()}"
    host = httpx.URL(github.url).netloc.decode()
    fleet = Fleet(github, host, installations, make_pr(2, 40, marker_every=10))
    set_up = time.monotonic()
    fleet.setup_installations()
    batch_one, batch_two = fleet.open(jobs_one), fleet.open(jobs_two)
    set_up = time.monotonic() - set_up
    env = {**reviewer_env(github, llm, nats_url, redis_url, prefix, concurrency), **(extra_env or {})}
    reviewers: list[ReviewerProcess] = []
    try:
        reviewers.append(start_reviewer("reviewer-1", env, workdir))
        idle_rss = round(peak_rss_mb(reviewers[0].process.pid, "VmRSS"), 1)
        asyncio.run(publish(nats_url, prefix, batch_one))
        one = measure(reviewers[:1], jobs_one, timeout, others)
        reviewers.append(start_reviewer("reviewer-2", env, workdir))
        asyncio.run(publish(nats_url, prefix, batch_two))
        two = measure(reviewers, jobs_two, timeout, others)
        rss = {r.name: round(peak_rss_mb(r.process.pid), 1) for r in reviewers}
    finally:
        for reviewer in reviewers:
            stop_reviewer(reviewer)
    return {
        "concurrency_per_process": concurrency,
        "installations": installations,
        "files_per_pr": len(fleet.files),
        "llm_delay_s": llm.delay,
        "setup_s": round(set_up, 1),
        "one_process": one,
        "two_processes": two,
        "scaling": round(two["reviews_per_s"] / one["reviews_per_s"], 2),
        "rss_when_ready_mb": idle_rss,
        "peak_rss_mb": rss,
    }
