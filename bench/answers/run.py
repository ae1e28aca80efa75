"""Benchmark of answers: what answering a question in an ArgoAI thread costs besides the LLM.

Starts the fake GitHub and a fake LLM answering at once as their own processes (Redis: the one on :6379 when
it answers, else a redis-server it starts; see ``bench/review/services.py``), and runs the real
``ReviewPipeline`` in this process as ``argoai_reviewer.wiring`` assembles it (githubkit against the fake,
Redis, the OpenAI adapter against the fake LLM, head snapshots with the code index). A 20-file / 1,000-line
pull request is reviewed once; then ``--runs`` questions are asked in threads of its inline comments (a
warm-up first) and answered. Writes are not spaced (the fake has no secondary rate limit), so the figures are
processing, not pacing.

Output (one JSON object): ``overhead_p50_s`` / ``overhead_max_s`` (wall time of a question's job minus the
LLM call), ``llm_p50_s``, ``prompt_tokens_p50`` (usage reported for the question's call), ``answers`` (answers
posted, must equal the runs) and ``related_in_prompt`` (questions whose prompt carried related code).

    .venv/bin/python bench/answers/run.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "review"))

from prs import make_pr  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from services import LLM_KEY, backends, fake_github, fake_llm, key_prefix  # noqa: E402

from argoai_core.logs import configure_logging  # noqa: E402
from argoai_core.models.job import CommandJob, RepoRef, ReviewJob  # noqa: E402
from argoai_core.policy_set import PolicySet, StaticPolicyProvider  # noqa: E402
from argoai_core.settings import GitHubSettings, LLMSettings, RedisSettings  # noqa: E402
from argoai_reviewer.adapters.github import GitHubAppAdapter  # noqa: E402
from argoai_reviewer.adapters.github_retry import GitHubPolicy  # noqa: E402
from argoai_reviewer.adapters.redis_state import (  # noqa: E402
    RedisConnection,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
    RedisTokenBudget,
)
from argoai_reviewer.analysis.model import Reply  # noqa: E402
from argoai_reviewer.analysis.review import AnalysisOptions  # noqa: E402
from argoai_reviewer.conversation.answers.model import ThreadAnswer  # noqa: E402
from argoai_reviewer.conversation.pipeline import PipelineOptions, ReviewPipeline  # noqa: E402
from argoai_reviewer.conversation.sources import SourceOptions  # noqa: E402
from argoai_reviewer.llm.structured import LLMClient  # noqa: E402
from argoai_reviewer.outcome import OutcomeKind  # noqa: E402
from argoai_reviewer.wiring import build_model, conversation_stores  # noqa: E402
from argoai_reviewer.workspace.store import SnapshotStore  # noqa: E402

OWNER, REPO, NUMBER, MODEL, BASE = "bench-org", "answers", 1, "gpt-4o-mini", "b" * 40


@dataclass
class TimedAnswers:
    """The answer model, timing its calls (the bench's instrument)."""

    inner: LLMClient
    calls: list[tuple[float, int, bool]] = field(default_factory=list)

    async def ask(
        self, *, system: str, prompt: str, output: type[ThreadAnswer], model: str | None = None
    ) -> Reply[ThreadAnswer]:
        """Forward to the model; record the call's seconds, its input tokens and whether related code came."""
        started = time.perf_counter()
        reply = await self.inner.ask(system=system, prompt=prompt, output=output, model=model)
        self.calls.append((time.perf_counter() - started, reply.input_tokens, "# Related code" in prompt))
        return reply


async def measure(github: Any, llm: Any, redis_url: str, runs: int, workdir: Path) -> dict[str, Any]:
    """Review one pull request, then answer ``runs`` + 1 questions in its threads (the first is warm-up)."""
    prefix = key_prefix()
    settings = GitHubSettings(
        api_url=github.url, app_id=github.app_id, private_key=SecretStr(github.private_key)
    )
    redis = RedisConnection.from_settings(RedisSettings(url=redis_url, key_prefix=prefix))
    gh = GitHubAppAdapter(
        settings, redis.client, key_prefix=prefix, policy=GitHubPolicy(write_spacing_seconds=0)
    )
    llm_settings = LLMSettings(
        provider="openai", base_url=llm.openai_base_url, api_key=SecretStr(LLM_KEY), model=MODEL
    )
    client = build_model(llm_settings)
    answers = TimedAnswers(client)
    pipeline = ReviewPipeline(
        github=gh, policies=StaticPolicyProvider(PolicySet()), model=client, lock=RedisReviewLock(redis),
        state=RedisReviewState(redis, ttl_seconds=3600), history=RedisReviewHistory(redis, max_per_repo=100),
        budget=RedisTokenBudget(redis),
        options=PipelineOptions(
            analysis=AnalysisOptions(), llm=llm_settings,
            sources=SourceOptions(store=SnapshotStore(workdir / "snapshots")),
        ),
        stores=conversation_stores(redis, state_ttl_seconds=3600), answer_model=answers,
    )  # fmt: skip
    repo = RepoRef(host=settings.host, owner=OWNER, name=REPO)

    async def beat() -> None:
        return None

    try:
        files = make_pr(20, 1_000, marker_every=20, marked_files=4)
        head = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        github.call(
            "add_pull_request", owner=OWNER, repo=REPO, number=NUMBER, head_sha=head, base_sha=BASE,
            files=[f.spec() for f in files], installation_id=github.installation_id, title="Bench change",
        )  # fmt: skip
        review = ReviewJob(
            delivery_id="review", installation_id=github.installation_id, repo=repo, number=NUMBER,
            action="opened", head_sha=head, base_sha=BASE, base_ref="main",
        )  # fmt: skip
        if (await pipeline.run(review, beat)).kind is not OutcomeKind.POSTED:
            raise RuntimeError("the pull request's review was not posted")
        comments = github.call("review_comments", owner=OWNER, repo=REPO, number=NUMBER)
        roots = [c["id"] for c in comments if c["author_type"] == "Bot" and c["in_reply_to"] is None]
        walls: list[float] = []
        for index in range(runs + 1):
            root = roots[index % len(roots)]
            asked = github.call(
                "add_thread_reply", owner=OWNER, repo=REPO, number=NUMBER, in_reply_to=root,
                body=f"Why is this a problem, @argoai? ({index})", author="maintainer",
            )  # fmt: skip
            job = CommandJob(
                version=5, delivery_id=f"q-{asked}", installation_id=github.installation_id, repo=repo,
                number=NUMBER, command="question", comment_id=asked, commenter="maintainer",
                association="MEMBER", comment_kind="review", in_reply_to=root,
            )  # fmt: skip
            started = time.perf_counter()
            await pipeline.run(job, beat)
            if index:
                walls.append(time.perf_counter() - started)
        posted = [
            c
            for c in github.call("review_comments", owner=OWNER, repo=REPO, number=NUMBER)
            if c["author_type"] == "Bot" and c["in_reply_to"] is not None
        ]
    finally:
        await gh.aclose()
        await client.aclose()
        await redis.client.aclose()
    measured = answers.calls[1:]
    overheads = [wall - call[0] for wall, call in zip(walls, measured, strict=True)]
    return {
        "runs": runs,
        "overhead_p50_s": round(statistics.median(overheads), 4),
        "overhead_max_s": round(max(overheads), 4),
        "llm_p50_s": round(statistics.median(call[0] for call in measured), 4),
        "prompt_tokens_p50": int(statistics.median(call[1] for call in measured)),
        "answers": len(posted) - 1,
        "related_in_prompt": sum(call[2] for call in measured),
    }


def main() -> int:
    """Run the bench and print its JSON; exit 1 when not every question was answered once."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="measured questions")
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="argoai-bench-answers-") as tmp:
        workdir = Path(tmp)
        with (
            backends(workdir) as services,
            fake_github(workdir) as github,
            fake_llm(workdir, 0.0, "llm") as llm,
        ):
            result = asyncio.run(measure(github, llm, services.redis_url, args.runs, workdir))
    print(json.dumps(result, indent=2))
    return 0 if result["answers"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
