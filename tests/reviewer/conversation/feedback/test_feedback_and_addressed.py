"""Fixed findings are replied to and resolved once; findings the team rejected (👎 by a trusted person,
``dismiss``) are not posted again in the repository (in process: production adapters, fake GitHub, Redis)."""

from __future__ import annotations

from argoai_core.models.findings import Severity
from argoai_core.models.policy import PolicySpec
from argoai_core.settings import RedisSettings
from argoai_reviewer.conversation.feedback.addressed import quote_present
from argoai_reviewer.conversation.feedback.rejections import Rejection, Suppressor, similar
from argoai_reviewer.conversation.markers import find_reply_marker
from argoai_reviewer.outcome import OutcomeKind
from reviewer.conversation.world import NUMBER, OWNER, REPO, make_world
from support.fake_github import FakeGitHub

BREAK = "def f(x):\n    breakpoint()\n    return x\n"
BREAK_TOO = "def g(y):\n    breakpoint()\n    return y * 2\n"
CLEAN = "def f(x):\n    return x\n"


def test_quote_present_follows_anchoring_normalisation() -> None:
    """A quote is found again with other indentation or trailing spaces, and as part of a line when long
    enough; a changed line is not found."""
    text = "class A:\n    def f(self):\n        return compute(x)  \n"
    assert quote_present("def f(self):\n    return compute(x)", text)
    assert quote_present("return compute(x)", text)
    assert not quote_present("return compute(y)", text)
    assert not quote_present("x", "y = 1\n")  # too short to call it a fragment
    assert quote_present("", "anything")  # nothing to look for is never "addressed"


def test_similar_texts_and_the_suppressor() -> None:
    """Same fingerprint, or same category with a near-identical quote or title, is suppressed; another
    category or a different text is not."""
    assert similar("Division by zero when items is empty", "division by zero when items is empty!")
    assert not similar("abc", "abd")  # short texts must be equal
    rejection = Rejection(id="f" * 32, category="bug", title="Possible division by zero", quote="a / len(b)",
                          source="dismiss")  # fmt: skip
    suppressor = Suppressor([rejection])
    assert suppressor.match("f" * 32, "security", "x", "y") is rejection
    assert suppressor.match("0" * 32, "bug", "Possible division by zero.", "other") is rejection
    assert suppressor.match("0" * 32, "style", "Possible division by zero", "other") is None
    assert suppressor.match("0" * 32, "bug", "Unused import", "import os") is None


async def test_a_push_that_removes_a_commented_line_replies_addressed_once(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """The commented line is gone at the new head: one "Addressed in <sha>" reply in its thread, the thread
    resolved, the summary counts it; the same push processed again replies nothing more."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK, "keep.py": BREAK_TOO})
        await world.run(world.job(head, action="opened"))
        first = {c.path: c for c in world.threads()}
        fixed = world.push({"app.py": CLEAN})
        assert (await world.run(world.job(fixed))).kind is OutcomeKind.UPDATED
        replies = [c for c in world.threads() if c.in_reply_to is not None]
        assert [(r.in_reply_to, r.body.splitlines()[0]) for r in replies] == [
            (first["app.py"].id, f"Addressed in `{fixed[:12]}`: the code this comment was about has changed.")
        ]
        threads = {t.first_comment_id: t.resolved for t in fake.threads(OWNER, REPO, NUMBER)}
        assert threads == {first["app.py"].id: True, first["keep.py"].id: False}
        assert "1 open · 1 addressed" in world.summary().body
        # A redelivered push (the state says this head is not reviewed yet): still one reply.
        await world.state.mark_reviewed(world.job(fixed).pr_key, head, 1)
        await world.run(world.job(fixed, action="synchronize", rerun_id="again", full=True))
        assert len([c for c in world.threads() if c.in_reply_to is not None]) == 1


async def test_a_moved_line_is_not_addressed(fake: FakeGitHub, redis_settings: RedisSettings) -> None:
    """Code that only moved (a line added above it) is still there: no reply."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        moved = world.push({"app.py": "import os\n" + BREAK})
        await world.run(world.job(moved))
        assert [c for c in world.threads() if c.in_reply_to is not None] == []


async def test_dismiss_rejects_resolves_and_suppresses_like_findings(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """``dismiss`` in the thread: the finding is rejected (the check no longer fails for it), the thread
    resolved, one confirmation; a like finding in another file is then not posted, only counted."""
    async with make_world(fake, redis_settings, PolicySpec(check_fail_on=Severity.MAJOR)) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        assert world.check_runs(head)[0].conclusion == "failure"
        [first] = world.threads()
        job = world.command("dismiss", kind="review", in_reply_to=first.id)
        await world.run(job)
        await world.run(job)  # redelivered
        confirmations = [
            c for c in world.threads() if find_reply_marker(c.body) == (job.comment_id, "dismiss")
        ]
        assert len(confirmations) == 1
        assert confirmations[0].in_reply_to == first.id
        assert [t.resolved for t in fake.threads(OWNER, REPO, NUMBER)] == [True]
        assert world.check_runs(head)[0].conclusion == "success"
        [rejection] = await world.feedback.rejections(world.repo)
        assert '"source":"dismiss"' in rejection
        again = world.push({"other.py": BREAK_TOO})
        outcome = await world.run(world.job(again))
        assert outcome.kind is OutcomeKind.UPDATED
        assert len(world.reviews()) == 1
        body = world.summary().body
        assert "Not posted: like findings your team rejected (1)" in body
        assert "`other.py` line 2 — Debugger breakpoint left in the code (bug)" in body
        counts = await world.feedback.counts(world.repo)
        assert counts == {"posted": 1, "dismissed": 1}


async def test_dismiss_outside_an_argoai_thread_only_explains(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """``dismiss`` in a conversation comment, or under someone else's comment, rejects nothing."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        job = world.command("dismiss")
        await world.run(job)
        [said] = [
            c.body for c in world.bot_comments() if find_reply_marker(c.body) == (job.comment_id, "dismiss")
        ]
        assert "works in a reply to one of ArgoAI's inline comments" in said
        assert await world.feedback.rejections(world.repo) == []


async def test_a_trusted_thumbs_down_rejects_and_an_untrusted_one_only_counts(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """👎 from a reader is counted, not obeyed; 👎 from someone with write access rejects the finding when
    the pull request is next reviewed, and a like finding is not posted."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        [first] = world.threads()
        fake.react(OWNER, REPO, first.id, "-1", user="reader")
        quiet = world.push({"docs.py": CLEAN})
        await world.run(world.job(quiet))
        assert await world.feedback.rejections(world.repo) == []
        fake.set_permission(OWNER, REPO, "lead", "write")
        fake.react(OWNER, REPO, first.id, "-1", user="lead")
        again = world.push({"other.py": BREAK_TOO})
        await world.run(world.job(again))
        assert len(world.reviews()) == 1
        [rejection] = await world.feedback.rejections(world.repo)
        assert '"by":"lead"' in rejection
        assert (await world.feedback.counts(world.repo))["thumbs_down"] == 2


async def test_a_rejection_applies_to_other_pull_requests_of_the_repository(
    fake: FakeGitHub, redis_settings: RedisSettings
) -> None:
    """The same code in a new pull request (same fingerprint) is suppressed there too."""
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        head = world.open({"app.py": BREAK})
        await world.run(world.job(head, action="opened"))
        [first] = world.threads()
        await world.run(world.command("dismiss", kind="review", in_reply_to=first.id))
        other = world.open({"app.py": BREAK}, number=4, head="c" * 40)
        assert (await world.run(world.job(other, action="opened", number=4))).kind is OutcomeKind.UPDATED
        assert world.reviews(4) == []
