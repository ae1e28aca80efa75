"""The gateway's log throttle: the first occurrence, then one per interval, counting the ones held back."""

from __future__ import annotations

from argoai_gateway.throttle import Throttle


def test_first_then_one_per_interval_with_the_count_held_back() -> None:
    """Occurrences every 0.5 s with a 10 s interval: lines at 0, 10 and 20 s, each saying 19 were held."""
    now = [0.0]
    throttle = Throttle(10.0, clock=lambda: now[0])
    allowed = []
    for step in range(41):
        now[0] = step * 0.5
        held = throttle.allow()
        if held is not None:
            allowed.append((now[0], held))
    assert allowed == [(0.0, 0), (10.0, 19), (20.0, 19)]
