"""``argoai eval`` as a process: the shipped dataset against a fake model reporting only what it was shown."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.fake_llm import FakeLLM, RulesResponder

ROOT = Path(__file__).resolve().parents[3]
DATASET = ROOT / "eval" / "dataset"
POLICIES = ROOT / "eval" / "policies"
RULES = ROOT / "tests" / "fixtures" / "eval_fake_model.yaml"
KEY = "eval-llm-key"
CROSS_FILE = {
    "go-cross-units",
    "java-cross-swapped-args",
    "js-cross-null-return",
    "py-cross-percent",
    "ts-cross-renamed-export",
}


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """The fake OpenAI-compatible server, answering with the dataset's evidence rules (and as the judge)."""
    with FakeLLM(api_key=KEY, responder=RulesResponder.from_file(str(RULES))) as fake:
        yield fake


def _eval(*args: str, llm: FakeLLM | None, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    if llm is not None:
        env |= {
            "ARGOAI_LLM_PROVIDER": "openai",
            "ARGOAI_LLM_MODEL": "fake-model",
            "ARGOAI_LLM_BASE_URL": llm.openai_base_url,
            "ARGOAI_LLM_API_KEY": KEY,
        }
    return subprocess.run(
        [sys.executable, "-m", "argoai_cli", "eval", *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip


def _cases(variant: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {case["case"]: case for case in variant["cases"]}


def test_shipped_dataset_scores_as_expected(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """Every golden comment is found (cross-file ones thanks to related context, the unplaced one by the
    judge); the one false positive on a clean case makes precision 9/10; progress goes to stderr."""
    done = _eval(str(DATASET), "--json", llm=fake_llm, home=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    [variant] = report["variants"]
    assert variant["scores"] == {"findings": 10, "true_positives": 9, "goldens": 9, "found": 9}
    assert variant["precision"] == pytest.approx(0.9)
    assert variant["recall"] == pytest.approx(1.0)
    assert variant["f1"] == pytest.approx(2 * 0.9 / 1.9)
    cases = _cases(variant)
    assert len(cases) == 12
    for name in CROSS_FILE:
        assert cases[name]["scores"]["found"] == 1, name
        assert cases[name]["related_snippets"] > 0, name
    noisy = cases["clean-go-validate"]
    assert (noisy["precision"], noisy["recall"]) == (0.0, None)
    assert [f["path"] for f in noisy["findings"]] == ["names.go"]
    assert cases["clean-py-rename"]["findings"] == []
    assert cases["py-unplaced-rate-limit"]["scores"]["found"] == 1
    assert report["judge_calls"] == 1
    assert variant["input_tokens"] > 0
    assert variant["output_tokens"] > 0
    assert "[default 1/12] clean-go-validate" in done.stderr


def test_ab_shows_recall_drops_without_related_context(fake_llm: FakeLLM, tmp_path: Path) -> None:
    """With related context off (policy), the fake never sees a cross-file bug's evidence: recall falls from
    9/9 to the 4 bugs visible in the diff, and the differences name every cross-file case."""
    with_related = f"with:policy={POLICIES / 'default.yaml'}"
    without = f"without:policy={POLICIES / 'no-related-context.yaml'}"
    done = _eval(
        str(DATASET), "--variant", with_related, "--variant", without, "--json", llm=fake_llm, home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    first, second = json.loads(done.stdout)["variants"]
    assert (first["name"], second["name"]) == ("with", "without")
    assert first["scores"] == {"findings": 10, "true_positives": 9, "goldens": 9, "found": 9}
    assert second["scores"] == {"findings": 5, "true_positives": 4, "goldens": 9, "found": 4}
    for name in CROSS_FILE:
        assert _cases(second)[name]["scores"]["found"] == 0, name
        assert _cases(second)[name]["related_snippets"] == 0, name
    # The same comparison as a table: the differences line and the cases that changed.
    done = _eval(str(DATASET), "--variant", with_related, "--variant", without, llm=fake_llm, home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Differences: without against with" in done.stdout
    assert "precision -10.0 pt, recall -55.6 pt" in done.stdout
    for name in CROSS_FILE:
        assert f"  {name}: found 1 → 0 of 1, findings 1 → 0" in done.stdout


def _case(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True)
    (directory / "case.yaml").write_text(text)
    (directory / "base").mkdir()
    (directory / "base" / "a.py").write_text("A = 1\n")
    return directory


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "argoai eval: dataset {root}/missing: no such directory"),
        ("empty", "argoai eval: dataset {root}/empty: no case (a subdirectory with a case.yaml)"),
        ("bad-case", "argoai eval: {root}/bad-case/one/case.yaml: golden.0: Value error, a golden comment "
         "with a line needs its path"),
        ("bad-ref", "argoai eval: head 'no-such-ref' is not a commit of the repository at"),
        ("unknown-case", "argoai eval: dataset {dataset}: no case named nope"),
        ("bad-variant", "eval: Invalid value for --variant: 'x:colour=red': 'colour=red' is not one of "
         "policy=FILE, model=MODEL, prompts=DIR"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(setup: str, message: str, tmp_path: Path) -> None:
    """A missing dataset, an empty one, a bad case file, a ref that is not a commit, an unknown --case or a
    bad --variant: one line on stderr naming the problem, exit status 2."""
    args = [str(tmp_path / setup)]
    if setup == "empty":
        (tmp_path / "empty").mkdir()
    elif setup == "bad-case":
        _case(tmp_path / "bad-case" / "one", "title: t\ngolden:\n  - comment: c\n    line: 3\n")
    elif setup == "bad-ref":
        _case(tmp_path / "bad-ref" / "one", "title: t\nhead: no-such-ref\nrepository: ../../repo\n")
        repo = tmp_path / "repo"
        repo.mkdir()
        for command in (["init", "-q", "-b", "base"], ["commit", "-q", "--allow-empty", "-m", "base"]):
            subprocess.run(
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo), *command], check=True
            )
    elif setup == "unknown-case":
        args = [str(DATASET), "--case", "nope"]
    elif setup == "bad-variant":
        (tmp_path / "bad-variant").mkdir()
        args += ["--variant", "x:colour=red"]
    done = _eval(*args, llm=None, home=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith(("...", "{"))]
    assert len(lines) == 1, done.stderr
    assert message.format(root=tmp_path, dataset=DATASET) in lines[0]
