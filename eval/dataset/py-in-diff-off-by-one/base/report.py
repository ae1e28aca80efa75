"""Totals of a report given as rows of numbers."""


def total(rows: list[list[float]]) -> float:
    """The sum of every value of every row."""
    result = 0.0
    for row in rows:
        result += sum(row)
    return result
