"""Comment commands carried out by the pipeline: trust (association, then GitHub's permission), 👀, answers
once, pause/resume, summary, dismiss, closing (in process: production adapters, fake GitHub, real Redis)."""

from __future__ import annotations

import redis.asyncio as aioredis

from argoai_core.models.policy import PolicySpec
from argoai_core.settings import RedisSettings
from argoai_reviewer.conversation.commands.grammar import REFUSAL
from argoai_reviewer.conversation.markers import find_reply_marker, find_summary_meta
from argoai_reviewer.outcome import OutcomeKind
from reviewer.conversation.world import NUMBER, OWNER, REPO, make_world
from support.fake_github import FakeGitHub

BREAK = "def f(x):\n    breakpoint()\n    return x\n"
CLEAN = "def f(x):\n    return x\n"


def eyes(fake: FakeGitHub, comment_id: int) -> list[str]:
    """Who reacted 👀 to a comment."""
    found = fake.find_comment(OWNER, REPO, comment_id)
    assert found is not None
    return [r.user for r in found.reactions if r.content == "eyes"]


def replies_to(world: object, comment_id: int) -> list[str]:
    """Bodies of the bot's replies to a comment (conversation or thread)."""
    from reviewer.conversation.world import World

    assert isinstance(world, World)
    bodies = [c.body for c in world.bot_comments()] + [
        c.body for c in world.threads() if c.author_type == "Bot"
    ]
    return [body for body in bodies if (find_reply_marker(body) or (0, ""))[0] == comment_id]


async def test_help_is_acknowledged_and_answered_once(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """``help`` gets 👀 and one answer listing the enabled commands; run again, it answers nothing more."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        world.open({"app.py": CLEAN})
        job = world.command("help")
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        await world.run(job)
        assert eyes(fake, job.comment_id) == ["argoai[bot]"]
        [answer] = replies_to(world, job.comment_id)
        assert "`@argoai pause`" in answer
        assert "`@argoai ignore`" not in answer  # not enabled by the default policy


async def test_a_contributor_without_write_permission_is_refused_once(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """A ``review`` from someone GitHub calls a contributor, who only reads the repository: no review, no
    reaction, one short refusal; the same comment again gets nothing more."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        world.open({"app.py": BREAK})
        job = world.command("review", association="CONTRIBUTOR", login="drive-by")
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        assert world.reviews() == []
        assert eyes(fake, job.comment_id) == []
        [refusal] = replies_to(world, job.comment_id)
        assert refusal.startswith(REFUSAL)
        assert len(fake.requests_to("/collaborators/drive-by/permission")) == 1  # cached after the first


async def test_a_private_member_with_write_permission_may_command(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """An organization member whose membership is private shows as CONTRIBUTOR; GitHub's permission
    endpoint says write, so the command runs."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        world.open({"app.py": BREAK})
        fake.set_permission(OWNER, REPO, "quiet-member", "maintain")
        job = world.command("review", association="CONTRIBUTOR", login="quiet-member")
        assert (await world.run(job)).kind is OutcomeKind.POSTED
        assert eyes(fake, job.comment_id) == ["argoai[bot]"]
        assert len(world.reviews()) == 1


async def test_refusals_are_capped_per_pull_request(fake: FakeGitHub, redis_settings: RedisSettings) -> None:
    """Anyone can comment: after ten refusals in an hour a pull request gets no more."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        world.open({"app.py": CLEAN})
        for n in range(12):
            await world.run(world.command("review", association="NONE", login=f"stranger{n}"))
        assert sum(REFUSAL in c.body for c in world.bot_comments()) == 10


async def test_pause_stops_automatic_reviews_and_resume_reviews_the_current_head(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """While paused a push is not reviewed and the summary says so; ``resume`` reviews the current head."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": CLEAN})
        await world.run(world.job(head, action="opened"))
        await world.run(world.command("pause"))
        summary = world.summary()
        assert "Automatic reviews are paused" in summary.body
        assert find_summary_meta(summary.body)["paused"] is True  # type: ignore[index]
        pushed = world.push({"bug.py": BREAK})
        outcome = await world.run(world.job(pushed))
        assert outcome.kind is OutcomeKind.SKIPPED
        assert "paused" in outcome.reason
        assert world.reviews() == []
        assert world.check_runs(pushed) == []
        resume = world.command("resume")
        assert (await world.run(resume)).kind is OutcomeKind.POSTED
        [review] = world.reviews()
        assert review.commit_id == pushed
        assert [c["path"] for c in review.comments] == ["bug.py"]
        assert "Automatic reviews are paused" not in world.summary().body
        [answer] = replies_to(world, resume.comment_id)
        assert answer.startswith("Automatic reviews resumed.")


async def test_review_is_incremental_and_full_review_covers_everything(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """``review`` on a reviewed head says so; ``full review`` reviews the whole pull request again and,
    finding nothing new, answers with one line instead of an empty review."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        again = world.command("review")
        assert (await world.run(again)).kind is OutcomeKind.DUPLICATE
        [said] = replies_to(world, again.comment_id)
        assert "is already reviewed" in said
        full = world.command("full-review")
        assert (await world.run(full)).kind is OutcomeKind.UPDATED
        [line] = replies_to(world, full.comment_id)
        assert line.startswith(f"Reviewed `{head[:12]}`: nothing new to comment on")
        assert len(world.reviews()) == 1
        assert len(world.check_runs(head)) == 2  # the full review has its own run


async def test_summary_command_rebuilds_a_deleted_summary(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """``summary`` edits the summary comment, or posts it again when someone deleted it."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        pull = fake.pull(OWNER, REPO, NUMBER)
        pull.comments[:] = [c for c in pull.comments if "argoai:summary" not in c.body]
        await world.run(world.command("summary"))
        assert "1 open" in world.summary().body


async def test_ignore_needs_the_policy_and_review_lifts_it(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """A command the policy does not enable does nothing at all (no GitHub call); enabled, ``ignore`` skips
    pushes until a ``review``."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        world.open({"app.py": CLEAN})
        before = len(fake.requests)
        job = world.command("ignore")
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        assert len(fake.requests) == before
    async with make_world(fake, redis_settings, PolicySpec(commands=["review", "ignore"])) as world:
        await world.run(world.command("ignore"))
        pushed = world.push({"bug.py": BREAK})
        assert (await world.run(world.job(pushed))).kind is OutcomeKind.SKIPPED
        assert (await world.run(world.command("review"))).kind is OutcomeKind.POSTED


async def test_closing_reads_reactions_and_lets_the_state_expire(
    fake: FakeGitHub, redis_settings: RedisSettings, redis_server: str
) -> None:
    """On close the 👍 on a comment is counted for the repository (and in the outcome, for the history), and
    the pull request's keys get the closed-state lifetime."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        [comment] = world.threads()
        fake.react(OWNER, REPO, comment.id, "+1", user="reader")
        closed = await world.run(world.closed())
        assert (await world.feedback.counts(world.repo))["thumbs_up"] == 1
        # The outcome carries the pull request's feedback, for the audit history.
        assert closed.feedback is not None
        assert (closed.feedback.findings, closed.feedback.thumbs_up) == (1, 1)
        client = aioredis.from_url(redis_server)
        try:
            key = f"{redis_settings.key_prefix}:pr:{world.job(head).pr_key}:conversation"
            assert 0 < await client.ttl(key) <= 60
        finally:
            await client.aclose()
