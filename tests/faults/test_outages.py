"""Outages of the LLM and of GitHub longer than the jobs' delivery budget, under load: the circuit breakers
open, the reviews wait holding their jobs, and once the dependency is back every pull request is reviewed
once, with nothing dead-lettered and no failure comment; with a fallback LLM the reviews go on meanwhile.

The outage lasts ``ARGOAI_FAULTS_OUTAGE_SECONDS`` (default 180 s for the LLM, 60 s for GitHub: ``make
faults-long`` runs the LLM outage for 30 minutes). Settings are lowered (max_deliver 3, probes every 5 s) so
that without the breakers every job would be dead-lettered well within the outage. The LLM and GitHub outages
run at the same time on two separate installations (their own fakes, NATS prefixes and Redis prefixes), so
that the suite's time is the longer outage, not the sum.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from argoai_cli.local_services import LocalProcess
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
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM, MarkerResponder, Reply
from support.system import LLM_KEY, OWNER, REPO, ArgoSystem, argo_system, wait_until

pytestmark = pytest.mark.faults

LLM_OUTAGE = float(os.environ.get("ARGOAI_FAULTS_OUTAGE_SECONDS", "180"))
GITHUB_OUTAGE = float(os.environ.get("ARGOAI_FAULTS_GITHUB_OUTAGE_SECONDS", "60"))
# How soon after the dependency returns every waiting pull request must be reviewed (the bound).
RESUME_WITHIN = 60.0
PRS = 12

OUTAGE_SETTINGS = {
    **FAST,
    # Three deliveries: without the breaker a 30 s LLM requeue or a 15 s GitHub one exhausts them in ~1 min.
    "ARGOAI_REVIEWER_MAX_DELIVER": "3",
    "ARGOAI_REVIEWER_BREAKER_FAILURES": "3",
    "ARGOAI_REVIEWER_BREAKER_PROBE_SECONDS": "5",
    "ARGOAI_REVIEWER_BREAKER_POLL_SECONDS": "1",
}


def _send_all(argo: ArgoSystem, tally: Tally, numbers: range) -> None:
    for number in numbers:
        open_pr(argo, number, head(number))
        tally.sent(argo.send("pull_request", opened(argo, number, head(number))))
        tally.expect(FULL_NAME, number, head(number))


def _all_reviewed(argo: ArgoSystem) -> bool:
    return all(reviews(argo, n) for n in range(1, PRS + 1))


def _outage(argo: ArgoSystem, tally: Tally, seconds: float, circuit: str) -> float:
    """Send PRS pull requests spread over an outage of ``seconds`` (already begun); check the breaker opened.
    Returns when the outage should end."""
    ends = time.monotonic() + seconds
    _send_all(argo, tally, range(1, PRS // 2 + 1))
    wait_until(
        lambda: metric(argo, "reviewer", "argoai_circuit_open", circuit=circuit) == 1, 60, "the breaker"
    )
    time.sleep(max(0.0, min(seconds / 2, ends - time.monotonic() - 5)))
    _send_all(argo, tally, range(PRS // 2 + 1, PRS + 1))
    time.sleep(max(0.0, ends - time.monotonic()))
    assert dead_letters(argo) == []
    assert not any(reviews(argo, n) for n in range(1, PRS + 1))
    return time.monotonic()


def _check_after(argo: ArgoSystem, tally: Tally, circuit: str) -> None:
    settle(argo, timeout=60)
    tally.observe(argo.fake_github)
    tally.jobs_dead_lettered = len(dead_letters(argo))
    assert [len(reviews(argo, n)) for n in range(1, PRS + 1)] == [1] * PRS
    assert dead_letters(argo) == []
    assert all(comments(argo, n) == [] for n in range(1, PRS + 1))
    assert tally.webhooks_lost == 0
    assert tally.reviews_duplicated == 0
    # The model's finding is in every review: the LLM reviewed them, not the built-in checks alone.
    for n in range(1, PRS + 1):
        [review] = reviews(argo, n)
        assert [c["path"] for c in review.comments] == [f"pr{n}.py"]
    assert metric(argo, "reviewer", "argoai_circuit_open", circuit=circuit) == 0
    assert argo.processes["reviewer"].poll() is None


def llm_outage(argo: ArgoSystem, tally: Tally) -> None:
    """The LLM answers 529 overloaded to everything for the outage while pull requests keep coming: the
    breaker opens, no job is dead-lettered, no failure comment is posted, and every pull request is reviewed
    once within a minute of the LLM's return."""
    circuit = f"llm:openai:{argo.fake_llm.openai_base_url}"
    argo.fake_llm.outage = Reply.overloaded()
    argo.start_gateway()
    argo.start_reviewer(**OUTAGE_SETTINGS)
    _outage(argo, tally, LLM_OUTAGE, circuit)
    asked_during_outage = len(argo.fake_llm.requests)
    argo.fake_llm.outage = None
    back = time.monotonic()
    wait_until(lambda: _all_reviewed(argo), RESUME_WITHIN, "every PR reviewed after the LLM returned")
    tally.measured["outage_seconds"] = LLM_OUTAGE
    tally.measured["all_reviewed_seconds_after_return"] = round(time.monotonic() - back, 1)
    tally.measured["llm_requests_during_outage"] = asked_during_outage
    _check_after(argo, tally, circuit)


def test_fallback_llm_reviews_during_the_outage_and_the_summary_says_so(
    argo: ArgoSystem, tally: Tally
) -> None:
    """With a fallback LLM configured, the pull requests are reviewed during the primary's outage by the
    fallback, and each summary names the fallback model; nothing is dead-lettered."""
    with FakeLLM(api_key="fallback-key", responder=MarkerResponder()) as fallback:
        circuit = f"llm:openai:{argo.fake_llm.openai_base_url}"
        argo.fake_llm.outage = Reply.server_error(503)
        argo.start_gateway()
        argo.start_reviewer(
            **{
                **OUTAGE_SETTINGS,
                "ARGOAI_REVIEWER_BREAKER_FAILURES": "1",
                "ARGOAI_FALLBACK_LLM_PROVIDER": "openai",
                "ARGOAI_FALLBACK_LLM_BASE_URL": fallback.openai_base_url,
                "ARGOAI_FALLBACK_LLM_API_KEY": "fallback-key",
                "ARGOAI_FALLBACK_LLM_MODEL": "fallback-model",
            }
        )
        _send_all(argo, tally, range(1, PRS + 1))
        wait_until(lambda: _all_reviewed(argo), 60, "every PR reviewed by the fallback during the outage")
        assert metric(argo, "reviewer", "argoai_circuit_open", circuit=circuit) == 1
        settle(argo, timeout=60)
        tally.observe(argo.fake_github)
        assert [len(reviews(argo, n)) for n in range(1, PRS + 1)] == [1] * PRS
        assert dead_letters(argo) == []
        assert {r.model for r in fallback.requests} == {"fallback-model"}
        for n in range(1, PRS + 1):
            summaries = [c.body for c in argo.fake_github.comments_posted(OWNER, REPO, n)
                         if "argoai:summary" in c.body]  # fmt: skip
            assert len(summaries) == 1
            assert re.search(r"the fallback model\s+fallback-model\s+reviewed", summaries[0]), summaries[0]
            assert "gpt-4o-mini" in summaries[0]
        argo.fake_llm.outage = None


def github_outage(argo: ArgoSystem, tally: Tally) -> None:
    """GitHub answers 502 to every request for the outage while pull requests keep coming: the GitHub
    breaker opens, nothing is dead-lettered, and every pull request is reviewed once after GitHub returns."""
    circuit = f"github:{argo.fake_github.url.split('://', 1)[1]}"
    argo.start_gateway()
    argo.start_reviewer(**OUTAGE_SETTINGS)
    for number in range(1, PRS + 1):
        open_pr(argo, number, head(number))
    argo.fake_github.fail_next(10**9, status=502)
    ends = time.monotonic() + GITHUB_OUTAGE
    for half in (range(1, PRS // 2 + 1), range(PRS // 2 + 1, PRS + 1)):
        for number in half:
            tally.sent(argo.send("pull_request", opened(argo, number, head(number))))
            tally.expect(FULL_NAME, number, head(number))
        if half.start == 1:
            wait_until(lambda: metric(argo, "reviewer", "argoai_circuit_open", circuit=circuit) == 1, 60,
                       "the GitHub breaker")  # fmt: skip
            time.sleep(max(0.0, min(GITHUB_OUTAGE / 2, ends - time.monotonic() - 5)))
    time.sleep(max(0.0, ends - time.monotonic()))
    assert dead_letters(argo) == []
    argo.fake_github.clear_faults()
    back = time.monotonic()
    wait_until(lambda: _all_reviewed(argo), RESUME_WITHIN, "every PR reviewed after GitHub returned")
    tally.measured["outage_seconds"] = GITHUB_OUTAGE
    tally.measured["all_reviewed_seconds_after_return"] = round(time.monotonic() - back, 1)
    _check_after(argo, tally, circuit)


@pytest.fixture
def other_argo(nats_server: LocalProcess, redis_server: str, tmp_path: Path) -> Iterator[ArgoSystem]:
    """A second installation on the same NATS and Redis, with fakes of its own (nothing started yet)."""
    workdir = tmp_path / "other"
    workdir.mkdir()
    with (
        FakeGitHub().serving() as github,
        FakeLLM(api_key=LLM_KEY, responder=MarkerResponder()) as llm,
        argo_system(github, llm, f"nats://127.0.0.1:{nats_server.port}", redis_server, workdir) as system,
    ):
        yield system


def test_llm_down_for_minutes_and_github_502_for_a_minute_every_pr_reviewed_once_when_they_return(
    argo: ArgoSystem, other_argo: ArgoSystem, tally: Tally, more_tallies: Callable[[str], Tally]
) -> None:
    """Under load, the LLM down for minutes (one installation) and GitHub answering 502 for a minute (another,
    at the same time): no dead letter, no failure comment, every PR reviewed once within a minute of the
    dependency's return (see :func:`llm_outage` and :func:`github_outage`)."""
    github_tally = more_tallies("github")
    with ThreadPoolExecutor(max_workers=1) as pool:
        llm = pool.submit(llm_outage, argo, tally)
        github_outage(other_argo, github_tally)
        llm.result()
