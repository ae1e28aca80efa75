"""Match a review's findings to a case's golden comments.

A golden comment with a location matches a finding on the same file whose lines, widened by the line window,
cover the golden line (a golden comment with a path and no line: any finding on that file). A golden comment
without a path is given to the judge (:mod:`.judge`) with every finding, when one is configured; without a
judge it stays unmatched, and the report says how many were left to a judge.

Scoring is by counts: a finding is a true positive when it matches some golden comment; a golden comment is
found when some finding matches it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from argoai_core.models.findings import Severity, ToolFinding
from argoai_reviewer.analysis.anchoring import Anchored, Placement
from argoai_reviewer.evaluation.dataset import GoldenComment

DEFAULT_LINE_WINDOW = 5


@dataclass(frozen=True)
class Candidate:
    """A finding as the evaluation sees it: where it sits and what it says."""

    path: str
    start: int
    end: int
    title: str
    body: str
    severity: Severity
    source: str  # "llm", or the analyzer's name

    @classmethod
    def of(cls, placement: Placement) -> Candidate:
        """The candidate of a placed finding (anchored: its placed lines; else the lines the model cited)."""
        finding = placement.finding
        if isinstance(placement, Anchored):
            start, end = placement.start, placement.end
        else:
            start, end = finding.start_line, finding.end_line
        return cls(
            path=placement.path,
            start=start,
            end=end,
            title=finding.title,
            body=finding.body,
            severity=finding.severity,
            source=finding.tool if isinstance(finding, ToolFinding) else "llm",
        )


class Judge(Protocol):
    """Decides which findings report the problem a golden comment describes (for comments without a place)."""

    async def matches(self, golden: GoldenComment, candidates: Sequence[Candidate]) -> set[int]:
        """Indexes into ``candidates`` of the findings that report ``golden``'s problem."""
        ...


@dataclass
class Matching:
    """Which golden comment each finding matched (finding index → golden indexes)."""

    goldens: list[GoldenComment]
    candidates: list[Candidate]
    pairs: set[tuple[int, int]] = field(default_factory=set)  # (candidate, golden)
    judged: int = 0  # golden comments decided by the judge
    unjudged: int = 0  # golden comments without a location and no judge to decide them

    @property
    def true_positives(self) -> int:
        """Findings that match some golden comment."""
        return len({candidate for candidate, _ in self.pairs})

    @property
    def found(self) -> int:
        """Golden comments some finding matches."""
        return len({golden for _, golden in self.pairs})

    def missed(self) -> list[GoldenComment]:
        """Golden comments no finding matches."""
        hit = {golden for _, golden in self.pairs}
        return [g for index, g in enumerate(self.goldens) if index not in hit]

    def extra(self) -> list[Candidate]:
        """Findings that match no golden comment (false positives)."""
        hit = {candidate for candidate, _ in self.pairs}
        return [c for index, c in enumerate(self.candidates) if index not in hit]


def located_match(golden: GoldenComment, candidate: Candidate, window: int) -> bool:
    """Whether ``candidate`` sits where ``golden`` says the problem is (same file, line within the window)."""
    if golden.path is None or golden.path != candidate.path:
        return False
    if golden.line is None:
        return True
    return candidate.start - window <= golden.line <= candidate.end + window


async def match(
    goldens: Sequence[GoldenComment],
    candidates: Sequence[Candidate],
    *,
    window: int = DEFAULT_LINE_WINDOW,
    judge: Judge | None = None,
) -> Matching:
    """Match ``candidates`` to ``goldens``: by place when the golden comment has one, else by the judge."""
    result = Matching(goldens=list(goldens), candidates=list(candidates))
    for g, golden in enumerate(goldens):
        if golden.path is not None:
            result.pairs.update(
                (c, g) for c, cand in enumerate(candidates) if located_match(golden, cand, window)
            )
        elif judge is None:
            result.unjudged += 1
        elif candidates:
            result.judged += 1
            chosen = await judge.matches(golden, candidates)
            result.pairs.update((c, g) for c in chosen if 0 <= c < len(candidates))
        else:
            result.judged += 1
    return result
