"""Benchmark: ``argoai eval`` of the shipped dataset (eval/dataset) against the fake LLM, wall time.

Starts the fake LLM as its own process (``python -m support.fake_llm --eval-rules
tests/fixtures/eval_fake_model.yaml``: it reports a bug only when its evidence is in the prompt, and answers
the judge), then runs ``argoai eval eval/dataset --json`` as a process with only ARGOAI_LLM_* set, and times
it from start to exit (Python start-up and imports included, as a user sees it). Prints one JSON object;
exits 1 when the scores are not the expected ones (every golden comment found, one false positive).
Target: ≤ 60 s.

    .venv/bin/python bench/eval/run.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = "bench-llm-key"
EXPECTED = {"findings": 10, "true_positives": 9, "goldens": 9, "found": 9}
TARGET_SECONDS = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    rules = ROOT / "tests" / "fixtures" / "eval_fake_model.yaml"
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as work:
        fake = subprocess.Popen(
            [sys.executable, "-m", "support.fake_llm", "--api-key", KEY, "--eval-rules", str(rules)],
            stdout=subprocess.PIPE, stderr=(Path(work) / "fake_llm.log").open("w"), text=True, env=env,
            cwd=ROOT,
        )  # fmt: skip
        try:
            assert fake.stdout is not None
            url = fake.stdout.readline().strip().split("=", 1)[1]
            eval_env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": work,
                "ARGOAI_LLM_PROVIDER": "openai",
                "ARGOAI_LLM_MODEL": "fake-model",
                "ARGOAI_LLM_BASE_URL": f"{url}/v1",
                "ARGOAI_LLM_API_KEY": KEY,
            }
            seconds: list[float] = []
            report: dict[str, object] = {}
            for _ in range(args.runs):
                started = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "argoai_cli", "eval", str(ROOT / "eval" / "dataset"), "--json"],
                    capture_output=True, text=True, env=eval_env, cwd=ROOT, timeout=600,
                )  # fmt: skip
                seconds.append(time.perf_counter() - started)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
                report = json.loads(done.stdout)
        finally:
            fake.terminate()
            fake.wait(timeout=10)
    [variant] = report["variants"]  # type: ignore[index]
    result = {
        "cases": len(variant["cases"]),
        "runs": args.runs,
        "seconds_median": round(statistics.median(seconds), 2),
        "seconds_max": round(max(seconds), 2),
        "review_seconds_sum": variant["seconds"],
        "precision": variant["precision"],
        "recall": variant["recall"],
        "f1": variant["f1"],
        "input_tokens": variant["input_tokens"],
        "scores_as_expected": variant["scores"] == EXPECTED,
        "within_target": max(seconds) <= TARGET_SECONDS,
    }
    print(json.dumps(result))
    return 0 if result["scores_as_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
