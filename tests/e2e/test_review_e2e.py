"""End to end: signed webhook → gateway → JetStream → reviewer → one review on the (fake) GitHub."""

from __future__ import annotations

import re

import pytest

from argoai_core.models.findings import ReviewOutput
from support.fake_llm import MarkerResponder, Recorded, RegexLineParser, Reply
from support.system import OWNER, REPO, ArgoSystem, pull_request_payload, wait_until

BASE, HEAD1, HEAD2 = "b" * 40, "1" * 40, "2" * 40
APP_AT_HEAD1 = "".join(
    [
        "import statistics\n",
        "\n",
        "\n",
        "def average(items):\n",
        "    return sum(items) / len(items)  # FIXME-BUG empty list\n",
        "\n",
        "\n",
        "def median(items):\n",
        "    return statistics.median(items)\n",
    ]
)
APP_PATCH1 = "@@ -0,0 +1,9 @@\n" + "".join(f"+{line}" for line in APP_AT_HEAD1.splitlines(keepends=True))


def _open_pr(argo: ArgoSystem) -> None:
    argo.fake_github.add_pull_request(
        OWNER, REPO, 7, HEAD1, BASE, [("app.py", APP_PATCH1, APP_AT_HEAD1)],
        installation_id=argo.installation_id, title="Add statistics helpers",
    )  # fmt: skip


def _reviews(argo: ArgoSystem) -> list:  # type: ignore[type-arg]
    return argo.fake_github.reviews_posted(OWNER, REPO, 7)


def _opened(argo: ArgoSystem) -> dict:  # type: ignore[type-arg]
    return pull_request_payload(
        "opened", number=7, head=HEAD1, base=BASE, installation_id=argo.installation_id
    )


def _settled(argo: ArgoSystem) -> None:
    """Wait until the reviewer has consumed every webhook and job (nothing pending anywhere)."""
    import asyncio

    import nats

    async def pending() -> int:
        nc = await nats.connect(argo.nats_url)
        try:
            js = nc.jetstream()
            total = 0
            for stream, consumer in ((f"{argo.prefix}_WEBHOOKS", f"{argo.prefix}_INTAKE"),
                                     (f"{argo.prefix}_JOBS", f"{argo.prefix}_REVIEWERS")):  # fmt: skip
                info = await js.consumer_info(stream, consumer)
                total += info.num_pending + info.num_ack_pending
            return total
        finally:
            await nc.close()

    wait_until(lambda: asyncio.run(pending()) == 0, 30, "the reviewer to settle", interval=0.2)


def test_opened_pull_request_gets_one_anchored_review(system: ArgoSystem) -> None:
    """A PR opened → one review at its head (inline comment on the marked line, marker), and the summary
    comment with the walkthrough and the coverage."""
    _open_pr(system)
    assert system.send("pull_request", _opened(system)).status_code == 202
    wait_until(lambda: len(_reviews(system)) == 1, 30, "the review")
    _settled(system)
    [review] = _reviews(system)
    assert review.commit_id == HEAD1
    assert review.event == "COMMENT"
    assert [(c["path"], c["line"], c["side"]) for c in review.comments] == [("app.py", 5, "RIGHT")]
    assert re.search(rf"<!-- argoai:review head={HEAD1} -->\s*$", review.body)
    [summary] = system.fake_github.comments_posted(OWNER, REPO, 7)
    assert "| `app.py` | Fake description of app.py |" in summary.body
    # The analyzers that ran on the changed lines are named between the two sentences.
    assert "Reviewed 1 file; 9 of 9 changed lines were sent to the model." in summary.body
    assert "Nothing was skipped." in summary.body


def test_finding_with_wrong_line_numbers_is_reanchored_by_its_quote(system: ArgoSystem) -> None:
    """The model cites line 2 for code on line 5: the comment is posted on line 5 (no 422, no wrong line)."""
    marker = MarkerResponder()

    def off_by_three(request: Recorded) -> Reply:
        findings = [f.model_copy(update={"start_line": f.start_line - 3, "end_line": f.end_line - 3})
                    for f in marker.findings(request.prompt)]  # fmt: skip
        return Reply.output(ReviewOutput(summary="Shifted lines.", findings=findings))

    system.fake_llm.responder = off_by_three
    _open_pr(system)
    system.send("pull_request", _opened(system))
    wait_until(lambda: len(_reviews(system)) == 1, 30, "the review")
    [review] = _reviews(system)
    assert [(c["path"], c["line"]) for c in review.comments] == [("app.py", 5)]
    assert "FIXME-BUG" in system.fake_llm.requests[0].prompt


def test_push_reviews_only_the_new_change_and_repeats_nothing(system: ArgoSystem) -> None:
    """After a push the LLM sees only what changed; the new bug is commented, the old one not repeated."""
    _open_pr(system)
    system.send("pull_request", _opened(system))
    wait_until(lambda: len(_reviews(system)) == 1, 30, "the first review")
    _settled(system)
    util_at_head2 = "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))  # FIXME-BUG lo > hi\n"
    util_patch = "@@ -0,0 +1,2 @@\n" + "".join(f"+{line}" for line in util_at_head2.splitlines(keepends=True))
    # app.py gains a line right under the old bug, so the old marked line is shown again as context.
    app_at_head2 = APP_AT_HEAD1.replace(
        "# FIXME-BUG empty list\n", "# FIXME-BUG empty list\n# see issue 12\n"
    )
    app_patch2 = "@@ -0,0 +1,10 @@\n" + "".join(f"+{line}" for line in app_at_head2.splitlines(keepends=True))
    app_push_patch = (
        "@@ -4,3 +4,4 @@ def average(items):\n def average(items):\n"
        "     return sum(items) / len(items)  # FIXME-BUG empty list\n+# see issue 12\n \n"
    )
    system.fake_github.push(
        OWNER, REPO, 7, HEAD2,
        [("app.py", app_patch2, app_at_head2), ("util.py", util_patch, util_at_head2)],
        compare_files=[("app.py", app_push_patch, app_at_head2), ("util.py", util_patch, util_at_head2)],
    )  # fmt: skip
    requests_before = len(system.fake_llm.requests)
    synchronize = pull_request_payload(
        "synchronize", number=7, head=HEAD2, base=BASE, before=HEAD1, installation_id=system.installation_id
    )
    system.send("pull_request", synchronize)
    wait_until(lambda: len(_reviews(system)) == 2, 30, "the second review")
    second = _reviews(system)[1]
    assert second.commit_id == HEAD2
    assert [(c["path"], c["line"]) for c in second.comments] == [("util.py", 2)]
    prompts = [r.prompt for r in system.fake_llm.requests[requests_before:]]
    assert prompts
    # The model is shown the push's changes as changes; the rest of app.py is context only.
    added = {(line.path, line.line) for p in prompts for line in RegexLineParser()(p) if line.added}
    assert added == {("app.py", 6), ("util.py", 1), ("util.py", 2)}
    assert "already reported" in second.body


@pytest.mark.parametrize("same_delivery_id", [True, False])
def test_the_same_head_delivered_twice_gets_one_review(system: ArgoSystem, same_delivery_id: bool) -> None:
    """A redelivered webhook, or two deliveries for one head (double synchronize) → one review."""
    _open_pr(system)
    first = system.send("pull_request", _opened(system))
    delivery = first.request.headers["X-GitHub-Delivery"] if same_delivery_id else None
    assert system.send("pull_request", _opened(system), delivery=delivery).status_code == 202
    wait_until(lambda: len(_reviews(system)) >= 1, 30, "the review")
    _settled(system)
    assert len(_reviews(system)) == 1
    assert len(system.fake_github.requests_to("/pulls/7/reviews", method="POST")) == 1
