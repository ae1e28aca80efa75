"""Analyzers never run repository code and never read a repository's linter configuration (except ruff's
plain TOML when the policy allows): traps planted in a pull request stay inert."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from argoai_core.models.findings import ToolFinding
from argoai_core.models.policy import AnalyzersPolicy, PolicySpec
from argoai_reviewer.analysis.anchoring import Anchored
from support.analyzer_repos import BASE, HEAD, make_repo, review

TRAP = "import pathlib; pathlib.Path({marker!r}).joinpath({name!r}).write_text('ran')\n"
# Modules a Python analyzer (bandit, yamllint and what they import) would pick up from its working
# directory if it were on sys.path; each records that it ran.
SHADOWS = ("bandit.py", "yamllint.py", "yaml.py", "stevedore.py", "sitecustomize.py", "usercustomize.py")


def _traps(marker: Path) -> dict[str, str]:
    files = {name: TRAP.format(marker=str(marker), name=name) for name in SHADOWS}
    files.update(
        {
            "eslint.config.js": (
                f"require('fs').writeFileSync({str(marker / 'eslint')!r}, 'ran');\nexport default [];\n"
            ),
            "biome.json": (
                '{"plugins": ["./evil.grit"], "linter": {"rules": {"suspicious": {"noDebugger": "off"},'
                ' "correctness": {"noConstAssign": "off"}}}}\n'
            ),
            "web/biome.json": '{"root": false, "linter": {"enabled": false}}\n',
            "evil.grit": "`debugger` => .\n",
            "pyproject.toml": (
                '[tool.ruff]\nextend = "/etc/ruff-elsewhere.toml"\n[tool.ruff.lint]\nignore = ["F"]\n'
            ),
            ".shellcheckrc": "disable=SC2164,SC2115\n",
            ".hadolint.yaml": "ignored: [DL3003]\n",
            ".yamllint": "rules:\n  key-duplicates: disable\n",
            ".github/actionlint.yaml": "paths:\n  .github/workflows/**/*.yml:\n    ignore: ['.*']\n",
        }
    )
    return files


def test_planted_modules_would_run_if_a_tool_put_its_directory_on_sys_path(tmp_path: Path) -> None:
    """Control: ``python -m bandit`` without isolation, started where the trap files are, runs them."""
    marker = tmp_path / "marker"
    marker.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    for name, text in _traps(marker).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    subprocess.run([sys.executable, "-m", "bandit", "--version"], cwd=work, capture_output=True, timeout=60)
    assert (marker / "bandit.py").exists()


async def test_a_repository_that_tries_to_run_code_runs_nothing(tmp_path: Path) -> None:
    """Config files and shadowing modules in the pull request run nothing and change no tool's rules."""
    marker = tmp_path / "marker"
    marker.mkdir()
    (tmp_path / "repo").mkdir()
    repo = make_repo(tmp_path / "repo", BASE, {**HEAD, **_traps(marker)})
    policy = PolicySpec(analyzers=AnalyzersPolicy(repository_config=True))
    result = await review(repo, policy)
    assert list(marker.iterdir()) == []
    reported = {
        (p.path, p.start, p.finding.tool, p.finding.rule)
        for p in result.analysis.placements
        if isinstance(p, Anchored) and isinstance(p.finding, ToolFinding)
    }
    # Every repository configuration above would have silenced these.
    assert {
        ("app/service.py", 3, "ruff", "F401"),
        ("scripts/deploy.sh", 3, "shellcheck", "SC2164"),
        ("Dockerfile", 3, "hadolint", "DL3003"),
        ("config/app.yaml", 3, "yamllint", "key-duplicates"),
        (".github/workflows/ci.yml", 7, "actionlint", "runner-label"),
        ("web/index.ts", 6, "biome", "lint/correctness/noConstAssign"),
    } <= reported
    assert result.analysis.analyzers.notes == []


async def test_ruff_honours_plain_repository_configuration_only_when_the_policy_allows(
    tmp_path: Path,
) -> None:
    """A root ruff.toml ignoring F401 applies with ``repositoryConfig: true`` and is ignored otherwise."""
    (tmp_path / "repo").mkdir()
    repo = make_repo(
        tmp_path / "repo",
        {"ruff.toml": '[lint]\nignore = ["F401"]\n', "a.py": "x = 1\n"},
        {"a.py": "import os\nx = 1\n"},
    )

    def rules(placements: list[object]) -> set[str]:
        return {
            p.finding.rule
            for p in placements
            if isinstance(p, Anchored) and isinstance(p.finding, ToolFinding)
        }

    honoured = await review(repo, PolicySpec(analyzers=AnalyzersPolicy(repository_config=True)))
    ignored = await review(repo, PolicySpec())
    assert "F401" not in rules(honoured.analysis.placements)
    assert "F401" in rules(ignored.analysis.placements)
