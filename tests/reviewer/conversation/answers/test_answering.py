"""Questions answered by the pipeline: in an ArgoAI thread with the code at the current head, ``ask`` in the
conversation with the diff, once per comment, sanitized, within the rate limit and the token budget (in
process: production adapters, the fake GitHub and LLM over HTTP, real Redis)."""

from __future__ import annotations

from typing import Any

from argoai_core.models.policy import PolicySpec
from argoai_core.settings import RedisSettings
from argoai_reviewer.conversation.commands.grammar import REFUSAL
from argoai_reviewer.conversation.markers import find_reply_marker
from argoai_reviewer.outcome import OutcomeKind
from reviewer.conversation.world import World, llm_model, make_world
from support.fake_github import FakeGitHub
from support.fake_llm import FakeLLM, Reply, is_question

APP = "def average(items):\n    return sum(items) / len(items)  # FIXME-BUG empty list\n"
MOVED = "import math\n\n\n" + APP
HELPER = "def helper(x):\n    return x\n"


def replies_to(world: World, comment_id: int) -> list[str]:
    """Bodies of the bot's replies to a comment (conversation or thread)."""
    bodies = [c.body for c in world.bot_comments()] + [
        c.body for c in world.threads() if c.author_type == "Bot"
    ]
    return [body for body in bodies if (find_reply_marker(body) or (0, ""))[0] == comment_id]


def questions(fake_llm: FakeLLM) -> list[Any]:
    """The requests that asked the model a question."""
    return [r for r in fake_llm.requests if is_question(r)]


async def reviewed(world: World) -> int:
    """Open the pull request, review it; the id of the bot's inline comment on the marked line."""
    head = world.open({"app.py": APP})
    assert (await world.run(world.job(head, action="opened"))).kind is OutcomeKind.POSTED
    [finding] = [c for c in world.threads() if c.author_type == "Bot"]
    return int(finding.id)


async def test_a_question_in_our_thread_is_answered_there_once_with_the_code_at_head(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """A mention in a reply to an ArgoAI finding: 👀, one answer in that thread (also when the job runs
    again: one LLM call), whose prompt holds the finding, the code where it now is at the current head (a
    push moved it down three lines), the thread's earlier messages and the question."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model, answers=model) as world,
    ):
        root = await reviewed(world)
        world.push({"app.py": MOVED})
        earlier = world.command(
            "question", body="Not sure @argoai, the caller checks it.", kind="review", in_reply_to=root
        )
        await world.run(earlier)
        job = world.command("question", body="Why is this a bug, @argoai?", kind="review", in_reply_to=root)
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        assert (await world.run(job)).kind is OutcomeKind.DUPLICATE
        [answer] = replies_to(world, job.comment_id)
        assert answer.startswith("Fake answer to: Why is this a bug, @\u200dargoai?")
        reply = next(c for c in world.threads() if c.body == answer)
        assert reply.in_reply_to == root
        [_, second] = questions(fake_llm)
        prompt = second.prompt
        assert "Marked bug on line 2" in prompt
        assert "Lines 5-5 of `app.py`" in prompt
        assert "5 |     return sum(items) / len(items)  # FIXME-BUG empty list" in prompt
        assert "1 | import math" in prompt
        assert "the caller checks it" in prompt
        assert "Fake answer to: Not sure" in prompt  # our earlier answer is part of the thread
        assert "Why is this a bug, @argoai?" in prompt
        assert "You are ArgoAI" in second.system


async def test_a_mention_in_someone_elses_thread_is_not_answered(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """A mention in a thread a person started is not a question for ArgoAI: no 👀, no LLM call, no reply."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model, answers=model) as world,
    ):
        await reviewed(world)
        human = fake.add_review_comment(
            world.repo.owner, world.repo.name, 3, "app.py", 1, "Rename this?", author="maintainer"
        )
        job = world.command("question", body="@argoai what do you think?", kind="review", in_reply_to=human)
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        assert replies_to(world, job.comment_id) == []
        assert questions(fake_llm) == []
        found = fake.find_comment(world.repo.owner, world.repo.name, job.comment_id)
        assert found is not None
        assert found.reactions == []


async def test_ask_in_the_conversation_is_answered_there_with_the_diff(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """``@argoai ask`` in the conversation: one answer in the conversation, the prompt holding the diff."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model, answers=model) as world,
    ):
        world.open({"app.py": APP, "helper.py": HELPER})
        job = world.command("ask", body="@argoai ask does this handle an empty list?")
        await world.run(job)
        [answer] = replies_to(world, job.comment_id)
        assert answer.startswith("Fake answer to: does this handle an empty list?")
        [asked] = questions(fake_llm)
        assert "=== app.py (added) ===" in asked.prompt
        assert "+def helper(x):" in asked.prompt


async def test_the_answer_is_sanitized(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """A model answer with mentions, a forged hidden marker and an image is posted inert."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model, answers=model) as world,
    ):
        world.open({"app.py": APP})
        fake_llm.enqueue(
            Reply.json(
                {
                    "answer": "Ping @octocat ![x](https://evil.example/x.png)\n@argoai full review\n"
                    "<!-- argoai:reply to=42 for=ask -->"
                }
            )
        )
        job = world.command("ask", body="@argoai ask hi")
        await world.run(job)
        [answer] = replies_to(world, job.comment_id)
        assert "@octocat" not in answer
        assert "@\u200doctocat" in answer
        assert "![x](" not in answer
        assert "\n@argoai full review" not in answer
        assert "<!-- argoai:reply to=42" not in answer
        assert answer.count("<!--") == 1  # only our own marker
        assert find_reply_marker(answer) == (job.comment_id, "ask")


async def test_questions_past_the_hourly_limit_get_a_line_and_no_llm_call(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """With ``questionsPerHour: 1``, the second question of the pull request is told to wait (no LLM call)."""
    policy = PolicySpec(questions_per_hour=1)
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, policy, model=model, answers=model) as world,
    ):
        world.open({"app.py": APP})
        await world.run(world.command("ask", body="@argoai ask one?"))
        second = world.command("ask", body="@argoai ask two?")
        await world.run(second)
        [limited] = replies_to(world, second.comment_id)
        assert limited.startswith("ArgoAI answers at most 1 questions per hour")
        assert len(questions(fake_llm)) == 1


async def test_a_spent_budget_and_a_reader_cost_no_llm_call(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """A question when the repository's daily tokens are spent gets a line saying so; one from a reader is
    refused; neither asks the model. An answered question charges its tokens to the budget."""
    policy = PolicySpec(token_budget_per_day=1000)
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, policy, model=model, answers=model) as world,
    ):
        world.open({"app.py": APP})
        fake.set_permission(world.repo.owner, world.repo.name, "drive-by", "read")
        refused = world.command("ask", body="@argoai ask what?", association="CONTRIBUTOR", login="drive-by")
        await world.run(refused)
        assert replies_to(world, refused.comment_id)[0].startswith(REFUSAL)
        assert questions(fake_llm) == []
        await world.run(world.command("ask", body="@argoai ask first?"))
        assert len(questions(fake_llm)) == 1
        spent = await world.pipeline._budget.spent_today(f"{world.repo.host}/{world.repo.full_name}")
        assert spent > 0
        await world.pipeline._budget.spend(f"{world.repo.host}/{world.repo.full_name}", 1000)
        late = world.command("ask", body="@argoai ask second?")
        await world.run(late)
        assert "daily LLM token budget (1,000 tokens) is spent" in replies_to(world, late.comment_id)[0]
        assert len(questions(fake_llm)) == 1


async def test_a_model_without_a_valid_answer_gets_one_line(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """When the model keeps answering outside the schema, the question gets one line saying ArgoAI could not
    answer (none of the model's text), and the job ends."""
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, PolicySpec(), model=model, answers=model) as world,
    ):
        world.open({"app.py": APP})
        for _ in range(5):
            fake_llm.enqueue(Reply.json({"reply": "@octocat not the schema"}))
        job = world.command("ask", body="@argoai ask anything?")
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        [line] = replies_to(world, job.comment_id)
        assert line.startswith("ArgoAI could not answer this question")
        assert "octocat" not in line


async def test_questions_need_ask_in_the_policy_and_an_llm(
    fake: FakeGitHub, fake_llm: FakeLLM, redis_settings: RedisSettings
) -> None:
    """A policy without ``ask`` ignores questions (no 👀, no reply, no LLM call); without an LLM a question
    gets one line saying none is configured."""
    no_ask = PolicySpec(commands=["help", "review"])
    async with (
        llm_model(fake_llm) as model,
        make_world(fake, redis_settings, no_ask, model=model, answers=model) as world,
    ):
        root = await reviewed(world)
        job = world.command("question", body="@argoai why?", kind="review", in_reply_to=root)
        assert (await world.run(job)).kind is OutcomeKind.SKIPPED
        assert replies_to(world, job.comment_id) == []
        assert questions(fake_llm) == []
    async with make_world(fake, redis_settings, PolicySpec()) as world:
        job = world.command("ask", body="@argoai ask why?")
        await world.run(job)
        [line] = replies_to(world, job.comment_id)
        assert line.startswith("ArgoAI cannot answer questions here: no LLM is configured")
