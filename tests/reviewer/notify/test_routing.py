"""Which targets a policy routes an event to, and what the notifier publishes."""

from __future__ import annotations

import orjson
import pytest

from argoai_core.errors import UnavailableError
from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.models.notification import NotifiedFinding
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.notify.routing import Notifier, pull_request_url, targets_for

POLICY = PolicySpec.model_validate(
    {
        "notifications": [
            {"events": ["critical_findings", "review_failed"], "targets": ["slack", "discord"]},
            {"events": ["critical_findings"], "targets": ["slack", "audit"]},
        ]
    }
)
JOB = ReviewJob(
    delivery_id="d-1",
    installation_id=1,
    repo=RepoRef(host="api.github.com", owner="octo-org", name="hello"),
    number=7,
    action="opened",
    head_sha="a" * 40,
    base_sha="b" * 40,
    base_ref="main",
    title="Add a helper",
)


class Sink:
    """Records publishes; can fail like an unreachable NATS."""

    def __init__(self, fail: bool = False) -> None:
        self.published: list[tuple[str, dict[str, object], str]] = []
        self.fail = fail

    async def publish_notification(self, target: str, data: bytes, *, key: str) -> bool:
        if self.fail:
            raise UnavailableError("NATS: publishing a notification failed")
        self.published.append((target, orjson.loads(data), key))
        return True


def test_targets_for_merges_routes_in_order() -> None:
    """An event goes to every target of every route naming it, each once."""
    assert targets_for(POLICY, "critical_findings") == ["slack", "discord", "audit"]
    assert targets_for(POLICY, "review_failed") == ["slack", "discord"]
    assert targets_for(POLICY, "dead_lettered") == []


def test_pull_request_url_uses_the_web_host() -> None:
    """api.github.com links to github.com; an Enterprise host links to itself."""
    assert pull_request_url(JOB.repo, 7) == "https://github.com/octo-org/hello/pull/7"
    ghes = RepoRef(host="ghe.example.com", owner="o", name="r")
    assert pull_request_url(ghes, 3) == "https://ghe.example.com/o/r/pull/3"


async def test_notifier_publishes_once_per_configured_target() -> None:
    """A critical finding is published to each routed target that is configured, keyed per target."""
    sink = Sink()
    notifier = Notifier(sink, ["slack", "discord"])
    finding = NotifiedFinding(severity="critical", title="SQL injection", path="db.py", line=3)
    await notifier.critical_findings(JOB, POLICY, [finding], variant=("exp", "b"))
    assert [(target, key) for target, _, key in sink.published] == [
        ("slack", f"slack:critical:{JOB.key}"),
        ("discord", f"discord:critical:{JOB.key}"),
    ]
    document = sink.published[0][1]
    assert document["url"] == "https://github.com/octo-org/hello/pull/7"
    assert document["variant"] == "b"


@pytest.mark.parametrize("fail", [True])
async def test_an_unreachable_stream_never_fails_the_caller(fail: bool) -> None:
    """Publishing errors are logged and swallowed: the review goes on."""
    notifier = Notifier(Sink(fail=fail), ["slack", "discord"])
    await notifier.review_failed(JOB, POLICY, "max_deliver")


async def test_budget_is_keyed_per_repository_and_day() -> None:
    """The budget notification names no pull request and is deduplicated per repository and day."""
    sink = Sink()
    policy = PolicySpec.model_validate(
        {"notifications": [{"events": ["token_budget_exhausted"], "targets": ["slack"]}]}
    )
    await Notifier(sink, ["slack"]).budget_exhausted(JOB, policy)
    [(_, document, key)] = sink.published
    assert document["number"] is None
    assert key.startswith("slack:budget:api.github.com/octo-org/hello:")
