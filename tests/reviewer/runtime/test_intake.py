"""Intake decisions on real GitHub payloads: which deliveries become review jobs, which are skipped, why."""

from __future__ import annotations

import copy

import pytest

from argoai_core.errors import InvalidInputError
from argoai_core.models.job import ReviewJob
from argoai_reviewer.runtime.intake import Skip, SkipReason, job_from_webhook
from reviewer.runtime.helpers import load_webhook
from support.webhooks import load_payload

HOST = "ghe.example.com"


def decide(payload: dict[str, object], event: str = "pull_request") -> ReviewJob | Skip:
    return job_from_webhook(event, "d-1", payload, github_host=HOST, bot_name="argoai")


def test_opened_becomes_job_with_the_pull_request_details() -> None:
    """An opened PR becomes a job carrying installation, repo on the configured host, head and base."""
    payload = load_webhook("pull_request.opened")
    job = decide(payload)
    assert isinstance(job, ReviewJob)
    pr = payload["pull_request"]
    assert job.installation_id == payload["installation"]["id"]
    assert (job.repo.host, job.repo.owner, job.repo.name) == (HOST, "Codertocat", "Hello-World")
    assert job.number == pr["number"]
    assert job.head_sha == pr["head"]["sha"]
    assert job.base_sha == pr["base"]["sha"]
    assert job.base_ref == "master"
    assert job.action == "opened"
    assert job.before_sha is None
    assert job.delivery_id == "d-1"
    assert job.key == f"{HOST}/Codertocat/Hello-World#{pr['number']}@{pr['head']['sha']}"


@pytest.mark.parametrize(
    ("load", "name"),
    [
        (load_payload, "pull_request.reopened"),
        (load_webhook, "pull_request.ready_for_review"),
    ],
)
def test_reopened_and_ready_for_review_become_jobs(load: object, name: str) -> None:
    """reopened and ready_for_review deliveries become jobs with their action."""
    payload = load(name)  # type: ignore[operator]
    job = decide(payload)
    assert isinstance(job, ReviewJob)
    assert job.action == payload["action"]


def test_synchronize_carries_the_previous_head() -> None:
    """A synchronize job carries the head before the push (for an incremental review)."""
    payload = load_payload("pull_request.synchronize")
    job = decide(payload)
    assert isinstance(job, ReviewJob)
    assert job.action == "synchronize"
    assert job.before_sha == payload["before"]
    assert job.head_sha == payload["pull_request"]["head"]["sha"]


def test_draft_is_published_as_a_draft_job() -> None:
    """A draft PR still becomes a job, marked draft: the pipeline's policy decides."""
    payload = copy.deepcopy(load_webhook("pull_request.opened"))
    payload["pull_request"]["draft"] = True
    job = decide(payload)
    assert isinstance(job, ReviewJob)
    assert job.draft is True


def test_closed_is_skipped() -> None:
    """A closed PR is not reviewed."""
    decision = decide(load_payload("pull_request.closed"))
    assert decision == Skip(SkipReason.CLOSED, "#2")


@pytest.mark.parametrize("name", ["pull_request.labeled", "pull_request.converted_to_draft"])
def test_other_actions_are_skipped(name: str) -> None:
    """Actions that do not change what should be reviewed are skipped, naming the action."""
    payload = load_payload(name)
    decision = decide(payload)
    assert isinstance(decision, Skip)
    assert decision.reason is SkipReason.IGNORED_ACTION
    assert decision.detail == payload["action"]


def test_bot_authored_pull_request_is_skipped() -> None:
    """A PR opened by the bot itself (``argoai[bot]``) is never reviewed."""
    payload = copy.deepcopy(load_webhook("pull_request.opened"))
    payload["pull_request"]["user"] = {"login": "argoai[bot]", "type": "Bot"}
    assert isinstance(decide(payload), Skip)
    assert decide(payload).reason is SkipReason.OWN_PULL_REQUEST  # type: ignore[union-attr]


def test_push_by_the_bot_is_skipped_but_another_bot_is_reviewed() -> None:
    """A synchronize sent by our bot is skipped; a PR of another bot (dependabot) is reviewed."""
    ours = copy.deepcopy(load_payload("pull_request.synchronize"))
    ours["sender"] = {"login": "ArgoAI[bot]", "type": "Bot"}
    decision = decide(ours)
    assert isinstance(decision, Skip)
    assert decision.reason is SkipReason.OWN_PULL_REQUEST
    other = copy.deepcopy(load_payload("pull_request.synchronize"))
    other["pull_request"]["user"] = {"login": "dependabot[bot]", "type": "Bot"}
    assert isinstance(decide(other), ReviewJob)


def test_delivery_without_installation_is_skipped() -> None:
    """Without an installation the App cannot act on the repository: skipped, not failed."""
    decision = decide(load_payload("pull_request.opened"))  # this example payload has no installation
    assert isinstance(decision, Skip)
    assert decision.reason is SkipReason.NO_INSTALLATION


def test_other_events_are_skipped() -> None:
    """Events other than pull_request and issue_comment are not turned into jobs."""
    decision = decide(load_payload("installation.created"), event="installation")
    assert decision == Skip(SkipReason.UNSUPPORTED_EVENT, "installation")


@pytest.mark.parametrize(
    "breakage",
    [
        lambda p: p["pull_request"].pop("head"),
        lambda p: p["pull_request"]["head"].update(sha="not-a-sha"),
        lambda p: p.pop("repository"),
        lambda p: p["installation"].update(id="many"),
    ],
    ids=["no-head", "bad-sha", "no-repository", "bad-installation"],
)
def test_malformed_payload_raises_invalid_input(breakage: object) -> None:
    """A payload that is not what GitHub sends raises InvalidInputError (so the consumer terminates it)."""
    payload = copy.deepcopy(load_webhook("pull_request.opened"))
    breakage(payload)  # type: ignore[operator]
    with pytest.raises(InvalidInputError):
        decide(payload)
