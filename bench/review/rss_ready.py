"""RSS of a real ``argoai reviewer`` once it reports ready (no review yet): imports, clients, connections.

Starts its own nats-server, uses Redis on 127.0.0.1:6379 (its own key prefix), the fake GitHub and fake LLM in
this process, and prints ``VmRSS`` / ``VmHWM`` of the reviewer process in MB as one JSON object.

    .venv/bin/python bench/review/rss_ready.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from argoai_cli.local_services import nats_process  # noqa: E402
from support.fake_github.server import FakeGitHub  # noqa: E402
from support.fake_llm import FakeLLM  # noqa: E402
from support.system import LLM_KEY, argo_system  # noqa: E402


def main() -> int:
    """Start a reviewer, wait for ready (and one second more), print its memory."""
    with tempfile.TemporaryDirectory(prefix="argoai-bench-rss-") as tmp:
        nats = nats_process(Path(tmp) / "nats")
        nats.start()
        try:
            with (
                FakeGitHub().serving() as github,
                FakeLLM(api_key=LLM_KEY) as llm,
                argo_system(
                    github, llm, f"nats://127.0.0.1:{nats.port}", "redis://127.0.0.1:6379/0", Path(tmp)
                ) as argo,
            ):
                argo.extra_env["ARGOAI_LOG_LEVEL"] = "INFO"
                argo.start_reviewer()
                time.sleep(1)
                status = Path(f"/proc/{argo.processes['reviewer'].pid}/status").read_text()
                found = dict(re.findall(r"(VmRSS|VmHWM):\s+(\d+) kB", status))
                print(json.dumps({f"{k.lower()}_mb": round(int(v) / 1024, 1) for k, v in found.items()}))
        finally:
            nats.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
