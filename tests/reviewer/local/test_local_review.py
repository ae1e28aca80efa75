"""``argoai review`` on a real git repository: built-in checks alone, and with the (fake) LLM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from argoai_core.models.policy import PolicySpec
from argoai_core.settings import LLMSettings
from argoai_reviewer.analysis.anchoring import Anchored, How, Unanchored
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.local.review import review_local
from argoai_reviewer.wiring import build_model
from support.fake_llm import AgentResponder, FakeLLM

AWS_KEY = "AKIA" + "Q3EXAMPLE7KEY2XZ"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with a base commit and a head commit adding a credential and a marked bug."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "dev@example.com")
    _git(tmp_path, "config", "user.name", "Dev")
    (tmp_path / "app.py").write_text("def total(items):\n    return sum(items)\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "app.py").write_text(
        "def total(items):\n"
        "    return sum(items)\n"
        "\n"
        "\n"
        "def average(items):\n"
        "    return total(items) / len(items)  # FIXME-BUG empty list\n"
    )
    (tmp_path / "settings.py").write_text(f'REGION = "eu-west-1"\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    (tmp_path / "poetry.lock").write_text("# lock\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "Add average", "-m", "Adds an average helper.")
    return tmp_path


async def _no_heartbeat() -> None:
    return None


async def test_builtin_checks_alone_find_the_credential_on_its_exact_line(repo: Path) -> None:
    """Without an LLM, the added AWS key is reported inline on its exact line; lock files are skipped."""
    result = await review_local(
        repo, "HEAD~1", "HEAD", policy=PolicySpec(), model=None, counter=EstimateCounter(),
        options=AnalysisOptions(), progress=lambda _: None,
    )  # fmt: skip
    analysis = result.analysis
    assert not analysis.llm_used
    secrets = [p for p in analysis.placements if p.finding.category.value == "security"]
    assert len(secrets) == 1
    placed = secrets[0]
    assert isinstance(placed, Anchored)
    assert (placed.path, placed.start, placed.end, placed.how) == ("settings.py", 2, 2, How.EXACT)
    assert AWS_KEY not in placed.finding.model_dump_json()
    assert ("poetry.lock", "lock file") in [(p, r.split(" (")[0]) for p, r in analysis.selection.skipped]
    assert analysis.coverage.lines_sent == analysis.coverage.lines_total


async def test_llm_findings_are_anchored_and_the_secret_never_reaches_the_llm(repo: Path) -> None:
    """With the fake LLM, its finding lands on the marked line, and the AWS key is in no prompt."""
    with FakeLLM(api_key="k") as fake:
        model = build_model(
            LLMSettings(provider="openai", model="gpt-4o", base_url=fake.openai_base_url, api_key="k")
        )
        try:
            result = await review_local(
                repo, "HEAD~1", "HEAD", policy=PolicySpec(), model=model, counter=EstimateCounter(),
                options=AnalysisOptions(), progress=lambda _: None,
            )  # fmt: skip
        finally:
            await model.aclose()
        sent = [request.text for request in fake.requests]
    assert sent
    assert all(AWS_KEY not in text for text in sent)
    bugs = [p for p in result.analysis.placements if p.finding.category.value == "bug"]
    assert [(p.path, p.start) for p in bugs if isinstance(p, Anchored)] == [("app.py", 6)]
    assert not [p for p in result.analysis.placements if isinstance(p, Unanchored)]
    assert result.analysis.calls == 1
    assert result.analysis.input_tokens > 0


def test_cli_prints_findings_and_fails_on_critical(repo: Path) -> None:
    """`argoai review --fail-on critical` prints the credential finding, says no LLM is used, and exits 1."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(repo)}
    done = subprocess.run(
        [sys.executable, "-m", "argoai_cli", "review", "--repo", str(repo), "--base", "HEAD~1",
         "--fail-on", "critical"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Built-in checks only" in done.stdout
    assert "settings.py:2" in done.stdout
    assert AWS_KEY not in done.stdout + done.stderr


def test_cli_names_a_bad_range(repo: Path) -> None:
    """A base that is not a commit gets one clear line and exit status 2."""
    done = subprocess.run(
        [sys.executable, "-m", "argoai_cli", "review", "--repo", str(repo), "--base", "no-such-ref"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "base 'no-such-ref' is not a commit" in done.stderr


async def test_related_code_comes_from_the_head_commit_not_the_working_tree(tmp_path: Path) -> None:
    """The local snapshot is the head commit's tree: a committed definition the change uses is in the prompt,
    an untracked file in the working tree is not, and the coverage counts the snippet."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "dev@example.com")
    _git(tmp_path, "config", "user.name", "Dev")
    (tmp_path / "pricing.py").write_text("def apply_discount(price, percent):\n    return price * percent\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "cart.py").write_text(
        "from pricing import apply_discount\n\nTOTAL = apply_discount(10, 0.1)\n"
    )
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "Use the discount")
    (tmp_path / "untracked.py").write_text("def apply_discount(price, percent):\n    return 'UNTRACKED'\n")
    with FakeLLM(api_key="k") as fake:
        model = build_model(
            LLMSettings(provider="openai", model="gpt-4o", base_url=fake.openai_base_url, api_key="k")
        )
        try:
            result = await review_local(
                tmp_path, "HEAD~1", "HEAD", policy=PolicySpec(), model=model, counter=EstimateCounter(),
                options=AnalysisOptions(), progress=lambda _: None,
            )  # fmt: skip
        finally:
            await model.aclose()
        [request] = fake.requests
    assert "--- pricing.py lines 1-2 (unchanged)" in request.prompt
    assert "UNTRACKED" not in request.prompt
    assert (result.analysis.coverage.related_snippets, result.analysis.coverage.related_files) == (1, 1)


async def test_agent_mode_reads_the_head_commit_through_tools(tmp_path: Path) -> None:
    """``argoai review`` in agent mode (Anthropic tool use): the model finds the definition with a tool over
    the head commit's tree; the untracked file is not there and the finding comes from the tool result."""
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.email", "dev@example.com")
    _git(tmp_path, "config", "user.name", "Dev")
    (tmp_path / "pricing.py").write_text("def apply_discount(price, percent):\n    return price * percent\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "cart.py").write_text(
        "from pricing import apply_discount\n\nTOTAL = apply_discount(10, 0.1)\n"
    )
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "Use the discount")
    (tmp_path / "untracked.py").write_text("def apply_discount(price, percent):\n    return 'UNTRACKED'\n")
    responder = AgentResponder(
        path="cart.py",
        line=3,
        quote="TOTAL = apply_discount(10, 0.1)",
        evidence="def apply_discount(price, percent):",
        calls=[("find_definitions", {"name": "apply_discount"})],
    )
    policy = PolicySpec.model_validate({"agent": {"enabled": True}})
    with FakeLLM(api_key="k", responder=responder) as fake:
        model = build_model(
            LLMSettings(provider="anthropic", model="claude-x", base_url=fake.url, api_key="k")
        )
        try:
            result = await review_local(
                tmp_path, "HEAD~1", "HEAD", policy=policy, model=model, counter=EstimateCounter(),
                options=AnalysisOptions(), progress=lambda _: None,
            )  # fmt: skip
        finally:
            await model.aclose()
        first, second = fake.requests
    assert responder.seen == ["tools"]
    assert "pricing.py" not in first.prompt
    assert "UNTRACKED" not in second.text
    assert [(p.path, p.finding.start_line) for p in result.analysis.placements] == [("cart.py", 3)]
    assert (result.analysis.tool_calls, result.analysis.tool_rounds) == (1, 1)
