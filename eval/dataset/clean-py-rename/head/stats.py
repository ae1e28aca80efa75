"""Small statistics."""


def mean(values: list[float]) -> float:
    """The arithmetic mean of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    total = sum(values)
    return total / len(values)
