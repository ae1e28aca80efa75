"""Handing free heap memory back to the system (``runtime/memory.py``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A heap full of holes, as concurrent reviews leave it: 1,200 blocks of 64 KB (below glibc's mmap threshold,
# so they come from the heap), every other one freed. The holes are not at the top, so glibc keeps them.
_FRAGMENT_AND_TRIM = textwrap.dedent(
    """
    import asyncio, sys
    from argoai_reviewer.runtime.memory import trim_heaps_every

    def rss_mb():
        with open("/proc/self/status") as status:
            return int(status.read().split("VmRSS:")[1].split()[0]) / 1024

    blocks = [bytearray(64 * 1024) for _ in range(1200)]
    del blocks[::2]
    before = rss_mb()

    async def run_for(seconds, interval):
        task = asyncio.create_task(trim_heaps_every(interval))
        await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(run_for(float(sys.argv[1]), 0.2))
    print(before, rss_mb(), len(blocks))
    """
)


def _rss_before_after(seconds: float) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", _FRAGMENT_AND_TRIM, str(seconds)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    before, after, kept = done.stdout.split()
    assert kept == "600"
    return float(before), float(after)


def test_the_free_holes_of_a_fragmented_heap_go_back_to_the_system_within_one_interval() -> None:
    """After one trim interval the ~37 MB of freed 64 KB blocks no longer count in the process's RSS."""
    before, after = _rss_before_after(0.5)
    assert before - after > 25, (before, after)


def test_without_trimming_the_holes_stay_in_the_process() -> None:
    """The control: glibc by itself keeps the freed blocks (so the test above measures the trimming)."""
    before, after = _rss_before_after(0.0)
    assert before - after < 5, (before, after)
