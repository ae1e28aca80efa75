"""Small git repositories for the analyzer tests: problems planted on changed lines, and others left on
unchanged lines, in Python, shell, a Dockerfile, a workflow, YAML and TypeScript."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.analysis.tokens import EstimateCounter
from argoai_reviewer.local.review import LocalReview, review_local


def git(repo: Path, *args: str) -> None:
    """Run git in ``repo``."""
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def commit_files(repo: Path, files: Mapping[str, str], message: str) -> None:
    """Write ``files`` (path → text) and commit them."""
    for path, text in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def make_repo(root: Path, base: Mapping[str, str], head: Mapping[str, str]) -> Path:
    """A repository with a base commit of ``base`` and a head commit changing it into ``head``."""
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "dev@example.com")
    git(root, "config", "user.name", "Dev")
    commit_files(root, base, "base")
    commit_files(root, head, "head")
    return root


async def review(
    repo: Path, policy: PolicySpec | None = None, options: AnalysisOptions | None = None
) -> LocalReview:
    """``argoai review``'s analysis of HEAD~1...HEAD, without an LLM."""
    return await review_local(
        repo,
        "HEAD~1",
        "HEAD",
        policy=policy or PolicySpec(),
        model=None,
        counter=EstimateCounter(),
        options=options or AnalysisOptions(),
        progress=lambda _: None,
    )


# Each planted problem: (path, line at head, tool, rule). Base versions carry problems on lines the head
# keeps unchanged: those must not be reported.
BASE = {
    "app/service.py": "import os\n\n\ndef run(cmd):\n    return cmd\n",
    "scripts/deploy.sh": "#!/bin/bash\necho $OLD_TARGET\n",
    "Dockerfile": "FROM ubuntu:latest\nWORKDIR /app\n",
    ".github/workflows/ci.yml": (
        "name: ci\non:\n  push:\n    branches: [main]\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    ),
    "config/app.yaml": "name: app\nenabled: yes\n",
    "web/index.ts": "export function f(a: any): number {\n  return 1;\n}\n",
}
HEAD = {
    "app/service.py": (
        "import os\n"
        "import subprocess\n"
        "import sys\n"
        "\n"
        "\n"
        "def run(cmd):\n"
        "    subprocess.call(cmd, shell=True)\n"
        "    return missing_name\n"
    ),
    "scripts/deploy.sh": "#!/bin/bash\necho $OLD_TARGET\ncd /srv\nrm -rf $TARGET/\n",
    "Dockerfile": "FROM ubuntu:latest\nWORKDIR /app\nRUN cd /app && make\n",
    ".github/workflows/ci.yml": (
        "name: ci\non:\n  push:\n    branches: [main]\njobs:\n  test:\n    runs-on: linux-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.head_commit.message }}"\n'
    ),
    "config/app.yaml": "name: app\nenabled: yes\nname: other\n",
    "web/index.ts": (
        "export function f(a: any): number {\n"
        "  const y = 1;\n"
        "  if (a == null) {\n"
        "    debugger;\n"
        "  }\n"
        "  y = 2;\n"
        "  return y;\n"
        "}\n"
    ),
}
PLANTED = {
    ("app/service.py", 3, "ruff", "F401"),
    ("app/service.py", 7, "bandit", "B602"),
    ("app/service.py", 8, "ruff", "F821"),
    ("scripts/deploy.sh", 3, "shellcheck", "SC2164"),
    ("scripts/deploy.sh", 4, "shellcheck", "SC2115"),
    ("Dockerfile", 3, "hadolint", "DL3003"),
    (".github/workflows/ci.yml", 7, "actionlint", "runner-label"),
    (".github/workflows/ci.yml", 10, "actionlint", "expression"),
    ("config/app.yaml", 3, "yamllint", "key-duplicates"),
    # Biome's noDebugger says the same as the built-in check, which keeps it (see analyzers.merge).
    ("web/index.ts", 4, "debugger", "breakpoint"),
    ("web/index.ts", 6, "biome", "lint/correctness/noConstAssign"),
}
UNCHANGED = {
    ("app/service.py", 1, "ruff", "F401"),
    ("scripts/deploy.sh", 2, "shellcheck", "SC2086"),
    ("Dockerfile", 1, "hadolint", "DL3007"),
    ("config/app.yaml", 2, "yamllint", "truthy"),
    ("web/index.ts", 1, "biome", "lint/suspicious/noExplicitAny"),
}
