"""CPU of one streamed LLM answer in the reviewer, with streams as long as the real APIs send them.

The real APIs stream about one token (~4 characters) per chunk, so a review answer of a few findings is
hundreds of chunks; the fake LLM of the other benchmarks sends 48 characters per chunk. Here the fake runs in
its own process with ``--piece-chars 4`` and the review model is built as the reviewer builds it
(``wiring.build_model``), then asked for ``--calls`` reviews of a prompt whose ``--findings`` marked lines
each draw one finding. Reported per call: the answer's characters and chunks, and this process's CPU
(``time.process_time``) for

* ``openai_adapter``: the OpenAI-compatible adapter as the reviewer runs it (structured output, streaming,
  the chunks read as :mod:`argoai_reviewer.adapters.llm_openai_chunks` models);
* ``openai_sdk_typed_chunks``: for comparison, the same stream read through the SDK's
  ``chat.completions.create(stream=True)``, which builds a ``ChatCompletionChunk`` per chunk (what the adapter
  did before);
* ``anthropic_adapter``: the Anthropic adapter (the SDK's typed stream events).

Usage: ``.venv/bin/python bench/llm_stream/run.py [--calls 30] [--findings 6]``; one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
from pydantic import SecretStr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "review"))

from services import LLM_KEY, fake_llm  # noqa: E402

from argoai_core.logs import configure_logging  # noqa: E402
from argoai_core.settings import LLMSettings  # noqa: E402
from argoai_reviewer.llm.structured import LLMClient  # noqa: E402
from argoai_reviewer.wiring import build_model  # noqa: E402

SYSTEM = "You are a careful code reviewer."


def prompt_with(findings: int) -> str:
    """A diff block whose every other line carries the fake's marker (one finding each)."""
    rows = []
    for line in range(1, 2 * findings + 1):
        marker = "  # FIXME-BUG off by one in the loop bound" if line % 2 else ""
        rows.append(f"{line:>3} + total = total + values[{line}]{marker}")
    return "Review this change.\n\n=== app/sums.py (modified) ===\n@@ lines 1-99 @@\n" + "\n".join(rows)


async def cpu_per_call(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    """Milliseconds of this process's CPU per call, after three warm-up calls."""
    for _ in range(3):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    return round(1000 * (time.process_time() - started) / calls, 2)


async def measure(openai_url: str, anthropic_url: str, calls: int, findings: int) -> dict[str, Any]:
    """The three figures, and the length of the answer they stream."""
    prompt = prompt_with(findings)
    settings = {"api_key": SecretStr(LLM_KEY), "model": "fake-model", "timeout_seconds": 30.0}
    adapter = build_model(LLMSettings(provider="openai", base_url=openai_url, **settings))
    anthropic = build_model(LLMSettings(provider="anthropic", base_url=anthropic_url, **settings))
    sdk = openai.AsyncOpenAI(api_key=LLM_KEY, base_url=openai_url)
    answer: list[str] = []

    async def review(model: LLMClient) -> None:
        reply = await model.review(system=SYSTEM, prompt=prompt)
        if len(reply.output.findings) != findings:
            raise RuntimeError(f"{len(reply.output.findings)} findings, {findings} expected")

    async def typed_chunks() -> None:
        stream = await sdk.chat.completions.create(
            model="fake-model",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
            stream=True,
        )
        parts = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        answer[:] = parts

    try:
        result = {
            "openai_adapter_cpu_ms_per_call": await cpu_per_call(lambda: review(adapter), calls),
            "openai_sdk_typed_chunks_cpu_ms_per_call": await cpu_per_call(typed_chunks, calls),
            "anthropic_adapter_cpu_ms_per_call": await cpu_per_call(lambda: review(anthropic), calls),
        }
    finally:
        await adapter.aclose()
        await anthropic.aclose()
        await sdk.close()
    return {
        "calls": calls,
        "findings_per_answer": findings,
        "answer_chars": len("".join(answer)),
        "chunks_per_answer": len(answer),
        **result,
    }


def main() -> int:
    """Run the measurement and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="measured calls of each kind")
    parser.add_argument("--findings", type=int, default=6, help="findings in each answer")
    args = parser.parse_args()
    configure_logging("WARNING")
    with (
        tempfile.TemporaryDirectory(prefix="argoai-bench-llm-stream-") as tmp,
        fake_llm(Path(tmp), 0.0, "fake_llm", "--piece-chars", "4") as llm,
    ):
        result = asyncio.run(measure(llm.openai_base_url, llm.url, args.calls, args.findings))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
