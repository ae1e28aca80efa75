"""Exactly one review per (PR, head): duplicate deliveries, a superseding push, a reviewer killed mid-review,
and a review outlasting the ack deadline."""

from __future__ import annotations

import time

import pytest

from faults.helpers import (
    FAST,
    FULL_NAME,
    comments,
    head,
    metric,
    open_pr,
    opened,
    reviews,
    settle,
    synchronize,
)
from faults.report import Tally
from support.fake_llm import Reply
from support.system import OWNER, REPO, ArgoSystem, wait_until

pytestmark = pytest.mark.faults


def test_duplicate_deliveries_get_one_review(argo: ArgoSystem, tally: Tally) -> None:
    """The same delivery redelivered, other deliveries for the same head and two reviewers → one review."""
    argo.start_gateway()
    argo.start_reviewer("reviewer-a", **FAST)
    argo.start_reviewer("reviewer-b", **FAST)
    sha = head(1)
    open_pr(argo, 7, sha)
    first = tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    delivery = first.request.headers["X-GitHub-Delivery"]
    for _ in range(3):  # GitHub's "redeliver" button keeps the delivery id
        tally.sent(argo.send("pull_request", opened(argo, 7, sha), delivery=delivery))
    for _ in range(2):  # GitHub may send two synchronize events for one push
        tally.sent(argo.send("pull_request", synchronize(argo, 7, sha, before=head(0))))
    tally.expect(FULL_NAME, 7, sha)
    wait_until(lambda: len(reviews(argo, 7)) >= 1, 30, "the review")
    settle(argo)
    tally.observe(argo.fake_github)
    assert tally.webhooks_accepted == tally.webhooks_sent == 6
    assert [r.commit_id for r in reviews(argo, 7)] == [sha]
    assert len(argo.fake_github.requests_to("/pulls/7/reviews", method="POST")) == 1


def test_superseded_in_flight_review_is_not_posted(argo: ArgoSystem, tally: Tally) -> None:
    """A push lands while the first head is being reviewed (slow LLM): only the new head gets a review."""
    argo.start_gateway()
    argo.start_reviewer(**FAST)
    old, new = head(1), head(2)
    open_pr(argo, 7, old)
    argo.fake_llm.enqueue(Reply.slow(4))
    tally.sent(argo.send("pull_request", opened(argo, 7, old)))
    wait_until(lambda: len(argo.fake_llm.requests) >= 1, 30, "the first head's LLM call")
    argo.fake_github.push(OWNER, REPO, 7, new)
    tally.sent(argo.send("pull_request", synchronize(argo, 7, new, before=old)))
    tally.expect(FULL_NAME, 7, new)
    tally.forbid(FULL_NAME, 7, old)
    wait_until(lambda: len(reviews(argo, 7)) >= 1, 30, "the new head's review")
    settle(argo)
    tally.observe(argo.fake_github)
    assert [r.commit_id for r in reviews(argo, 7)] == [new]
    # The stale review was not even attempted (the fake refuses a stale commit_id; GitHub would accept it).
    assert [r.status for r in argo.fake_github.requests_to("/pulls/7/reviews", method="POST")] == [200]
    assert comments(argo, 7) == []
    assert metric(argo, "reviewer", "argoai_reviews_total", outcome="superseded") == 1


def test_push_during_a_slow_llm_call_cancels_the_old_review_within_2_seconds(
    argo: ArgoSystem, tally: Tally
) -> None:
    """The first head's LLM call would take a minute: a push stops that review within 2 s, one review."""
    argo.start_gateway()
    argo.start_reviewer(**FAST)
    old, new = head(1), head(2)
    open_pr(argo, 7, old)
    argo.fake_llm.enqueue(Reply.slow(60))
    tally.sent(argo.send("pull_request", opened(argo, 7, old)))
    wait_until(lambda: len(argo.fake_llm.requests) >= 1, 30, "the first head's LLM call")
    argo.fake_github.push(OWNER, REPO, 7, new)
    tally.sent(argo.send("pull_request", synchronize(argo, 7, new, before=old)))
    pushed = time.monotonic()
    wait_until(
        lambda: metric(argo, "reviewer", "argoai_reviews_cancelled_total") == 1, 10, "the old review stopped"
    )
    assert time.monotonic() - pushed < 2.0
    tally.expect(FULL_NAME, 7, new)
    tally.forbid(FULL_NAME, 7, old)
    wait_until(lambda: len(reviews(argo, 7)) >= 1, 30, "the new head's review")
    settle(argo)
    tally.observe(argo.fake_github)
    assert [r.commit_id for r in reviews(argo, 7)] == [new]
    assert metric(argo, "reviewer", "argoai_reviews_total", outcome="superseded") == 1
    assert metric(argo, "reviewer", "argoai_reviews_total", outcome="posted") == 1


def test_reviewer_killed_mid_review_is_replaced_and_posts_once(argo: ArgoSystem, tally: Tally) -> None:
    """SIGKILL during the LLM call: after ack_wait another reviewer process takes the job; one review."""
    argo.start_gateway()
    argo.start_reviewer("reviewer-a", **FAST)
    sha = head(1)
    open_pr(argo, 7, sha)
    argo.fake_llm.enqueue(Reply.slow(60))
    tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    tally.expect(FULL_NAME, 7, sha)
    wait_until(lambda: len(argo.fake_llm.requests) >= 1, 30, "reviewer-a's LLM call")
    argo.stop("reviewer-a", kill=True)
    argo.start_reviewer("reviewer-b", **FAST)
    wait_until(lambda: len(reviews(argo, 7)) >= 1, 60, "the review by reviewer-b")
    settle(argo)
    tally.observe(argo.fake_github)
    [review] = reviews(argo, 7)
    assert review.commit_id == sha
    assert [(c["path"], c["line"]) for c in review.comments] == [("pr7.py", 2)]
    assert metric(argo, "reviewer-b", "argoai_reviews_total", outcome="posted") == 1
    assert len(argo.fake_llm.requests) == 2  # the killed attempt and the one that completed


def test_reviewer_killed_with_default_timings_is_taken_over_within_45_seconds(
    argo: ArgoSystem, tally: Tally
) -> None:
    """Default ack wait (30 s) and lock lease: SIGKILL mid-review, another reviewer posts in 45 s, once."""
    argo.start_gateway()
    argo.start_reviewer("reviewer-a")
    argo.start_reviewer("reviewer-b")
    sha = head(1)
    open_pr(argo, 7, sha)
    argo.fake_llm.enqueue(Reply.slow(120))
    tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    tally.expect(FULL_NAME, 7, sha)
    wait_until(lambda: len(argo.fake_llm.requests) >= 1, 30, "the first LLM call")
    holder = "reviewer-a" if metric(argo, "reviewer-a", "argoai_reviews_in_flight") == 1 else "reviewer-b"
    other = "reviewer-b" if holder == "reviewer-a" else "reviewer-a"
    argo.stop(holder, kill=True)
    killed = time.monotonic()
    wait_until(lambda: len(reviews(argo, 7)) >= 1, 60, f"the review by {other}")
    took = time.monotonic() - killed
    print(f"takeover: review posted {took:.1f} s after the SIGKILL")
    assert took < 45
    settle(argo)
    tally.observe(argo.fake_github)
    assert [r.commit_id for r in reviews(argo, 7)] == [sha]
    assert metric(argo, other, "argoai_reviews_total", outcome="posted") == 1


def test_review_longer_than_ack_wait_is_not_redelivered(argo: ArgoSystem, tally: Tally) -> None:
    """A review lasting 4 ack waits is kept alive by heartbeats: one delivery, one LLM call, one review."""
    argo.start_gateway()
    argo.start_reviewer(**{**FAST, "ARGOAI_REVIEWER_ACK_WAIT_SECONDS": "1"})
    sha = head(1)
    open_pr(argo, 7, sha)
    argo.fake_llm.enqueue(Reply.slow(4))
    tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    tally.expect(FULL_NAME, 7, sha)
    wait_until(lambda: len(reviews(argo, 7)) >= 1, 30, "the review")
    settle(argo)
    tally.observe(argo.fake_github)
    assert len(reviews(argo, 7)) == 1
    assert len(argo.fake_llm.requests) == 1
    for outcome, count in (("posted", 1), ("retried", 0), ("duplicate", 0), ("failed", 0)):
        assert metric(argo, "reviewer", "argoai_reviews_total", outcome=outcome) == count, outcome
