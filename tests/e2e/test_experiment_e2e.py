"""End to end, experiments: a policy with two variants splits a batch of pull requests by a stable hash;
each variant's model reviews its pull requests, the summary's hidden metadata names the variant, and the
reviewer's metrics differ by the ``variant`` label (real gateway and reviewer, fake GitHub and LLM)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from argoai_core.models.job import RepoRef
from argoai_reviewer.conversation.experiment import bucket
from argoai_reviewer.conversation.markers import find_summary_meta
from support.system import OWNER, REPO, ArgoSystem, pull_request_payload, wait_until

BASE = "b" * 40
NUMBERS = range(31, 39)
POLICY = """\
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: default}
spec:
  analyzers: {enabled: false}
  experiment:
    name: cheaper-model
    variants:
      - {name: control, provider: openai, model: model-control}
      - {name: small, provider: openai, model: model-small, maxInputTokensPerCall: 8000}
"""
MODELS = {"control": "model-control", "small": "model-small"}


def _summary(argo: ArgoSystem, number: int) -> str:
    bodies = [
        c.body for c in argo.fake_github.comments_posted(OWNER, REPO, number) if "argoai:summary" in c.body
    ]
    return bodies[0] if bodies else ""


def _samples(argo: ArgoSystem, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(argo.metrics()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_two_variants_split_a_batch_by_hash_and_their_metrics_differ(
    system: ArgoSystem, tmp_path: Path
) -> None:
    """Eight pull requests go to the variant their hash names, are reviewed by that variant's model, say so
    in their summary metadata and history records, and the review, token and duration metrics count them
    under that label."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    system.stop("reviewer")
    system.start_reviewer(ARGOAI_POLICY_FILE=str(policy))
    repo = RepoRef(host="127.0.0.1", owner=OWNER, name=REPO)
    expected = {n: ("control", "small")[bucket("cheaper-model", repo, n, 2)] for n in NUMBERS}
    assert set(expected.values()) == {"control", "small"}
    for number in NUMBERS:
        code = f"value_{number} = compute()  # FIXME-BUG in pr{number}\n"
        system.fake_github.add_pull_request(
            OWNER, REPO, number, f"{number:040x}", BASE, [(f"m{number}.py", f"@@ -0,0 +1 @@\n+{code}", code)],
            installation_id=system.installation_id,
        )  # fmt: skip
        opened = pull_request_payload(
            "opened", number=number, head=f"{number:040x}", base=BASE, installation_id=system.installation_id
        )
        assert system.send("pull_request", opened).status_code == 202
    wait_until(lambda: all(_summary(system, n) for n in NUMBERS), 120, "every pull request to be reviewed")

    models = {}
    for request in system.fake_llm.requests:
        match = re.search(r"Review of pull request #(\d+)", request.prompt)
        assert match is not None
        models[int(match.group(1))] = request.model
    assert models == {n: MODELS[variant] for n, variant in expected.items()}
    for number, variant in expected.items():
        meta = find_summary_meta(_summary(system, number))
        assert meta is not None
        assert (meta["experiment"], meta["variant"]) == ("cheaper-model", variant)

    counts = {v: sum(1 for e in expected.values() if e == v) for v in MODELS}

    def settled() -> bool:
        posted = _samples(system, "argoai_reviews_total")
        return sum(value for labels, value in posted.items() if ("outcome", "posted") in labels) == 8

    wait_until(settled, 30, "every review to be counted")
    reviews = _samples(system, "argoai_reviews_total")
    tokens = _samples(system, "argoai_llm_tokens_total")
    durations = _samples(system, "argoai_review_duration_seconds_count")
    for variant, model in MODELS.items():
        assert reviews[(("outcome", "posted"), ("variant", variant))] == counts[variant]
        assert tokens[(("direction", "input"), ("model", model), ("variant", variant))] > 0
        assert durations[(("variant", variant),)] == counts[variant]
    assert not any(dict(labels).get("variant") == "none" for labels in tokens)

    # The audit history records the assignment too (`argoai history`, run as a user would).
    done = subprocess.run(
        [sys.executable, "-m", "argoai_cli", "history", "--json", "--outcome", "posted"],
        env=system.env(ARGOAI_HISTORY_STORE=str(tmp_path / "history.sqlite3")),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    recorded = {r["number"]: (r["experiment"], r["variant"]) for r in json.loads(done.stdout)}
    assert recorded == {n: ("cheaper-model", variant) for n, variant in expected.items()}
