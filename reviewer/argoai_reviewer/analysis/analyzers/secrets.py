"""Built-in analyzer ``secrets``: credentials added by the change, found with the shared patterns of
:mod:`argoai_core.redact`. Rule ids are the pattern names as slugs (``aws-access-key-id``, ``github-token``…).

A finding names the kind of credential and never repeats it. It sits on the one line where the credential
starts (a key block: its ``BEGIN`` line), and its ``quote`` is a secret-free piece of that line: the text
before the secret value (``password = "``, ``-----BEGIN RSA PRIVATE KEY-----``), else the text after it.
Anchoring accepts a one-line quote contained in the line when it has at least 8 non-blank characters, so
such a finding is placed exactly on its line. When the line has no such piece (a bare token alone on its
line) the quote is the line with the secret replaced by ``[REDACTED]``: it cannot be anchored and becomes a
note in the review's summary instead of an inline comment, which is still better than echoing the secret.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from argoai_core.models.findings import Category, Severity, ToolFinding
from argoai_core.redact import find_secret_spans, find_secrets, redact
from argoai_reviewer.analysis.analyzers.lines import added_runs, slug
from argoai_reviewer.analysis.diff import DiffLine, FileDiff

# Formats that are credentials by their shape; the rest ("password = '…'", "token …") are guesses from a name.
_GENERIC = frozenset({"password assignment", "bearer credential"})
# Non-blank characters a one-line quote needs for anchoring to find it inside a line (anchoring.MIN_FRAGMENT).
_ANCHORABLE = 8


@dataclass
class _Hit:
    first: int
    kinds: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


def _quote(line: str, spans: list[tuple[int, int]]) -> str:
    """A secret-free piece of ``line`` long enough to anchor: before the first secret, else after the last."""
    before = line[: min(start for start, _ in spans)].strip()
    after = line[max(end for _, end in spans) :].strip()
    pieces = [piece for piece in (before, after) if piece and not find_secrets(piece)]
    for piece in pieces:
        if len("".join(piece.split())) >= _ANCHORABLE:
            return piece
    return redact(line).strip() or "[REDACTED]"


def _finding(path: str, run: list[DiffLine], hit: _Hit) -> ToolFinding:
    kinds = list(dict.fromkeys(hit.kinds))
    first = run[hit.first]
    assert first.new is not None
    what = " and ".join(kinds)
    generic = all(kind in _GENERIC for kind in kinds)
    return ToolFinding(
        tool=NAME,
        rule=slug(kinds[0]),
        path=path,
        start_line=first.new,
        end_line=first.new,
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


NAME = "secrets"


def secret_findings(diff: FileDiff) -> list[ToolFinding]:
    """One finding per added line where a credential starts (a key block: on its first line)."""
    findings = []
    for run in added_runs(diff):
        text = "\n".join(line.text for line in run)
        offsets = [0]
        for line in run[:-1]:
            offsets.append(offsets[-1] + len(line.text) + 1)
        hits: dict[int, _Hit] = {}
        for match in find_secret_spans(text):
            first = bisect_right(offsets, match.start) - 1
            hit = hits.setdefault(first, _Hit(first))
            hit.kinds.append(match.pattern.name)
            line_end = offsets[first] + len(run[first].text)
            hit.spans.append((match.start - offsets[first], min(match.end, line_end) - offsets[first]))
        findings += [_finding(diff.path, run, hit) for _, hit in sorted(hits.items())]
    return findings


class SecretsAnalyzer:
    """The ``secrets`` built-in analyzer."""

    name = NAME

    def check(self, diff: FileDiff) -> list[ToolFinding]:
        """Credentials added by ``diff``."""
        return secret_findings(diff)
