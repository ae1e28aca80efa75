"""End to end, the pull request's conversation: commands, trust, pause, the check run and its re-run,
"addressed" replies, feedback, and one living summary instead of a review per push.

Real gateway and reviewer processes (started as their containers start them), real NATS and Redis, the fake
GitHub and LLM.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from argoai_cli.local_services import LocalProcess
from argoai_reviewer.conversation.commands.grammar import REFUSAL
from argoai_reviewer.conversation.markers import find_reply_marker, find_summary_meta
from e2e.helpers import (
    bot_comments,
    check_run_rerequested,
    comment,
    open_pr,
    push,
    reviews,
    settled,
    summary,
    summary_body,
    thread_comments,
    thread_reply,
)
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM, Reply
from support.system import OWNER, REPO, ArgoSystem, argo_system, pull_request_payload, wait_until

APP = "def average(items):\n    return sum(items) / len(items)  # FIXME-BUG empty list\n"
APP_FIXED = "def average(items):\n    return sum(items) / max(len(items), 1)\n"
UTIL = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))  # FIXME-BUG lo > hi\n"
STATS = "def mean(values):\n    breakpoint()\n    return sum(values) / len(values)\n"
NOTES = "Release notes.\n"
POLICY = """\
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: cluster-default}
spec:
  checkFailOn: major
  # No LLM response cache: the re-run test wants the model asked again (a different answer for one head).
  llmCacheTtlHours: 0
"""


def h(n: int) -> str:
    """A distinct head SHA."""
    return f"{n:040x}"


@pytest.fixture
def argo(
    nats_server: LocalProcess, redis_server: str, fake_llm: FakeLLM, tmp_path: Path
) -> Iterator[ArgoSystem]:
    """ArgoAI whose policy (a policy file) fails the check run on an open major finding."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with (
        FakeGitHub().serving() as github,
        argo_system(
            github, fake_llm, f"nats://127.0.0.1:{nats_server.port}", redis_server, tmp_path
        ) as system,
    ):
        system.extra_env["ARGOAI_POLICY_FILE"] = str(policy)
        system.start_gateway()
        system.start_reviewer()
        yield system


def replies_to(argo: ArgoSystem, comment_id: int) -> list[str]:
    """The bot's replies to one comment (in the conversation or in a thread)."""
    bodies = [c.body for c in bot_comments(argo)] + [
        c.body for c in thread_comments(argo) if c.author_type == "Bot"
    ]
    return [b for b in bodies if (find_reply_marker(b) or (0, ""))[0] == comment_id]


def eyes(argo: ArgoSystem, comment_id: int) -> list[str]:
    """Who reacted 👀 to a comment."""
    found = argo.fake_github.find_comment(OWNER, REPO, comment_id)
    assert found is not None
    return [r.user for r in found.reactions if r.content == "eyes"]


def test_help_is_answered_and_a_reader_is_refused_without_cost(argo: ArgoSystem) -> None:
    """``help``: 👀 and the list of commands. ``review`` from a contributor without write permission: no
    review, no LLM call, one short refusal (once, however often the webhook comes)."""
    open_pr(argo, h(1), {"app.py": APP})
    wait_until(lambda: len(reviews(argo)) == 1, 30, "the first review")
    settled(argo)
    llm_calls = len(argo.fake_llm.requests)

    help_id, help_hook = comment(argo, "@argoai help")
    argo.send("issue_comment", help_hook)
    refused_id, refused_hook = comment(
        argo, "@argoai full review", association="CONTRIBUTOR", login="drive-by"
    )
    first = argo.send("issue_comment", refused_hook)
    argo.send("issue_comment", refused_hook, delivery=first.request.headers["X-GitHub-Delivery"])
    argo.send("issue_comment", refused_hook)  # a second delivery of the same comment
    _, bot_hook = comment(argo, "@argoai review", association="OWNER", login="argoai[bot]", user_type="Bot")
    argo.send("issue_comment", bot_hook)
    settled(argo)

    [answer] = replies_to(argo, help_id)
    assert "`@argoai full review`" in answer
    assert eyes(argo, help_id) == ["argoai[bot]"]
    [refusal] = replies_to(argo, refused_id)
    assert refusal.startswith(REFUSAL)
    assert len(refusal) < 300
    assert eyes(argo, refused_id) == []
    assert len(reviews(argo)) == 1
    assert len(argo.fake_llm.requests) == llm_calls
    assert len(argo.fake_github.requests_to("/collaborators/drive-by/permission")) == 1


def test_pause_skips_pushes_and_resume_reviews_the_current_head(argo: ArgoSystem) -> None:
    """After ``pause`` a push is not reviewed and the summary says paused; ``resume`` reviews the head."""
    open_pr(argo, h(1), {"app.py": APP})
    wait_until(lambda: len(reviews(argo)) == 1, 30, "the first review")
    _, pause = comment(argo, "@argoai pause")
    argo.send("issue_comment", pause)
    wait_until(lambda: "Automatic reviews are paused" in summary_body(argo), 30, "the summary to say paused")
    settled(argo)
    llm_calls = len(argo.fake_llm.requests)
    push(argo, h(2), h(1), {"util.py": UTIL})
    settled(argo)
    assert len(reviews(argo)) == 1
    assert len(argo.fake_llm.requests) == llm_calls
    assert argo.fake_github.check_runs(OWNER, REPO, h(2)) == []
    assert find_summary_meta(summary(argo).body)["paused"] is True  # type: ignore[index]

    resume_id, resume = comment(argo, "@argoai resume")
    argo.send("issue_comment", resume)
    wait_until(lambda: len(reviews(argo)) == 2, 30, "the review after resume")
    settled(argo)
    latest = reviews(argo)[1]
    assert latest.commit_id == h(2)
    assert [(c["path"], c["line"]) for c in latest.comments] == [("util.py", 2)]
    assert "Automatic reviews are paused" not in summary(argo).body
    assert [r.startswith("Automatic reviews resumed.") for r in replies_to(argo, resume_id)] == [True]


def test_the_check_run_shows_progress_and_is_rerun_on_request(argo: ArgoSystem) -> None:
    """In progress while the LLM answers, completed with the policy's conclusion (failure: an open major
    finding) and the finding as an annotation; GitHub's re-run (``check_run.rerequested``) reviews the head
    again in a new run."""
    argo.fake_llm.enqueue(Reply.slow(3))
    open_pr(argo, h(1), {"app.py": APP})
    wait_until(lambda: len(argo.fake_llm.requests) == 1, 30, "the LLM call")
    [running] = argo.fake_github.check_runs(OWNER, REPO, h(1))
    assert (running.name, running.status) == ("ArgoAI", "in_progress")
    wait_until(lambda: running.status == "completed", 30, "the check run to complete")
    assert running.conclusion == "success"  # the slow answer had no finding
    assert running.annotations == []

    argo.send("check_run", check_run_rerequested(argo, running.id, h(1)))
    wait_until(lambda: len(argo.fake_github.check_runs(OWNER, REPO, h(1))) == 2, 30, "the re-run's check run")
    settled(argo)
    rerun = argo.fake_github.check_runs(OWNER, REPO, h(1))[1]
    assert (rerun.status, rerun.conclusion) == ("completed", "failure")
    assert rerun.history[0] == ("in_progress", None)
    assert [(a["path"], a["start_line"], a["annotation_level"]) for a in rerun.annotations] == [
        ("app.py", 2, "warning")
    ]
    assert [c["path"] for c in reviews(argo)[0].comments] == ["app.py"]


def test_addressed_once_and_a_thumbs_down_is_not_posted_again(argo: ArgoSystem) -> None:
    """A push removing the commented line gets one "addressed" reply (a redelivered push, none more); a
    finding a maintainer 👎'd is not posted again (like code in a new file), and ``dismiss`` in a thread is
    confirmed and resolves it."""
    open_pr(argo, h(1), {"app.py": APP, "util.py": UTIL})
    wait_until(lambda: len(reviews(argo)) == 1, 30, "the first review")
    settled(argo)
    threads = {c.path: c for c in thread_comments(argo)}
    assert set(threads) == {"app.py", "util.py"}

    delivery = push(argo, h(2), h(1), {"app.py": APP_FIXED})
    wait_until(lambda: any(c.in_reply_to for c in thread_comments(argo)), 30, "the addressed reply")
    settled(argo)
    again = pull_request_payload(
        "synchronize", number=7, head=h(2), base="b" * 40, before=h(1), installation_id=argo.installation_id
    )
    argo.send("pull_request", again, delivery=delivery)  # GitHub's redelivery: the same delivery id
    argo.send("pull_request", again)  # and a second delivery for the same push
    settled(argo)
    replies = [c for c in thread_comments(argo) if c.in_reply_to is not None]
    assert [(r.in_reply_to, r.body.startswith(f"Addressed in `{h(2)[:12]}`")) for r in replies] == [
        (threads["app.py"].id, True)
    ]
    assert {t.first_comment_id: t.resolved for t in argo.fake_github.threads(OWNER, REPO, 7)} == {
        threads["app.py"].id: True, threads["util.py"].id: False,
    }  # fmt: skip
    assert len(reviews(argo)) == 1

    argo.fake_github.set_permission(OWNER, REPO, "lead", "write")
    argo.fake_github.react(OWNER, REPO, threads["util.py"].id, "-1", user="lead")
    push(argo, h(3), h(2), {"stats.py": STATS, "lib/clamp.py": UTIL})
    settled(argo)
    latest = reviews(argo)
    # stats.py has a new kind of finding (a built-in check's); lib/clamp.py repeats the 👎'd one: suppressed.
    assert [[c["path"] for c in r.comments] for r in latest] == [["app.py", "util.py"], ["stats.py"]]
    body = summary(argo).body
    assert "Not posted: like findings your team rejected (1)" in body
    assert "`lib/clamp.py` line 2" in body

    [stats] = [c for c in thread_comments(argo) if c.path == "stats.py"]
    dismiss_id, dismiss = thread_reply(argo, stats.id, "@argoai dismiss")
    argo.send("pull_request_review_comment", dismiss)
    wait_until(lambda: len(replies_to(argo, dismiss_id)) == 1, 30, "the dismiss confirmation")
    settled(argo)
    assert replies_to(argo, dismiss_id)[0].startswith("Dismissed as a false positive")
    resolved = {t.first_comment_id: t.resolved for t in argo.fake_github.threads(OWNER, REPO, 7)}
    assert resolved[stats.id] is True
    metrics = argo.metrics()
    expected = {"posted": 3, "addressed": 1, "thumbs_down": 1, "dismissed": 1, "suppressed": 1}
    for signal, value in expected.items():
        line = f'argoai_feedback_total{{repo="{OWNER}/{REPO}",signal="{signal}",variant="none"}} {value:.1f}'
        assert line in metrics, line


def test_thirty_pushes_with_nothing_new_edit_one_summary(argo: ArgoSystem) -> None:
    """Thirty pushes that bring nothing to comment on: one summary comment, edited each time, listing
    every reviewed head, one check run per head, and no review beyond the first."""
    open_pr(argo, h(1), {"app.py": APP})
    wait_until(lambda: len(reviews(argo)) == 1, 30, "the first review")
    settled(argo)
    before = h(1)
    for n in range(2, 32):
        push(argo, h(n), before, {f"notes/{n}.txt": NOTES})
        before = h(n)
        wait_until(
            lambda n=n: h(n) in (find_summary_meta(summary_body(argo)) or {}).get("heads", []),  # type: ignore[misc]
            30,
            f"push {n} to be reviewed",
        )
    settled(argo)
    assert len(reviews(argo)) == 1
    [only] = [c for c in bot_comments(argo) if "argoai:summary" in c.body]
    assert only.edits == 30
    assert len(find_summary_meta(only.body)["heads"]) == 31  # type: ignore[index]
    runs = {n: [r.conclusion for r in argo.fake_github.check_runs(OWNER, REPO, h(n))] for n in range(2, 32)}
    assert all(conclusions == ["failure"] for conclusions in runs.values()), runs
    assert "1 open · 0 addressed" in only.body
