"""Small statistics."""


def mean(xs: list[float]) -> float:
    """The arithmetic mean of ``xs`` (0 when empty)."""
    if not xs:
        return 0.0
    t = sum(xs)
    return t / len(xs)
