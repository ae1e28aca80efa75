"""End to end, verification before posting: a second LLM call keeps or drops each of the model's findings
(real gateway and reviewer processes, fake GitHub and LLM)."""

from __future__ import annotations

from pathlib import Path

from support.fake_llm import MarkerResponder, VerifyingResponder
from support.system import OWNER, ArgoSystem, pull_request_payload, wait_until

BASE, HEAD = "c" * 40, "3" * 40
APP = (
    "import os\n"
    "\n"
    "\n"
    "def ratio(a, b):\n"
    "    return a / b  # FIXME-BUG b may be zero\n"
    "\n"
    "\n"
    "def home():\n"
    "    return os.environ['HOME']  # FIXME-BUG FIXME-NOISE always set here\n"
    "\n"
    "\n"
    "API_KEY = 'AKIA' + 'IOSFODNN7EXAMPLE'\n"
)
PATCH = f"@@ -0,0 +1,{APP.count(chr(10))} @@\n" + "".join(f"+{line}" for line in APP.splitlines(True))
POLICY = """\
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: verified}
spec:
  verification: {mode: other-model, model: verifier-model}
  provider: openai
  model: reviewer-model
"""


def _summary(system: ArgoSystem, repo: str, number: int) -> str:
    bodies = [
        c.body for c in system.fake_github.comments_posted(OWNER, repo, number) if "argoai:summary" in c.body
    ]
    return bodies[0] if bodies else ""


def test_findings_the_verifier_drops_are_not_posted_but_listed(system: ArgoSystem, tmp_path: Path) -> None:
    """Of two marked findings the verifier (another model) drops one: only the other is commented; the
    dropped one is in a collapsed section of the summary with its reason, and counted."""
    responder = VerifyingResponder(base=MarkerResponder())
    system.fake_llm.responder = responder
    policy_file = tmp_path / "policies.yaml"
    policy_file.write_text(POLICY)
    system.stop("reviewer")
    system.start_reviewer(ARGOAI_POLICY_FILE=str(policy_file))
    system.fake_github.add_pull_request(
        OWNER, "calc", 31, HEAD, BASE, [("app.py", PATCH, APP)],
        installation_id=system.installation_id, title="Add helpers",
    )  # fmt: skip
    payload = pull_request_payload(
        "opened", number=31, head=HEAD, base=BASE, installation_id=system.installation_id, repo="calc"
    )
    assert system.send("pull_request", payload).status_code == 202
    wait_until(lambda: len(system.fake_github.reviews_posted(OWNER, "calc", 31)) == 1, 30, "the review")
    [review] = system.fake_github.reviews_posted(OWNER, "calc", 31)
    assert [(c["path"], c["line"]) for c in review.comments if "Marked bug" in c["body"]] == [("app.py", 5)]
    # Two verification calls (the analyzer's hard-coded key finding is not verified), to the other model.
    verifications = [r for r in system.fake_llm.requests if r.output_name == "submit_verdict"]
    assert len(verifications) == 2
    assert {r.model for r in verifications} == {"verifier-model"}
    assert sorted(keep for keep, _ in responder.verdicts) == [False, True]
    # The verifier saw the code around the anchor, fenced, with the anchored line marked.
    dropped_prompt = next(prompt for keep, prompt in responder.verdicts if not keep)
    assert "     9 >     return os.environ['HOME']" in dropped_prompt
    assert "<<<BEGIN DATA-" in dropped_prompt
    wait_until(lambda: "dropped by verification" in _summary(system, "calc", 31), 30, "the summary")
    summary = _summary(system, "calc", 31)
    assert "<summary>1 finding(s) dropped by verification</summary>" in summary
    assert (
        "`app.py` line 9: Marked bug on line 9. Dropped: The marked line is intentional, not a bug."
        in summary
    )
    metrics = system.metrics()
    assert 'argoai_verifications_total{verdict="dropped"} 1.0' in metrics
    assert 'argoai_verifications_total{verdict="kept"} 1.0' in metrics
