"""Freeze a server process for a test, and know it is frozen before going on.

``kill -STOP`` returns before the target has stopped: its threads stop when they are next scheduled, which on
a loaded machine can be after the test's next request was already served. :func:`freeze` waits until every
thread of the process shows the stopped state in /proc.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def _all_stopped(pid: int) -> bool:
    tasks = Path(f"/proc/{pid}/task")
    states = []
    for task in tasks.iterdir():
        # The state follows the command name, which is in parentheses and may itself contain spaces.
        stat = (task / "stat").read_text()
        states.append(stat.rsplit(")", 1)[1].split()[0])
    return bool(states) and all(state in ("T", "t") for state in states)


def freeze(pid: int, timeout: float = 5.0) -> None:
    """SIGSTOP ``pid`` and return once all its threads are stopped."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while not _all_stopped(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} did not stop within {timeout} s")
        time.sleep(0.005)


def thaw(pid: int) -> None:
    """SIGCONT ``pid``."""
    os.kill(pid, signal.SIGCONT)
