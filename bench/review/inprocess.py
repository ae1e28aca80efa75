"""Parts (a), (c) and (d) of the reviewer benchmark: the real review pipeline in this process.

``ReviewPipeline`` is assembled as ``argoai_reviewer.wiring`` assembles it (githubkit adapter against the fake
GitHub, Redis lock/state/history, the OpenAI adapter against the fake LLM), except that the model is wrapped
in :class:`TimedModel`, which records when each LLM call starts and ends. A review's overhead is its wall time
minus the time during which at least one LLM call was in flight (calls run concurrently, so the union of their
intervals is subtracted, not their sum).
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prs import BenchFile, make_pr, push_one_file
from pydantic import SecretStr
from services import LLM_KEY, FakeGitHubProcess, FakeLLMProcess

from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.policy_set import PolicySet, StaticPolicyProvider
from argoai_core.settings import GitHubSettings, LLMSettings, RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
    RedisTokenBudget,
)
from argoai_reviewer.analysis.model import ModelReply, ReviewModel
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.analysis.tokens import counter_for
from argoai_reviewer.conversation.pipeline import PipelineOptions, ReviewPipeline
from argoai_reviewer.conversation.sources import SourceOptions
from argoai_reviewer.outcome import OutcomeKind
from argoai_reviewer.settings import ReviewerSettings
from argoai_reviewer.wiring import build_model, conversation_stores
from argoai_reviewer.workspace.store import SnapshotStore

OWNER, REPO = "bench-org", "overhead"
MODEL = "gpt-4o-mini"
BASE_SHA = "b" * 40
# GitHub asks for content-creating requests a second apart per installation, and the reviewer's WriteGate
# paces them so (a review makes several: check run, review, summary comment, check run completed). That wait
# is a policy, not processing: part (a) runs without it and reports the writes, so wall time in production
# is about overhead + LLM time + (writes - 1) seconds.
BENCH_POLICY = GitHubPolicy(write_spacing_seconds=0)
COVERAGE = re.compile(r"([\d,]+) of ([\d,]+) changed lines were sent to the model")


@dataclass
class LLMCall:
    """One call through :class:`TimedModel`."""

    started: float
    ended: float
    prompt: str
    system: str
    input_tokens: int


@dataclass
class TimedModel:
    """A :class:`ReviewModel` that times the calls of the model it wraps (the bench's instrument)."""

    inner: ReviewModel
    calls: list[LLMCall] = field(default_factory=list)

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Forward to the wrapped model, recording the call's interval and usage."""
        started = time.perf_counter()
        reply = await self.inner.review(system=system, prompt=prompt, model=model)
        self.calls.append(LLMCall(started, time.perf_counter(), prompt, system, reply.input_tokens))
        return reply


def busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``intervals``."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


@dataclass
class ReviewRun:
    """What one review cost."""

    wall: float
    llm: float
    calls: int
    input_tokens: int  # as the (fake) LLM reported usage
    counted_tokens: int  # prompt + system as the reviewer's own token counter counts them
    body: str
    writes: int  # content-creating requests (POST/PATCH) the review sent to GitHub
    cpu: float  # this process's CPU seconds (all threads) while the pipeline ran, the bench's own checks not

    @property
    def overhead(self) -> float:
        """Wall time outside LLM calls."""
        return self.wall - self.llm


class Bench:
    """The pipeline wired to the fakes, and helpers to open PRs and review them."""

    def __init__(
        self,
        github: FakeGitHubProcess,
        llm: FakeLLMProcess,
        redis_url: str,
        key_prefix: str,
        snapshot_dir: Path,
    ) -> None:
        self.fake = github
        self.github_settings = GitHubSettings(
            api_url=github.url, app_id=github.app_id, private_key=SecretStr(github.private_key)
        )
        self.redis = RedisConnection.from_settings(RedisSettings(url=redis_url, key_prefix=key_prefix))
        self.github = GitHubAppAdapter(
            self.github_settings, self.redis.client, key_prefix=key_prefix, policy=BENCH_POLICY
        )
        llm_settings = LLMSettings(
            provider="openai", base_url=llm.openai_base_url, api_key=SecretStr(LLM_KEY), model=MODEL
        )
        self.client = build_model(llm_settings)
        self.model = TimedModel(self.client)
        reviewer = ReviewerSettings()
        self.pipeline = ReviewPipeline(
            github=self.github,
            policies=StaticPolicyProvider(PolicySet()),
            model=self.model,
            lock=RedisReviewLock(self.redis),
            state=RedisReviewState(self.redis, ttl_seconds=3600),
            history=RedisReviewHistory(self.redis, max_per_repo=1000),
            budget=RedisTokenBudget(self.redis),
            options=PipelineOptions(
                analysis=AnalysisOptions(
                    input_tokens_per_call=reviewer.max_input_tokens_per_call,
                    llm_concurrency=reviewer.llm_concurrency,
                ),
                llm=llm_settings,
                # As wiring.py: each head read as one repository snapshot, cached in the process.
                sources=SourceOptions(store=SnapshotStore(snapshot_dir)),
            ),
            stores=conversation_stores(self.redis, state_ttl_seconds=3600),
        )
        self.counter = counter_for("openai", MODEL)
        self.repo = RepoRef(host=self.github_settings.host, owner=OWNER, name=REPO)
        self._number = 0

    async def aclose(self) -> None:
        """Close HTTP clients and the Redis pool."""
        await self.github.aclose()
        await self.client.aclose()
        await self.redis.client.aclose()

    def open_pr(self, files: list[BenchFile]) -> tuple[int, str]:
        """A new pull request with ``files`` on the fake GitHub: (number, head SHA)."""
        self._number += 1
        head = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.fake.call(
            "add_pull_request", owner=OWNER, repo=REPO, number=self._number, head_sha=head, base_sha=BASE_SHA,
            files=[f.spec() for f in files], installation_id=self.fake.installation_id, title="Bench change",
            body="A benchmark pull request.",
        )  # fmt: skip
        return self._number, head

    def job(self, number: int, head: str, *, action: str = "opened", before: str | None = None) -> ReviewJob:
        """The review job the intake would publish for this head."""
        return ReviewJob(
            delivery_id=str(uuid.uuid4()), installation_id=self.fake.installation_id, repo=self.repo,
            number=number, action=action, head_sha=head, base_sha=BASE_SHA, base_ref="main",
            before_sha=before, title="Bench change",
        )  # fmt: skip

    async def review(self, job: ReviewJob) -> ReviewRun:
        """Run the pipeline on ``job``; it must post a review."""
        self.model.calls.clear()

        async def heartbeat() -> None:
            return None

        writes_before = self.writes()
        started, cpu = time.perf_counter(), time.process_time()
        outcome = await self.pipeline.run(job, heartbeat)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        if outcome.kind is not OutcomeKind.POSTED:
            raise RuntimeError(f"review of {job.key} was not posted: {outcome}")
        calls = list(self.model.calls)
        # The coverage line is in the living summary comment (edited in place), not in the review body.
        comments = self.fake.call("comments_posted", owner=OWNER, repo=REPO, number=job.number)
        summaries = [c for c in comments if "<!-- argoai:summary" in c["body"]]
        if not summaries:
            raise RuntimeError(f"review of {job.key} left no summary comment")
        return ReviewRun(
            wall=wall,
            llm=busy_seconds([(c.started, c.ended) for c in calls]),
            calls=len(calls),
            input_tokens=sum(c.input_tokens for c in calls),
            counted_tokens=sum(self.counter.count(c.prompt) + self.counter.count(c.system) for c in calls),
            body=summaries[-1]["body"],
            writes=self.writes() - writes_before,
            cpu=cpu,
        )

    def writes(self) -> int:
        """Content-creating requests the fake GitHub received for the bench repository so far."""
        logged = self.fake.call("requests_to", path_contains=f"/repos/{OWNER}/{REPO}/")
        return sum(1 for request in logged if request["method"] != "GET")


def coverage_of(body: str) -> dict[str, Any]:
    """Changed lines sent / total, and whether anything was reported skipped, from the summary comment."""
    found = COVERAGE.search(body)
    if found is None:
        raise RuntimeError("no coverage line in the summary comment")
    sent, total = (int(group.replace(",", "")) for group in found.groups())
    return {
        "lines_sent": sent,
        "lines_total": total,
        "share_sent": round(sent / total, 4) if total else 1.0,
        "nothing_skipped": "Nothing was skipped." in body,
    }


def _p50(values: list[float]) -> float:
    return round(statistics.median(values), 4)


async def overhead(bench: Bench, files: list[BenchFile], runs: int) -> dict[str, Any]:
    """(a) and (c) for one PR shape: a warm-up review, then ``runs`` measured reviews of fresh PRs."""
    measured: list[ReviewRun] = []
    for index in range(runs + 1):
        number, head = bench.open_pr(files)
        run = await bench.review(bench.job(number, head))
        if index:
            measured.append(run)
    last = measured[-1]
    return {
        "files": len(files),
        "changed_lines": sum(f.changed_lines for f in files),
        "runs": runs,
        "overhead_p50_s": _p50([r.overhead for r in measured]),
        "overhead_max_s": round(max(r.overhead for r in measured), 4),
        "wall_p50_s": _p50([r.wall for r in measured]),
        "llm_busy_p50_s": _p50([r.llm for r in measured]),
        "llm_calls": last.calls,
        "github_writes": last.writes,
        "prompt_tokens_usage": last.input_tokens,
        "prompt_tokens_counted": last.counted_tokens,
        **coverage_of(last.body),
    }


async def rereview(bench: Bench, files: list[BenchFile]) -> dict[str, Any]:
    """(d): first review of a PR, then a push touching one file and its incremental review."""
    number, head = bench.open_pr(files)
    first = await bench.review(bench.job(number, head))
    new_files, pushed = push_one_file(files)
    new_head = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    bench.fake.call(
        "push", owner=OWNER, repo=REPO, number=number, head_sha=new_head,
        files=[f.spec() for f in new_files], compare_files=[pushed.spec()],
    )  # fmt: skip
    second = await bench.review(bench.job(number, new_head, action="synchronize", before=head))
    return {
        "first_tokens_usage": first.input_tokens,
        "rereview_tokens_usage": second.input_tokens,
        "first_tokens_counted": first.counted_tokens,
        "rereview_tokens_counted": second.counted_tokens,
        "ratio": round(second.counted_tokens / first.counted_tokens, 4),
        "rereview_calls": second.calls,
        "rereview_overhead_s": round(second.overhead, 4),
    }


def shapes() -> dict[str, list[BenchFile]]:
    """The two PR shapes of part (a): 20 files / 1,000 changed lines, 300 files / 20,000 changed lines."""
    return {
        "pr_20_files": make_pr(20, 1_000, marker_every=20, marked_files=4),
        "pr_300_files": make_pr(300, 20_000, marker_every=30, marked_files=10),
    }
