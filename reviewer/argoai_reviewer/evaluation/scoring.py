"""Precision, recall and F1 from counts, per case and pooled over cases (micro-averaged).

A ratio without a denominator (no finding, or no golden comment) is None: a clean case reviewed without a
finding has no precision to speak of, and it is shown as such rather than as 0 or 1.
"""

from __future__ import annotations

from pydantic import BaseModel


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when ``whole`` is 0."""
    return part / whole if whole else None


class Scores(BaseModel):
    """The counts of a case or a total, and the ratios made from them."""

    findings: int = 0
    true_positives: int = 0
    goldens: int = 0
    found: int = 0

    @property
    def precision(self) -> float | None:
        """Findings that match a golden comment, over all findings."""
        return ratio(self.true_positives, self.findings)

    @property
    def recall(self) -> float | None:
        """Golden comments found, over all golden comments."""
        return ratio(self.found, self.goldens)

    @property
    def f1(self) -> float | None:
        """The harmonic mean of precision and recall (None when either is undefined; 0 when both are 0)."""
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def __add__(self, other: Scores) -> Scores:
        return Scores(
            findings=self.findings + other.findings,
            true_positives=self.true_positives + other.true_positives,
            goldens=self.goldens + other.goldens,
            found=self.found + other.found,
        )
