"""The lease renewal loop: renews on schedule, stops when the lease is lost, always ends with its block."""

from __future__ import annotations

import asyncio

import pytest

from argoai_core.errors import UnavailableError
from argoai_core.leases import kept_alive


class Lease:
    """Counts renewals; answers what the test scripts."""

    def __init__(self, answers: list[bool | Exception] | None = None) -> None:
        self.calls = 0
        self._answers = list(answers or [])

    async def extend(self) -> bool:
        self.calls += 1
        answer = self._answers.pop(0) if self._answers else True
        if isinstance(answer, Exception):
            raise answer
        return answer


async def test_renews_every_period_while_the_block_runs() -> None:
    """A block lasting a little over five periods renews the lease five times, and none after it ends."""
    lease = Lease()
    async with kept_alive(lease.extend, 0.02, what="a test lease"):
        await asyncio.sleep(0.11)
    renewed = lease.calls
    await asyncio.sleep(0.06)
    assert 4 <= renewed <= 6
    assert lease.calls == renewed


async def test_stops_renewing_once_the_lease_is_lost() -> None:
    """When extend reports the lease is no longer ours, the loop stops trying."""
    lease = Lease([True, False])
    async with kept_alive(lease.extend, 0.01, what="a test lease"):
        await asyncio.sleep(0.08)
    assert lease.calls == 2


async def test_keeps_renewing_through_an_outage_of_the_store() -> None:
    """A renewal that fails with UnavailableError is followed by the next one."""
    lease = Lease([UnavailableError("Redis down"), UnavailableError("Redis down"), True])
    async with kept_alive(lease.extend, 0.01, what="a test lease"):
        await asyncio.sleep(0.08)
    assert lease.calls >= 4


async def test_the_block_ends_when_a_renewal_swallows_its_cancellation() -> None:
    """A renewal that eats its CancelledError (as a library's timeout can) does not keep the block open."""
    started = asyncio.Event()
    swallowed: list[bool] = []

    async def swallowing_extend() -> bool:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            if swallowed:
                raise  # only the first: so that a failing run can still be torn down
            swallowed.append(True)  # the library turns the cancellation into a result, as redis-py's can
        return True

    async def hold() -> None:
        async with kept_alive(swallowing_extend, 0.01, what="a test lease"):
            await started.wait()

    holder = asyncio.create_task(hold())
    done, _ = await asyncio.wait({holder}, timeout=2)
    assert holder in done, "the block was still waiting for its renewal loop 2 s after it ended"


async def test_an_error_of_the_block_propagates() -> None:
    """The renewal loop does not hide the block's own failure."""
    lease = Lease()
    with pytest.raises(ValueError, match="boom"):
        async with kept_alive(lease.extend, 0.01, what="a test lease"):
            raise ValueError("boom")
