"""Totals of a report given as rows of numbers."""


def total(rows: list[list[float]]) -> float:
    """The sum of every value of every data row (row 0 is the header)."""
    result = 0.0
    for index in range(2, len(rows)):
        result += sum(rows[index])
    return result
