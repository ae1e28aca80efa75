"""Credentials added by the change, found with the shared patterns of :mod:`argoai_core.redact`.

A finding names the kind of credential and never repeats it: its ``quote`` is the part of the first line
before the secret value (e.g. ``password = "``), or after it, and only when neither exists the line with the
secret replaced by ``[REDACTED]``. Its line numbers come from the diff itself, so they are exact; the quote
is then a secret-free piece of the line, not the whole line (anchoring should trust built-in findings' lines,
see :mod:`argoai_reviewer.checks`).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from argoai_core.models.findings import Category, Finding, Severity
from argoai_core.redact import find_secret_spans, find_secrets, redact
from argoai_reviewer.checks._lines import added_runs
from argoai_reviewer.diff import DiffLine, FileDiff

# Formats that are credentials by their shape; the rest ("password = '…'", "token …") are guesses from a name.
_GENERIC = frozenset({"password assignment", "bearer credential"})


@dataclass
class _Hit:
    first: int
    last: int
    kinds: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


def _quote(line: str, spans: list[tuple[int, int]]) -> str:
    """A piece of ``line`` holding no secret: the text before the first one, else after the last one."""
    before = line[: min(start for start, _ in spans)].strip()
    if before and not find_secrets(before):
        return before
    after = line[max(end for _, end in spans) :].strip()
    if after and not find_secrets(after):
        return after
    return redact(line).strip() or "[REDACTED]"


def _finding(path: str, run: list[DiffLine], hit: _Hit) -> Finding:
    kinds = list(dict.fromkeys(hit.kinds))
    first, last = run[hit.first], run[hit.last]
    assert first.new is not None
    assert last.new is not None
    what = " and ".join(kinds)
    generic = all(kind in _GENERIC for kind in kinds)
    return Finding(
        path=path,
        start_line=first.new,
        end_line=last.new,
        quote=_quote(first.text, hit.spans),
        severity=Severity.MAJOR if generic else Severity.CRITICAL,
        category=Category.SECURITY,
        title=f"Credential added to the code: {what}",
        body=(
            f"This change adds what looks like a {what} (the value is not repeated here). A credential "
            "committed to git stays in the repository's history even after it is deleted: revoke or rotate "
            "it, remove it from the code, and load it at run time from a secret store or the environment."
            + (" If it is a test value, make that obvious (e.g. a clearly fake value)." if generic else "")
        ),
        suggestion=None,
    )


def secret_findings(diff: FileDiff) -> list[Finding]:
    """One finding per added line where a credential starts (a key block spans its lines)."""
    findings = []
    for run in added_runs(diff):
        text = "\n".join(line.text for line in run)
        offsets = [0]
        for line in run[:-1]:
            offsets.append(offsets[-1] + len(line.text) + 1)
        hits: dict[int, _Hit] = {}
        for match in find_secret_spans(text):
            first = bisect_right(offsets, match.start) - 1
            last = bisect_right(offsets, max(match.start, match.end - 1)) - 1
            hit = hits.setdefault(first, _Hit(first, last))
            hit.last = max(hit.last, last)
            hit.kinds.append(match.pattern.name)
            line_end = offsets[first] + len(run[first].text)
            hit.spans.append((match.start - offsets[first], min(match.end, line_end) - offsets[first]))
        findings += [_finding(diff.path, run, hit) for _, hit in sorted(hits.items())]
    return findings
