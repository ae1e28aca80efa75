"""Failing dependencies: NATS and Redis restarted under the running processes, GitHub 5xx and secondary rate
limits, LLM 429/5xx/timeouts/invalid output. Nothing accepted is lost; every review is posted once."""

from __future__ import annotations

import httpx
import pytest

from argoai_cli.local_services import LocalProcess
from faults.conftest import MakeSystem
from faults.helpers import FAST, FULL_NAME, comments, head, open_pr, opened, reviews, settle
from faults.report import Tally
from support.fake_llm import Reply
from support.system import ArgoSystem, wait_until

pytestmark = pytest.mark.faults


def _ready(argo: ArgoSystem) -> bool:
    return httpx.get(f"{argo.gateway_url}/readyz", timeout=2).status_code == 200


def test_nats_restarted_under_load_loses_nothing_accepted(
    make_system: MakeSystem, own_nats_server: LocalProcess, tally: Tally
) -> None:
    """NATS is SIGKILLed and restarted while webhooks arrive: the gateway answers 503 meanwhile, and every
    delivery it answered 202 is reviewed exactly once (the processes reconnect by themselves)."""
    argo = make_system(nats_url=f"nats://127.0.0.1:{own_nats_server.port}")
    argo.start_gateway()
    argo.start_reviewer(**FAST)
    statuses: dict[int, int] = {}
    for number in range(1, 13):
        open_pr(argo, number, head(number))

    def send(number: int) -> None:
        statuses[number] = tally.sent(
            argo.send("pull_request", opened(argo, number, head(number)))
        ).status_code
        if statuses[number] == 202:
            tally.expect(FULL_NAME, number, head(number))

    for number in range(1, 5):
        send(number)
    own_nats_server.stop(kill=True)
    for number in range(5, 8):
        send(number)
    own_nats_server.start()
    wait_until(lambda: _ready(argo), 30, "the gateway to reconnect")
    for number in range(8, 13):
        send(number)
    accepted = [n for n, status in statuses.items() if status == 202]
    wait_until(lambda: all(reviews(argo, n) for n in accepted), 60, "a review of every accepted delivery")
    settle(argo, timeout=60)
    tally.observe(argo.fake_github)
    assert {statuses[n] for n in range(5, 8)} == {503}, statuses
    assert accepted == [1, 2, 3, 4, 8, 9, 10, 11, 12]
    assert tally.webhooks_lost == 0
    assert tally.reviews_duplicated == 0
    assert all(len(reviews(argo, n)) == 1 for n in accepted)
    assert argo.processes["reviewer"].poll() is None
    assert argo.processes["gateway"].poll() is None


def test_redis_restarted_reviewers_recover_by_themselves(
    make_system: MakeSystem, own_redis: LocalProcess, tally: Tally
) -> None:
    """Redis dies (state lost) with a review pending and comes back: the same reviewer process resumes and
    reviews that PR and the next one."""
    argo = make_system(redis_url=f"redis://127.0.0.1:{own_redis.port}/0")
    argo.start_gateway()
    argo.start_reviewer(**FAST)
    for number in (1, 2, 3):
        open_pr(argo, number, head(number))
        tally.expect(FULL_NAME, number, head(number))
    tally.sent(argo.send("pull_request", opened(argo, 1, head(1))))
    wait_until(lambda: len(reviews(argo, 1)) == 1, 30, "PR 1's review")
    own_redis.stop(kill=True)
    tally.sent(argo.send("pull_request", opened(argo, 2, head(2))))
    wait_until(lambda: '"Redis:' in argo.logs(), 20, "the reviewer to hit the Redis outage")
    own_redis.start()
    wait_until(lambda: len(reviews(argo, 2)) == 1, 60, "PR 2's review after Redis returned")
    tally.sent(argo.send("pull_request", opened(argo, 3, head(3))))
    wait_until(lambda: len(reviews(argo, 3)) == 1, 30, "PR 3's review")
    settle(argo)
    tally.observe(argo.fake_github)
    assert [len(reviews(argo, n)) for n in (1, 2, 3)] == [1, 1, 1]
    assert argo.processes["reviewer"].poll() is None


def test_github_5xx_and_secondary_rate_limits_are_retried_and_post_once(
    argo: ArgoSystem, tally: Tally
) -> None:
    """502s on reads, 403/429 secondary limits (retry-after) on the review POST: bounded retries, 1 review."""
    argo.start_gateway()
    argo.start_reviewer(**FAST)
    sha = head(7)
    open_pr(argo, 7, sha)
    github = argo.fake_github
    github.fail_next(2, status=502, path_contains="/pulls/7", method="GET")
    github.rate_limit_next(1, status=403, retry_after=1, path_contains="/pulls/7/reviews", method="POST")
    github.rate_limit_next(1, status=429, retry_after=1, path_contains="/pulls/7/reviews", method="POST")
    tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    tally.expect(FULL_NAME, 7, sha)
    wait_until(lambda: len(reviews(argo, 7)) == 1, 60, "the review")
    settle(argo, timeout=60)
    tally.observe(argo.fake_github)
    assert len(reviews(argo, 7)) == 1
    posts = github.requests_to("/pulls/7/reviews", method="POST")
    assert [r.status for r in posts] == [403, 429, 200]
    assert sorted(r.status for r in github.requests_to("/pulls/7", method="GET") if r.status >= 500) == [
        502,
        502,
    ]
    assert comments(argo, 7) == []


def test_llm_429_5xx_timeout_and_invalid_output_are_retried_then_reviewed(
    argo: ArgoSystem, tally: Tally
) -> None:
    """429, 502, a reply slower than the timeout, then output that breaks the schema → retried within bounds;
    one review with the finding, no failure comment."""
    argo.fake_llm.enqueue(
        Reply.rate_limited(0.2), Reply.server_error(502), Reply.slow(5), Reply.text("looks fine to me")
    )
    argo.start_gateway()
    argo.start_reviewer(**{**FAST, "ARGOAI_LLM_MAX_RETRIES": "3", "ARGOAI_LLM_TIMEOUT_SECONDS": "1.5"})
    sha = head(7)
    open_pr(argo, 7, sha)
    tally.sent(argo.send("pull_request", opened(argo, 7, sha)))
    tally.expect(FULL_NAME, 7, sha)
    wait_until(lambda: len(reviews(argo, 7)) == 1, 60, "the review")
    settle(argo)
    tally.observe(argo.fake_github)
    [review] = reviews(argo, 7)
    assert [(c["path"], c["line"]) for c in review.comments] == [("pr7.py", 2)]
    assert len(argo.fake_llm.requests) == 5  # 3 transient failures, 1 invalid answer, 1 valid answer
    assert comments(argo, 7) == []
