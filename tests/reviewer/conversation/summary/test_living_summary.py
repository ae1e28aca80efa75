"""One summary comment per pull request, edited in place; reviews only when there is something new; the check
run of each reviewed head (in process: the production adapters against the fake GitHub, real Redis)."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from argoai_core.errors import PermanentError
from argoai_core.models.findings import Severity
from argoai_core.models.policy import PolicySpec
from argoai_core.settings import RedisSettings
from argoai_reviewer.conversation.markers import find_summary_meta
from argoai_reviewer.conversation.summary.comment import SummaryInputs, record_from_comment, render_summary
from argoai_reviewer.outcome import OutcomeKind
from reviewer.conversation.world import OWNER, REPO, llm_model, make_world, sha
from support.fake_github import FakeGitHub
from support.fake_llm import FakeLLM, Reply

BREAK = "def f(x):\n    breakpoint()\n    return x\n"
CLEAN = "def f(x):\n    return x\n"
CONFLICT = "x = 1\n<<<<<<< HEAD\ny = 2\n=======\ny = 3\n>>>>>>> other\n"


async def test_pushes_with_nothing_new_edit_one_summary_and_post_no_review(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """A first review posts its finding; ten pushes with nothing new post no review, and the one summary
    comment is edited each time, listing every reviewed head."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        assert (await world.run(world.job(head, action="opened"))).kind is OutcomeKind.POSTED
        heads = [head]
        for n in range(10):
            new = world.push({f"docs{n}.py": CLEAN})
            heads.append(new)
            outcome = await world.run(world.job(new))
            assert outcome.kind is OutcomeKind.UPDATED, outcome
        assert len(world.reviews()) == 1
        summary = world.summary()
        assert len(world.bot_comments()) == 1
        assert summary.edits == 10
        assert find_summary_meta(summary.body) == {"v": 1, "heads": heads, "paused": False}
        assert "1 open · 0 addressed" in summary.body
        assert f"`{heads[-1][:12]}`: changes since `{heads[-2][:12]}`" in summary.body


async def test_a_retried_job_posts_nothing_twice(fake: FakeGitHub, redis_settings: RedisSettings) -> None:
    """The same head's job run again (a redelivery) posts no second review and no second summary."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        again = await world.run(world.job(head, action="opened"))
        assert again.kind is OutcomeKind.DUPLICATE
        quiet = world.push({"b.py": CLEAN})
        await world.run(world.job(quiet))
        # Redis forgets the last reviewed head (as if the job crashed before recording it): the summary's
        # hidden metadata still says this head was reviewed.
        await world.state.mark_reviewed(world.job(quiet).pr_key, head, 1)
        writes = len(fake.requests_to("/repos/", method="PATCH")) + len(
            fake.requests_to("/repos/", method="POST")
        )
        assert (await world.run(world.job(quiet))).kind is OutcomeKind.DUPLICATE
        assert len(world.reviews()) == 1
        assert len(world.bot_comments()) == 1
        after = len(fake.requests_to("/repos/", method="PATCH")) + len(
            fake.requests_to("/repos/", method="POST")
        )
        assert after == writes


async def test_the_summary_is_found_again_when_redis_lost_it(
    fake: FakeGitHub, redis_settings: RedisSettings, redis_server: str
) -> None:
    """With every key of the pull request gone from Redis, the next review edits the existing summary
    comment (found by its marker) instead of posting a second one, and keeps the reviewed heads."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        first = world.open({"app.py": BREAK})
        await world.run(world.job(first, action="opened"))
        client = aioredis.from_url(redis_server)
        try:
            keys = [key async for key in client.scan_iter(match=f"{redis_settings.key_prefix}:pr:*")]
            assert keys
            await client.delete(*keys)
        finally:
            await client.aclose()
        second = world.push({"b.py": CLEAN})
        await world.run(world.job(second))
        assert len(world.bot_comments()) == 1
        assert find_summary_meta(world.summary().body)["heads"] == [first, second]  # type: ignore[index]


async def test_walkthrough_from_the_model_and_from_the_file_list(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """The walkthrough has the model's line per file, kept across incremental reviews; a file the model
    never described gets what the file list says."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model) as world,
    ):
        head = world.open({"app.py": BREAK, "util.py": CLEAN})
        await world.run(world.job(head, action="opened"))
        body = world.summary().body
        assert "| `app.py` | Fake description of app.py |" in body
        assert "| `util.py` | Fake description of util.py |" in body
        assert "Fake review: 0 marked line(s)." in body  # one call saw the whole pull request: the overview
        # A version-1 answer (no ``files``) still validates: the new file gets the file list's line.
        fake_llm.responder = lambda _: Reply.output({"summary": "v1 answer", "findings": []})
        new = world.push({"more.py": CLEAN})
        await world.run(world.job(new))
        body = world.summary().body
        assert "| `app.py` | Fake description of app.py |" in body
        assert "| `more.py` | New file (+2 −0) |" in body


async def test_the_check_run_fails_while_a_critical_finding_is_open(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """The check is in progress, then completed with the policy's conclusion: failure with an open critical
    finding, success once it is addressed."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"merge.py": CONFLICT})
        await world.run(world.job(head, action="opened"))
        [run] = world.check_runs(head)
        assert run.name == "ArgoAI"
        assert run.history[0] == ("in_progress", None)
        assert (run.status, run.conclusion) == ("completed", "failure")
        assert run.output["title"] == "1 open finding(s) at or above critical"
        assert [(a["path"], a["start_line"], a["annotation_level"]) for a in run.annotations] == [
            ("merge.py", 2, "failure")
        ]
        fixed = world.push({"merge.py": "x = 1\ny = 3\n"})
        await world.run(world.job(fixed))
        [later] = world.check_runs(fixed)
        assert (later.status, later.conclusion) == ("completed", "success")


async def test_a_neutral_policy_and_no_failure_level(fake: FakeGitHub, redis_settings: RedisSettings) -> None:
    """``checkFailOn: null`` never fails; ``checkPassConclusion: neutral`` is the conclusion then."""
    policy = PolicySpec(check_fail_on=None, check_pass_conclusion="neutral")
    async with make_world(fake, redis_settings, policy) as world:
        head = world.open({"merge.py": CONFLICT})
        await world.run(world.job(head, action="opened"))
        [run] = world.check_runs(head)
        assert run.conclusion == "neutral"


async def test_more_than_fifty_annotations_take_several_requests(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """120 findings reach the check run 50 at a time (GitHub's limit; the fake refuses more), the
    conclusion with the last request."""
    conflicts = "".join(
        f"a{n} = 1\n<<<<<<< ours-{n}\nb = 2\n=======\nb = 3\n>>>>>>> theirs\n" for n in range(120)
    )
    async with make_world(fake, redis_settings, PolicySpec(min_severity=Severity.CRITICAL)) as world:
        head = world.open({"many.py": conflicts})
        await world.run(world.job(head, action="opened"))
        [run] = world.check_runs(head)
        assert len(run.annotations) == 120
        assert run.requests == 4  # create, then 50 + 50 + 20
        assert run.history[-2:] == [("in_progress", None), ("completed", "failure")]
        assert len(world.reviews()[0].comments) == 20  # the policy's cap; the rest are in the summary
        assert "100 more findings in the summary comment" in world.reviews()[0].body


async def test_a_superseded_review_completes_its_check_as_skipped(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """A head that moves on while it is reviewed gets no review, and its check run is completed as skipped
    instead of being left in progress."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        # Slow down the last read before posting, and push a new head meanwhile.
        fake.delay_next(1, 1.0, path_contains="/pulls/3/comments", method="GET")
        review = asyncio.create_task(world.run(world.job(head, action="opened")))
        for _ in range(500):  # until the review has started (its check run exists)
            if world.check_runs(head):
                break
            await asyncio.sleep(0.02)
        fake.push(OWNER, REPO, 3, sha(99))
        outcome = await review
        assert outcome.kind is OutcomeKind.SUPERSEDED
        [run] = world.check_runs(head)
        assert (run.status, run.conclusion) == ("completed", "skipped")
        assert world.reviews() == []


async def test_a_review_that_fails_for_good_completes_its_check(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """GitHub refuses the file list (a permanent error): the review fails, and once the runtime reports it
    failed for good the check run is completed as neutral with a short reason, not left in progress."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        fake.fail_next(1, status=404, path_contains="/pulls/3/files")
        job = world.job(head, action="opened")
        with pytest.raises(PermanentError):
            await world.run(job)
        [run] = world.check_runs(head)
        assert run.status == "in_progress"
        await world.pipeline.review_failed(job, "permanent_error")
        assert (run.status, run.conclusion) == ("completed", "neutral")
        assert run.output["title"] == "ArgoAI could not review this commit"


async def test_a_job_that_stopped_after_posting_finishes_without_posting_again(
    fake: FakeGitHub, redis_settings: RedisSettings, redis_server: str
) -> None:
    """A review was posted but the job stopped before the summary and Redis recorded it: run again, it posts
    no second review, adds the head to the summary and knows the posted finding from its thread's marker
    (so the summary counts it and the check fails for it)."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"merge.py": CONFLICT})
        job = world.job(head, action="opened")
        await world.run(job)
        client = aioredis.from_url(redis_server)
        try:
            keys = [key async for key in client.scan_iter(match=f"{redis_settings.key_prefix}:pr:*")]
            await client.delete(*keys)
        finally:
            await client.aclose()
        stale = record_from_comment(world.summary())
        stale.heads = []
        world.summary().body = render_summary(stale, SummaryInputs(files=[], bot_handle="argoai"))
        assert (await world.run(job)).kind is OutcomeKind.DUPLICATE
        assert len(world.reviews()) == 1
        body = world.summary().body
        assert find_summary_meta(body)["heads"] == [head]  # type: ignore[index]
        assert "1 open · 0 addressed" in body
        [run] = world.check_runs(head)
        assert run.conclusion == "failure"


async def test_a_review_stopped_for_a_newer_head_completes_its_check(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """The runtime stops the review of a head a newer push replaced (its task is cancelled during the LLM
    call): nothing is posted and the check run is completed as skipped, not left in progress."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model) as world,
    ):
        head = world.open({"app.py": BREAK})
        fake_llm.enqueue(Reply.slow(5))
        review = asyncio.create_task(world.run(world.job(head, action="opened")))
        for _ in range(500):  # until the LLM is asked
            if fake_llm.requests:
                break
            await asyncio.sleep(0.02)
        review.cancel()
        with pytest.raises(asyncio.CancelledError):
            await review
        [run] = world.check_runs(head)
        assert (run.status, run.conclusion) == ("completed", "skipped")
        assert world.reviews() == []


async def test_a_stop_request_while_posting_lets_the_posting_finish(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """Once posting has begun (it is fenced), a stop request waits for it: the review, the summary and the
    check run are all there, and the job reports what it did."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        fake.delay_next(1, 1.0, path_contains="/pulls/3/reviews", method="POST")
        review = asyncio.create_task(world.run(world.job(head, action="opened")))
        for _ in range(500):  # until the review is being posted
            if fake.requests_to("/pulls/3/reviews", method="POST"):
                break
            await asyncio.sleep(0.02)
        review.cancel()
        outcome = await review
        assert outcome.kind is OutcomeKind.POSTED
        assert len(world.reviews()) == 1
        assert "1 open" in world.summary().body
        [run] = world.check_runs(head)
        assert run.status == "completed"
