"""The fake LLM run as its own process (as benchmarks and end-to-end tests use it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from argoai_core.settings import LLMSettings
from argoai_reviewer.wiring import build_model

from .conftest import FAST

TESTS = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_process() -> Iterator[str]:
    """``python -m support.fake_llm`` on a free port; yields its URL."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "support.fake_llm",
            "--api-key",
            "proc-key",
            "--marker",
            "XXX-BUG",
            "--personality",
            "llama-cpp-python",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("FAKE_LLM_URL="), line
        yield line.strip().split("=", 1)[1]
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_fake_in_a_process_answers_and_reports_requests(fake_process: str) -> None:
    """A fake started as a process answers by URL with marker findings, as the personality it was given
    (llama-cpp-python refuses json_schema), and lists what it received."""
    settings = LLMSettings(
        provider="openai", base_url=f"{fake_process}/v1", api_key=SecretStr("proc-key"), model="m"
    )
    model = build_model(settings, retry=FAST)
    try:
        reply = await model.review(
            system="s", prompt="=== a.py (added) ===\n3 + x = 1  # XXX-BUG\n4 + y = 2\n"
        )
    finally:
        await model.aclose()

    assert [(f.path, f.start_line, f.quote) for f in reply.output.findings] == [
        ("a.py", 3, "x = 1  # XXX-BUG")
    ]
    async with httpx.AsyncClient(timeout=5) as client:
        recorded = (await client.get(f"{fake_process}/_fake/requests")).json()
    assert [r["body"]["model"] for r in recorded] == ["m", "m"]
    assert [r["body"]["response_format"]["type"] for r in recorded] == ["json_schema", "json_object"]
