"""bandit reads narrowed modules (statements without a changed line emptied): same line numbers, valid
Python, and the same findings on changed lines as on the whole module."""

from __future__ import annotations

from argoai_core.models.policy import AnalyzersPolicy
from argoai_reviewer.analysis.analyzers import AnalyzerRunner, TempCopy
from argoai_reviewer.analysis.analyzers.narrow import narrow_python
from argoai_reviewer.analysis.analyzers.tools.bandit import Bandit
from argoai_reviewer.analysis.diff import FileDiff, parse_patch

# Something for most of bandit's checks, spread over functions, classes, branches and handlers.
MODULE = '''"""Module."""
import hashlib
import pickle
import subprocess as sp
from subprocess import run

import requests
import yaml

PASSWORD = "hunter2"


def shell(cmd):
    """Run it."""
    sp.call(cmd, shell=True)
    return run(cmd, shell=True)


class Store:
    secret_key = "s3cr3t"

    def load(self, data):
        if data:
            return pickle.loads(data)
        else:
            return yaml.load(data)

    def digest(self, data):
        try:
            value = hashlib.md5(data).hexdigest()
        except ValueError:
            pass
        return value


def query(table, user):
    sql = "SELECT * FROM " + table + " WHERE user = '%s'" % user
    requests.get("https://example.com", verify=False)
    eval(user)
    return sql


def bind():
    host = "0.0.0.0"
    return host
'''


def _diff(changed: set[int]) -> FileDiff:
    lines = MODULE.splitlines()
    body = "".join(("+" if n in changed else " ") + text + "\n" for n, text in enumerate(lines, 1))
    additions = len(changed)
    patch = f"@@ -1,{len(lines) - additions} +1,{len(lines)} @@\n{body}"
    return parse_patch("pkg/store.py", patch)


class WholeBandit(Bandit):
    """bandit on the whole module."""

    def narrow(self, path: str, text: str, changed: frozenset[int]) -> str | None:
        return None


async def _bandit(tool: Bandit, changed: set[int]) -> set[tuple[int, str]]:
    async def unavailable(path: str) -> str | None:
        return None

    texts = {"pkg/store.py": MODULE}
    runner = AnalyzerRunner(tools=[tool], builtins=[])
    result = await runner.run([_diff(changed)], texts, AnalyzersPolicy(), TempCopy(unavailable, texts))
    assert result.notes == []
    return {(finding.start_line, finding.rule) for finding in result.findings}


def test_narrowing_keeps_line_numbers_imports_and_changed_statements() -> None:
    """Unchanged statements become ``pass`` and blank lines; imports and changed statements stay."""
    narrowed = narrow_python(MODULE, frozenset({16, 30}))
    assert narrowed is not None
    before, after = MODULE.splitlines(), narrowed.splitlines()
    assert len(after) == len(before)
    for number in (2, 3, 4, 5, 7, 8, 16, 30):
        assert after[number - 1] == before[number - 1]
    assert after[10 - 1] == "pass"  # PASSWORD = … on an unchanged line
    assert after[37 - 1].strip() in ("", "pass")
    assert narrow_python("def broken(:\n    pass\n", frozenset({1})) is None


async def test_bandit_finds_the_same_on_changed_lines_narrowed_or_whole() -> None:
    """For several sets of changed lines, narrowed and whole modules give bandit's same findings."""
    for changed in ({16}, {24, 26, 30, 31}, {10, 20, 37, 38, 39, 44}, set(range(1, 46))):
        narrowed = await _bandit(Bandit(), changed)
        whole = await _bandit(WholeBandit(), changed)
        assert narrowed == whole, changed
        assert narrowed, changed
