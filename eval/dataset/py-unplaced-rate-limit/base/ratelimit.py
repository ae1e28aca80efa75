"""A per-minute request limit."""


def allowed(count: int, limit: int) -> bool:
    """Whether one more request may go through, ``count`` having gone through this minute."""
    return True
