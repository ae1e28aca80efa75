"""Poison jobs and final failures: bounded deliveries with backoff, the dead-letter stream, a metric, a log
line, ONE short comment on the pull request, and other jobs flowing meanwhile."""

from __future__ import annotations

import itertools

import pytest

from faults.helpers import (
    FAST,
    FULL_NAME,
    comments,
    dead_letters,
    head,
    metric,
    open_pr,
    opened,
    reviews,
    settle,
)
from faults.report import Tally
from support.fake_llm import MarkerResponder, Recorded, Reply
from support.system import ArgoSystem, wait_until

pytestmark = pytest.mark.faults

FAILURE_MARKER = "<!-- argoai:failed head={} -->"


def _failure_comment_ok(body: str, sha: str) -> None:
    assert body.rstrip().endswith(FAILURE_MARKER.format(sha))
    assert len(body) < 400
    for internal in ("Traceback", "Error", "500", "http", "LLM", "gpt-"):
        assert internal not in body, internal


def test_poison_job_is_dead_lettered_after_bounded_backoff_while_others_flow(
    argo: ArgoSystem, tally: Tally
) -> None:
    """PR 8's GitHub calls always fail 500: 2 deliveries spaced by the backoff, then a dead letter (reason,
    metric, log line) and one failure comment; PR 7, sent after it, is reviewed meanwhile."""
    argo.start_gateway()
    argo.start_reviewer(**{**FAST, "ARGOAI_REVIEWER_MAX_DELIVER": "2"})
    poison, good = head(8), head(7)
    open_pr(argo, 8, poison)
    open_pr(argo, 7, good)
    argo.fake_github.fail_next(10_000, status=500, path_contains="/pulls/8")
    tally.sent(argo.send("pull_request", opened(argo, 8, poison)))
    tally.sent(argo.send("pull_request", opened(argo, 7, good)))
    tally.expect(FULL_NAME, 7, good)
    tally.forbid(FULL_NAME, 8, poison)
    wait_until(lambda: len(reviews(argo, 7)) == 1, 30, "PR 7's review")
    assert dead_letters(argo) == []  # PR 7 did not wait for the poison job to die
    wait_until(lambda: len(dead_letters(argo)) == 1, 60, "the poison job's dead letter")
    wait_until(lambda: len(comments(argo, 8)) == 1, 15, "the failure comment")
    settle(argo)
    tally.jobs_dead_lettered = len(dead_letters(argo))
    tally.observe(argo.fake_github)
    [letter] = dead_letters(argo)
    assert letter["reason_header"] == letter["reason"] == "max_deliver"
    assert letter["num_delivered"] == 2
    assert letter["job"]["number"] == 8
    assert letter["job"]["head_sha"] == poison
    assert "500" in letter["error"]
    assert metric(argo, "reviewer", "argoai_jobs_dead_lettered_total", reason="max_deliver") == 1
    assert metric(argo, "reviewer", "argoai_review_failures_notified_total", reason="max_deliver") == 1
    assert '"job dead-lettered"' in argo.logs()
    # Bounded: each delivery makes one read and its capped retries; the redelivery waited out the backoff.
    calls = sorted(r.at for r in argo.fake_github.requests_to("/pulls/8", method="GET"))
    assert 2 <= len(calls) <= 2 * 4
    assert max(b - a for a, b in itertools.pairwise(calls)) >= 10
    assert reviews(argo, 8) == []
    [comment] = comments(argo, 8)
    _failure_comment_ok(comment.body, poison)


def test_llm_failing_for_good_gets_one_short_comment_per_head(argo: ArgoSystem, tally: Tally) -> None:
    """Invalid output every time (permanent) and 429 every time (retries exhausted) → each PR gets one short
    failure comment and no review; the failures are counted."""
    marker = MarkerResponder()

    def failing(request: Recorded) -> Reply:
        if "pr7.py" in request.prompt or "pr7.py" in request.text:
            return Reply.text("I think the code is fine.")  # not the schema, ever
        if "pr8.py" in request.text:
            return Reply.rate_limited(0.1)
        return marker(request)

    argo.fake_llm.responder = failing
    argo.start_gateway()
    argo.start_reviewer(**{**FAST, "ARGOAI_REVIEWER_MAX_DELIVER": "2", "ARGOAI_LLM_MAX_RETRIES": "1"})
    for number in (7, 8, 9):
        open_pr(argo, number, head(number))
        tally.sent(argo.send("pull_request", opened(argo, number, head(number))))
    tally.expect(FULL_NAME, 9, head(9))
    tally.forbid(FULL_NAME, 7, head(7))
    tally.forbid(FULL_NAME, 8, head(8))
    wait_until(lambda: len(comments(argo, 7)) + len(comments(argo, 8)) == 2, 60, "two failure comments")
    wait_until(lambda: len(reviews(argo, 9)) == 1, 30, "PR 9's review")
    settle(argo)
    tally.jobs_dead_lettered = len(dead_letters(argo))
    tally.observe(argo.fake_github)
    assert sorted(letter["reason"] for letter in dead_letters(argo)) == ["max_deliver", "permanent_error"]
    for number in (7, 8):
        [comment] = comments(argo, number)
        _failure_comment_ok(comment.body, head(number))
        assert reviews(argo, number) == []
    assert metric(argo, "reviewer", "argoai_review_failures_notified_total", reason="permanent_error") == 1
    assert metric(argo, "reviewer", "argoai_review_failures_notified_total", reason="max_deliver") == 1
    # Bounded: 3 answers for the invalid one; 2 deliveries x 2 attempts for the rate-limited one.
    assert sum("pr7.py" in r.text for r in argo.fake_llm.requests) == 3
    assert sum("pr8.py" in r.text for r in argo.fake_llm.requests) == 4


def test_reviewer_dying_on_the_last_delivery_is_dead_lettered_and_reported_once(
    argo: ArgoSystem, tally: Tally
) -> None:
    """max_deliver=1 and the reviewer is SIGKILLed mid-review: both surviving pods hear the MAX_DELIVERIES
    advisory; the job is dead-lettered once, leaves the work queue, and the PR gets exactly one comment."""
    # The LLM call must still be running when reviewer-a is killed: no timeout (and retry) before the kill.
    fast = {**FAST, "ARGOAI_REVIEWER_MAX_DELIVER": "1", "ARGOAI_LLM_TIMEOUT_SECONDS": "300"}
    argo.start_gateway()
    argo.start_reviewer("reviewer-a", **fast)
    sha = head(7)
    open_pr(argo, 7, sha)
    argo.fake_llm.enqueue(Reply.slow(60))
    tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    tally.forbid(FULL_NAME, 7, sha)
    wait_until(lambda: len(argo.fake_llm.requests) >= 1, 30, "reviewer-a's LLM call")
    argo.start_reviewer("reviewer-b", **fast)
    argo.start_reviewer("reviewer-c", **fast)
    argo.stop("reviewer-a", kill=True)
    wait_until(lambda: len(comments(argo, 7)) >= 1, 30, "the failure comment")
    settle(argo)
    tally.jobs_dead_lettered = len(dead_letters(argo))
    tally.observe(argo.fake_github)
    [letter] = dead_letters(argo)
    assert letter["reason"] == "max_deliver"
    assert letter["job"]["head_sha"] == sha
    [comment] = comments(argo, 7)
    _failure_comment_ok(comment.body, sha)
    assert reviews(argo, 7) == []
    assert len(argo.fake_llm.requests) == 1
