"""A policy published by the operator changes what an already-running reviewer process does (no restart)."""

from __future__ import annotations

import asyncio

import nats

from argoai_core.adapters.policy_kv import publish_policy_set
from argoai_core.models.findings import Severity
from argoai_core.models.policy import PolicyScope, PolicySpec
from argoai_core.policy_set import NamedPolicy, PolicySet
from argoai_core.streams import StreamNames
from support.fake_llm import MarkerResponder
from support.system import OWNER, REPO, ArgoSystem, pull_request_payload, wait_until

BASE = "b" * 40
CODE = "def ratio(a, b):\n    return a / b  # FIXME-BUG b may be zero\n"
PATCH = "@@ -0,0 +1,2 @@\n+def ratio(a, b):\n+    return a / b  # FIXME-BUG b may be zero\n"


def _publish(argo: ArgoSystem, policy_set: PolicySet) -> int:
    """Publish ``policy_set`` the way ``argoai operator`` does: to the installation's KV bucket."""

    async def publish() -> int:
        nc = await nats.connect(argo.nats_url)
        try:
            return await publish_policy_set(nc.jetstream(), StreamNames(argo.prefix), policy_set)
        finally:
            await nc.close()

    return asyncio.run(publish())


def _review_pr(argo: ArgoSystem, number: int, head: str) -> list:  # type: ignore[type-arg]
    argo.fake_github.add_pull_request(
        OWNER, REPO, number, head, BASE, [("calc.py", PATCH, CODE)], installation_id=argo.installation_id
    )
    opened = pull_request_payload(
        "opened", number=number, head=head, base=BASE, installation_id=argo.installation_id
    )
    assert argo.send("pull_request", opened).status_code == 202
    # Reviewed once its summary comment is there (a review is posted only with something to say).
    wait_until(
        lambda: any(
            "argoai:summary" in c.body for c in argo.fake_github.comments_posted(OWNER, REPO, number)
        ),
        30,
        f"review of #{number}",
    )
    return [c for review in argo.fake_github.reviews_posted(OWNER, REPO, number) for c in review.comments]


def test_a_published_policy_applies_to_the_running_reviewer(system: ArgoSystem) -> None:
    """With the default policy the major finding is posted; after a repo policy raising minSeverity to
    critical is published, the same reviewer process (not restarted) no longer posts it."""
    system.fake_llm.responder = MarkerResponder(severity=Severity.MAJOR)
    assert [c["path"] for c in _review_pr(system, 11, "1" * 40)] == ["calc.py"]
    reviewer_pid = system.processes["reviewer"].pid

    strict = PolicySpec(scope=PolicyScope(repos=[f"{OWNER}/{REPO}"]), min_severity=Severity.CRITICAL)
    revision = _publish(system, PolicySet.of([NamedPolicy("team/strict", strict)]))
    loaded = f'"revision":{revision},"policies":1,"event":"policy set loaded"'
    wait_until(
        lambda: loaded in system.log_path("reviewer").read_text(), 10, "the reviewer to load the policy"
    )
    assert _review_pr(system, 12, "2" * 40) == []
    assert system.processes["reviewer"].pid == reviewer_pid
    assert system.processes["reviewer"].poll() is None
