"""What core's NATS connection log writes for a sequence of connection events, on a controlled clock."""

from __future__ import annotations

import itertools
from typing import Any

from structlog.testing import capture_logs

from argoai_core.adapters.connection_log import ConnectionLog

URL = "nats://nats.example:4222"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def events(logs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(level, event) of each captured line."""
    return [(line["log_level"], line["event"]) for line in logs]


def test_an_outage_is_one_warning_repeated_after_5_10_20_seconds_then_one_info_line() -> None:
    """Never connected, attempts failing every 0.5 s for 40 s: warnings at 0, 5, 15 and 35 s (backoff),
    not one per attempt; then one info line with the outage's length and attempt count."""
    clock = Clock()
    state = ConnectionLog(URL, "argoai-gateway", clock=clock)
    with capture_logs() as logs:
        for _ in range(81):
            state.failed(ConnectionRefusedError(111, "Connection refused"))
            clock.now += 0.5
        state.connected("nats://10.0.0.7:4222")
    assert events(logs) == [("warning", "nats_unreachable")] + [("warning", "nats_still_unreachable")] * 3 + [
        ("info", "nats_connected")
    ]
    assert logs[0]["url"] == URL
    assert logs[0]["error"] == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert [line["down_seconds"] for line in logs[1:4]] == [5.0, 15.0, 35.0]
    assert [line["next_warning_in"] for line in logs[1:4]] == [10.0, 20.0, 40.0]
    assert logs[4]["url"] == "nats://10.0.0.7:4222"
    assert logs[4]["failed_attempts"] == 81
    assert logs[4]["down_seconds"] == 40.5


def test_repeats_are_capped_at_five_minutes() -> None:
    """A day-long outage is warned about at most every 300 s."""
    clock = Clock()
    state = ConnectionLog(URL, "argoai-reviewer", clock=clock)
    with capture_logs() as logs:
        for _ in range(24 * 3600):
            state.failed(TimeoutError())
            clock.now += 1
    gaps = {later["down_seconds"] - earlier["down_seconds"] for earlier, later in itertools.pairwise(logs)}
    assert max(gaps) == 300
    assert len(logs) < 24 * 3600 / 300 + 10
    assert logs[0]["error"] == "TimeoutError"


def test_a_dropped_connection_back_within_a_second_is_two_info_lines() -> None:
    """A cluster node going away (the client reconnects to another at once): info lines, no warning."""
    clock = Clock()
    state = ConnectionLog(URL, "argoai-gateway", clock=clock)
    with capture_logs() as logs:
        state.connected("nats://a:4222")
        state.dropped(EOFError("unexpected EOF"))
        state.dropped()  # the disconnect callback that follows the error: same drop
        clock.now += 0.2
        state.failed(ConnectionRefusedError(111, "Connection refused"))
        clock.now += 0.1
        state.connected("nats://b:4222")
    assert events(logs) == [
        ("info", "nats_connected"),
        ("info", "nats_disconnected"),
        ("info", "nats_reconnected"),
    ]
    assert logs[1]["error"] == "EOFError: unexpected EOF"
    assert logs[2]["failed_attempts"] == 2


def test_a_dropped_connection_not_back_within_a_second_is_an_outage() -> None:
    """Dropped, and still failing after a second: the outage warning comes then, and repeats with backoff."""
    clock = Clock()
    state = ConnectionLog(URL, "argoai-operator", clock=clock)
    with capture_logs() as logs:
        state.connected("nats://a:4222")
        state.dropped()
        for _ in range(14):
            clock.now += 0.5
            state.failed(TimeoutError())
    assert events(logs) == [
        ("info", "nats_connected"),
        ("info", "nats_disconnected"),
        ("warning", "nats_unreachable"),
        ("warning", "nats_still_unreachable"),
    ]
    assert logs[2]["down_seconds"] == 1.0
    assert logs[3]["down_seconds"] == 6.0


def test_other_errors_while_connected_are_one_line_per_kind_per_minute() -> None:
    """Errors that do not end the connection (a slow consumer…) are logged, at most once a minute each."""
    clock = Clock()
    state = ConnectionLog(URL, "argoai-reviewer", clock=clock)
    with capture_logs() as logs:
        state.connected("nats://a:4222")
        for _ in range(100):
            state.other_error(RuntimeError("slow consumer"))
            state.other_error(PermissionError("permissions violation"))
            clock.now += 1
    assert events(logs) == [("info", "nats_connected")] + [("warning", "nats_error")] * 4
    assert [line["error"] for line in logs[1:]] == [
        "RuntimeError: slow consumer",
        "PermissionError: permissions violation",
        "RuntimeError: slow consumer",
        "PermissionError: permissions violation",
    ]
