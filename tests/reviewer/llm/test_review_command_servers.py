"""``argoai review`` run as a user runs it, against the fake answering as llama-cpp-python: the report
alone on stdout, logs as JSON on stderr at ARGOAI_LOG_LEVEL, model text without terminal escapes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from argoai_core.models.findings import Category, Finding, ReviewOutput, Severity
from support.fake_llm import FakeLLM, Recorded, Reply

KEY = "sk-local-llama-key-123456"
ESCAPE = "\x1b[2J\x1b]0;pwned\x07"
QUOTE = "    return total(items) / len(items)  # FIXME-BUG empty list"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose last commit adds a marked bug."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "dev@example.com")
    _git(tmp_path, "config", "user.name", "Dev")
    (tmp_path / "app.py").write_text("def total(items):\n    return sum(items)\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "app.py").write_text(
        "def total(items):\n    return sum(items)\n\n\ndef average(items):\n"
        "    return total(items) / len(items)  # FIXME-BUG empty list\n"
    )
    _git(tmp_path, "commit", "-qam", "Add average")
    return tmp_path


def _hostile(request: Recorded) -> Reply:
    """A review whose text tries to drive the terminal (clear screen, set the window title)."""
    finding = Finding(
        path="app.py", start_line=6, end_line=6, quote=QUOTE,
        severity=Severity.MAJOR, category=Category.BUG, title=f"Division by zero{ESCAPE}",
        body=f"An empty list divides by zero.{ESCAPE}\nCheck it first.", suggestion=None,
    )  # fmt: skip
    return Reply.output(ReviewOutput(summary=f"One bug.{ESCAPE}", findings=[finding]))


@pytest.fixture
def llama() -> Iterator[FakeLLM]:
    """The fake, answering as llama-cpp-python 0.3.36 (HTTP 500 for json_schema, max_tokens only)."""
    with FakeLLM(api_key=KEY, personality="llama-cpp-python", responder=_hostile) as fake:
        yield fake


def _review(repo: Path, llama: FakeLLM, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
        "ARGOAI_LLM_PROVIDER": "openai",
        "ARGOAI_LLM_MODEL": "smollm2",
        "ARGOAI_LLM_BASE_URL": llama.openai_base_url,
        "ARGOAI_LLM_API_KEY": KEY,
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "argoai_cli", "review", "--repo", str(repo), "--base", "HEAD~1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def test_report_alone_on_stdout_and_json_logs_on_stderr(repo: Path, llama: FakeLLM) -> None:
    """The review succeeds through llama-cpp-python's refusal; stdout is the report, without escape
    sequences; the refusal is a JSON log line on stderr, the key never appears."""
    done = _review(repo, llama)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ArgoAI review of")
    assert "[major] Division by zero" in done.stdout
    assert "app.py:6" in done.stdout
    assert "One bug." in done.stdout
    assert "\x1b" not in done.stdout
    assert "\x07" not in done.stdout
    assert not [line for line in done.stdout.splitlines() if line.startswith("{")]
    logs = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    [refused] = [log for log in logs if log["event"] == "llm_parameter_refused"]
    assert (refused["level"], refused["parameter"], refused["status"]) == ("warning", "response_format", 500)
    assert KEY not in done.stdout + done.stderr
    assert [r.structured_output for r in llama.requests] == ["json_schema", "json_object"]
    assert llama.requests[1].output_limit == 4096


def test_log_level_is_honoured(repo: Path, llama: FakeLLM) -> None:
    """ARGOAI_LOG_LEVEL=ERROR silences the refusal warning; an invalid level is one line, exit 2."""
    quiet = _review(repo, llama, ARGOAI_LOG_LEVEL="error")
    invalid = _review(repo, llama, ARGOAI_LOG_LEVEL="chatty")

    assert quiet.returncode == 0, quiet.stderr
    assert "llm_parameter_refused" not in quiet.stderr
    assert invalid.returncode == 2
    assert invalid.stderr.startswith("argoai: configuration error: ARGOAI_LOG_LEVEL")
    assert "Traceback" not in invalid.stderr
