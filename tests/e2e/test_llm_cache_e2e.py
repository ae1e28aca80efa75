"""The LLM response cache through the real processes: an answer outlives the reviewer that paid for it."""

from __future__ import annotations

from argoai_reviewer.conversation.markers import find_reply_marker
from e2e.helpers import bot_comments, comment, open_pr, reviews, settled
from support.system import ArgoSystem, wait_until

HEAD = "1" * 40
APP = "def average(items):\n    return sum(items) / len(items)  # FIXME-BUG empty list\n"


def metric(text: str, name: str, *labels: str) -> float:
    """The sum of the samples of ``name`` carrying every one of ``labels`` in a Prometheus exposition."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and all(label in line for label in labels)
    )


def test_full_review_of_an_unchanged_head_after_a_restart_asks_the_llm_nothing(system: ArgoSystem) -> None:
    """A ``full review`` of the reviewed head, by a restarted reviewer, is answered from the cache in Redis:
    the fake LLM receives no request, no input token is counted, the hit and the tokens saved are."""
    open_pr(system, HEAD, {"app.py": APP})
    wait_until(lambda: len(reviews(system)) == 1, 30, "the first review")
    settled(system)
    asked = len(system.fake_llm.requests)
    assert asked > 0

    system.stop("reviewer")
    system.start_reviewer()
    comment_id, payload = comment(system, "@argoai full review")
    system.send("issue_comment", payload)
    settled(system)

    assert len(system.fake_llm.requests) == asked
    [answer] = [c.body for c in bot_comments(system) if (find_reply_marker(c.body) or (0,))[0] == comment_id]
    assert answer.startswith(f"Reviewed `{HEAD[:12]}`")
    exposition = system.metrics()
    assert metric(exposition, "argoai_llm_cache_total", 'result="hit"') >= 1
    assert metric(exposition, "argoai_llm_cache_saved_tokens_total") > 0
    assert metric(exposition, "argoai_llm_tokens_total", 'direction="input"') == 0
