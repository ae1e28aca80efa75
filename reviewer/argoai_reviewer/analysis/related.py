"""Related code: the unchanged code each LLM call needs to judge its changed lines, within a token budget.

For the files of one call, from the head snapshot's :class:`~argoai_reviewer.index.code_index.CodeIndex`:

* **definitions** of the names the added lines use (calls, instantiations, types, values passed), found in
  *other* files: the definition's signature and body, trimmed to :attr:`RelatedLimits.max_snippet_lines`;
* **callers** of the definitions the change touches (their name or body has added lines) and of the ones it
  removes or renames (defined on a removed line, no longer defined in that file at head): each call site
  with a few lines around it. A caller still using a removed name is probably broken, so it ranks first.

Candidates are ranked by a score (what the change does to the name, how unambiguous the name is, how close
the other file is, whether the changed file mentions that file's module, tests last) and taken greedily
while they fit the call's and the review's budget (the policy's ``relatedContext``). Each snippet is cut
from the redacted text of its file and rendered with its path and line numbers, in a format distinct from
the diff's (``N | code``), so that it can never be mistaken for a commentable line. Pure computation over
the index: the caller runs it in a worker thread.
"""

from __future__ import annotations

import heapq
import math
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from argoai_core.redact import redact_keeping_lines
from argoai_reviewer.analysis.context import Batch, head_lines
from argoai_reviewer.analysis.diff import FileDiff
from argoai_reviewer.analysis.selection import is_test_path
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.index.cache import identifiers
from argoai_reviewer.index.code_index import CodeIndex, Located
from argoai_reviewer.index.languages import language_of
from argoai_reviewer.index.tags import extract_tags

DEFINITION, CALLER = "definition", "caller"
# How much each kind of use says about needing the definition.
_USE_WEIGHT = {"call": 1.0, "class": 0.9, "type": 0.7, "import": 0.6, "value": 0.4, "text": 0.3}
_CHANGE_WEIGHT = {"removed": 1.6, "signature": 1.2, "body": 0.6}
# Names found in more files than this are too common to look up everywhere: only the nearest files are.
_NEAREST_FILES = 12
_MAX_CALLERS_PER_NAME = 5
_MAX_TEXT_NAMES = 20
_MIN_TEXT_NAME = 4
# A name whose body changed and that appears in more files than this is too common (run, get, handle) for
# its callers to say anything about the change.
_COMMON_NAME_FILES = 50
# Kinds of definitions whose removal breaks callers. Removed lines are parsed out of their context, so an
# indented assignment may pass for a module constant: constants and fields are not trusted there.
_REMOVABLE = frozenset({"function", "method", "class", "interface", "type", "enum", "module"})
_DEFINITION_LINE = re.compile(
    r"\b(?:def|class|function|func|interface|type|struct|enum|fn|module|trait|record)\b"
    r"|=>|\)\s*(?:throws [\w., ]+)?\{"
)


@dataclass(frozen=True)
class RelatedLimits:
    """Budgets (tokens per call and per review) and the shape of snippets."""

    enabled: bool = True
    tokens_per_call: int = 4000
    tokens_per_review: int = 16000
    max_snippet_lines: int = 40
    caller_context: int = 3


@dataclass(frozen=True)
class Snippet:
    """One piece of unchanged code chosen for a call."""

    kind: str
    path: str
    start: int
    end: int
    name: str
    why: str
    score: float


@dataclass
class RelatedPlan:
    """The related code of each call (rendered, "" when none) and what the review was given in all."""

    texts: list[str]
    snippets: list[Snippet] = field(default_factory=list)
    tokens: int = 0

    @property
    def files(self) -> int:
        """Distinct files the snippets come from."""
        return len({snippet.path for snippet in self.snippets})


@dataclass(frozen=True)
class _Need:
    name: str
    kind: str  # a use kind (call, type...) or a change kind (removed, signature, body)
    path: str
    line: int


@lru_cache(maxsize=65536)
def _directories(path: str) -> tuple[str, ...]:
    return tuple(posixpath.dirname(path).split("/"))


def _proximity(a: str, b: str) -> int:
    """Shared leading directories of two paths (same directory: all of them)."""
    da, db = _directories(a), _directories(b)
    shared = 0
    for x, y in zip(da, db, strict=False):
        if x != y:
            break
        shared += 1
    return shared + (2 if da == db else 0)


def _module(path: str) -> str:
    stem = posixpath.splitext(posixpath.basename(path))[0]
    return posixpath.basename(posixpath.dirname(path)) if stem in ("__init__", "index", "mod") else stem


class _Finder:
    """Finds and ranks the related code of one review's calls."""

    def __init__(self, index: CodeIndex, diffs: Mapping[str, FileDiff], limits: RelatedLimits) -> None:
        self.index = index
        self.diffs = diffs
        self.limits = limits
        self._clean: dict[str, list[str]] = {}
        self._mentions: dict[str, set[str]] = {}
        # Lookups shared by every call of the review: where a name is defined, who uses a changed name.
        self.found: dict[str, list[str]] = {}
        self._defined: dict[str, list[Located]] = {}
        self._callers: dict[tuple[str, str], list[Located]] = {}

    def lines_of(self, path: str) -> list[str]:
        """The redacted lines of a file at head (redacted whole: a key block is known by its first line)."""
        if path not in self._clean:
            text = self.index.tree.read_text(path) or ""
            self._clean[path] = redact_keeping_lines("\n".join(head_lines(text))).split("\n")
        return self._clean[path]

    def mentions(self, path: str) -> set[str]:
        """Identifiers of a changed file (does it name another file's module, as an import would?)."""
        if path not in self._mentions:
            self._mentions[path] = identifiers(self.index.tree.read_text(path) or "")
        return self._mentions[path]

    def needs(self, path: str, added: frozenset[int], first_part: bool) -> list[_Need]:
        """What the added lines of ``path`` use, which definitions they change, which ones were removed."""
        tags = self.index.tags(path)
        out: list[_Need] = []
        if tags is None:
            text_lines = self.lines_of(path)
            words = sorted({w for n in added if n <= len(text_lines) for w in identifiers(text_lines[n - 1])})
            out += [_Need(w, "text", path, 0) for w in words if len(w) >= _MIN_TEXT_NAME][:_MAX_TEXT_NAMES]
            return out
        local = {tag.name for tag in tags.definitions}
        for tag in tags.references:
            if tag.line in added and tag.name not in local:
                out.append(_Need(tag.name, tag.kind, path, tag.line))
        for tag in tags.definitions:
            if tag.line in added or tag.start in added:
                out.append(_Need(tag.name, "signature", path, tag.line))
            elif any(n in added for n in range(tag.start, tag.end + 1)) and tag.kind != "class":
                out.append(_Need(tag.name, "body", path, tag.line))
        if first_part:
            out += [_Need(name, "removed", path, 0) for name in self.removed(path, local)]
        return out

    def removed(self, path: str, at_head: set[str]) -> list[str]:
        """Names defined on removed lines of ``path`` and no longer defined in it at head."""
        diff, language = self.diffs.get(path), language_of(path)
        if diff is None or language is None:
            return []
        names: list[str] = []
        for hunk in diff.hunks:
            old = [line for line in hunk.lines if line.kind != "+"]
            # Parse only hunks whose removed lines could hold a definition header.
            if not any(line.kind == "-" and _DEFINITION_LINE.search(line.text) for line in old):
                continue
            source = "\n".join(line.text for line in old).encode()
            for tag in extract_tags(language, source).definitions:
                if tag.kind not in _REMOVABLE or tag.line > len(old):
                    continue
                if old[tag.line - 1].kind == "-" and tag.name not in at_head and tag.name not in names:
                    names.append(tag.name)
        return names

    def nearest(self, files: Iterable[str], path: str) -> list[str]:
        """Candidate files other than ``path``, nearest first, at most a few when the name is common."""
        return heapq.nsmallest(
            _NEAREST_FILES, (f for f in files if f != path), key=lambda f: (-_proximity(f, path), f)
        )

    def definitions(self, name: str, path: str) -> list[Located]:
        """Definitions of ``name`` outside ``path`` (looked up once per review)."""
        if name not in self._defined:
            likely = self.index.likely_definers(name, self.found.get(name, []))
            self._defined[name] = self.index.definitions(name, in_files=self.nearest(likely, path))
        return [where for where in self._defined[name] if where.path != path]

    def callers(self, need: _Need) -> list[Located]:
        """Uses of a changed name in the files nearest to the change (looked up once per review)."""
        key = (need.name, need.path)
        if key not in self._callers:
            files = self.nearest(self.found.get(need.name, []), need.path)
            self._callers[key] = self.index.references(need.name, in_files=files)
        # Importers matter when the name is gone (the import breaks); otherwise the calls do.
        return [r for r in self._callers[key] if r.tag.kind != "import" or need.kind == "removed"]

    def candidates(self, needs: Sequence[_Need]) -> list[Snippet]:
        """Every snippet worth showing for ``needs``, scored."""
        out: list[Snippet] = []
        uses: dict[tuple[str, str], list[_Need]] = {}
        for need in needs:
            if need.kind in _USE_WEIGHT:
                uses.setdefault((need.name, need.path), []).append(need)
        for (name, path), group in uses.items():
            definitions = self.definitions(name, path)
            for where in definitions:
                out.append(self._definition(where, group, len(definitions)))
        for need in needs:
            if need.kind == "body" and len(self.found.get(need.name, [])) > _COMMON_NAME_FILES:
                continue
            if need.kind in _CHANGE_WEIGHT:
                for rank, where in enumerate(self.callers(need)[:_MAX_CALLERS_PER_NAME]):
                    out.append(self._caller(where, need, rank))
        return out

    def _definition(self, where: Located, uses: list[_Need], ambiguity: int) -> Snippet:
        # The use to cite: the most telling (a call over an import), the first of those.
        tag, first = where.tag, max(uses, key=lambda use: (_USE_WEIGHT[use.kind], -use.line))
        weight = max(_USE_WEIGHT[use.kind] for use in uses)
        score = 10 * weight / ambiguity + min(3, len(uses)) + _proximity(where.path, first.path)
        if _module(where.path) in self.mentions(first.path):
            score += 3
        if is_test_path(where.path) and not is_test_path(first.path):
            score -= 6
        # Signature and body, trimmed; a class shows its first lines (name, bases, first members).
        end = min(tag.end, tag.start + self.limits.max_snippet_lines - 1)
        at = f" at {first.path}:{first.line}" if first.line else f" in {first.path}"
        why = f"definition of `{tag.name}` ({tag.kind}), used by the change{at}"
        return Snippet(DEFINITION, where.path, tag.start, end, tag.name, why, score)

    def _caller(self, where: Located, need: _Need, rank: int) -> Snippet:
        what = {"removed": "removes or renames", "signature": "changes", "body": "changes the body of"}
        score = 8 * _CHANGE_WEIGHT[need.kind] / math.sqrt(rank + 1) + _proximity(where.path, need.path)
        if is_test_path(where.path):
            score -= 3
        line, reach = where.tag.line, self.limits.caller_context
        why = f"uses `{need.name}`, which this change {what[need.kind]} in {need.path}"
        return Snippet(CALLER, where.path, max(1, line - reach), line + reach, need.name, why, score)

    def render(self, snippet: Snippet) -> str:
        """The snippet as the prompt shows it: a header, then ``N | code`` rows."""
        lines = self.lines_of(snippet.path)
        end = min(snippet.end, len(lines))
        width = len(str(end))
        rows = [f"{n:>{width}} | {lines[n - 1]}" for n in range(snippet.start, end + 1)]
        header = f"--- {snippet.path} lines {snippet.start}-{end} (unchanged) — {snippet.why}"
        return "\n".join([header, *rows])


def _overlaps(chosen: Sequence[Snippet], candidate: Snippet) -> bool:
    return any(
        s.path == candidate.path and s.start <= candidate.end and candidate.start <= s.end for s in chosen
    )


def find_related(
    index: CodeIndex,
    batches: Sequence[Batch],
    diffs: Mapping[str, FileDiff],
    counter: TokenCounter,
    limits: RelatedLimits,
) -> RelatedPlan:
    """The related code of each of ``batches``, best first, within ``limits``' budgets."""
    plan = RelatedPlan(texts=["" for _ in batches])
    if not limits.enabled or limits.tokens_per_call <= 0 or limits.tokens_per_review <= 0:
        return plan
    finder = _Finder(index, diffs, limits)
    changed_paths = set(diffs)
    wanted = [
        [
            need
            for block in batch.files
            if index.tree.digest(block.path) is not None
            for need in finder.needs(block.path, block.added, block.part == 1)
        ]
        for batch in batches
    ]
    # One pass over the repository's identifiers for every name of every call.
    finder.found = index.files_with({need.name for needs in wanted for need in needs})
    for position, (batch, needs) in enumerate(zip(batches, wanted, strict=True)):
        if not needs:
            continue
        ranked = sorted(finder.candidates(needs), key=lambda s: (-s.score, s.path, s.start))
        chosen: list[Snippet] = []
        texts: list[str] = []
        left = min(limits.tokens_per_call, limits.tokens_per_review - plan.tokens)
        for snippet in ranked:
            if left <= 0:
                break
            # Code this call shows as its own diff needs no second copy.
            if snippet.path in changed_paths and any(b.path == snippet.path for b in batch.files):
                continue
            if snippet.score <= 0 or _overlaps(chosen, snippet):
                continue
            text = finder.render(snippet)
            cost = counter.count(text) + 2
            if cost > left:
                continue
            chosen.append(snippet)
            texts.append(text)
            left -= cost
            plan.tokens += cost
        plan.texts[position] = "\n\n".join(texts)
        plan.snippets += chosen
    return plan
