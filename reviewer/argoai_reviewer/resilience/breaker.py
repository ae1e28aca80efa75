"""Circuit breakers: one per dependency (an LLM provider and base URL, a GitHub host), shared by every pod.

States, kept in a :class:`BreakerStore` (Redis in production) so that every pod sees the same:

* **closed**: calls go through. Each failed call (after its own retries: 5xx, timeouts, overload, 429 past
  its retry-after) adds one to a failure count; a successful call clears it. ``failures`` in a row, each
  within ``window`` of the previous, open the breaker.
* **open**: calls fail at once with :class:`~argoai_core.errors.CircuitOpenError` without touching the
  dependency. Reviews that hit it wait (:meth:`Breakers.wait_out`) instead of going back to the queue.
* **probing**: every ``probe`` seconds one caller (a waiting review, or any call) wins the probe lease and
  its calls go through: its success closes the breaker for everyone; its failure keeps it open for another
  ``probe`` seconds. Waiting reviews poll every ``poll`` seconds, so they resume within ``poll`` of the
  probe's success.

A review waits at most until the breaker has been open ``tolerance`` seconds; after that its failures count
against its deliveries again (an outage that long is reported by dead letters and failure comments).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from argoai_core.errors import CircuitOpenError, RetryableError, UnavailableError
from argoai_core.logs import get_logger
from argoai_reviewer.metrics import CIRCUIT_OPEN, CIRCUIT_OPENED
from argoai_reviewer.settings import ReviewerSettings

log = get_logger(__name__)

# The circuits whose probe lease the current task holds: its calls to them go through while they are open.
_PROBING: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "argoai_probing", default=frozenset()
)


@dataclass(frozen=True)
class CircuitState:
    """What the store says about one circuit; ``opened_at``/``retry_at`` are Unix times (None: closed)."""

    failures: int = 0
    opened_at: float | None = None
    retry_at: float | None = None

    @property
    def open(self) -> bool:
        """Whether the breaker is open (or probing)."""
        return self.opened_at is not None


class BreakerStore(Protocol):
    """Where the breakers' state lives, shared by every pod. Raises UnavailableError when unreachable."""

    async def state(self, circuit: str) -> CircuitState:
        """The circuit's current state (closed with no failures when unknown)."""
        ...

    async def failed(
        self,
        circuit: str,
        *,
        threshold: int,
        now: float,
        retry_at: float,
        window_seconds: float,
        open_seconds: float,
    ) -> CircuitState:
        """Count one failure, atomically: open the circuit (``opened_at=now``) when the count reaches
        ``threshold``; when it is already open, push ``retry_at`` and free the probe lease. A closed
        circuit's failures are forgotten ``window_seconds`` after the last one, an open circuit's record
        ``open_seconds`` after it (so a breaker nobody probes any more does not stay open for ever)."""
        ...

    async def succeeded(self, circuit: str) -> bool:
        """Close the circuit and clear its failures; whether it was open."""
        ...

    async def claim_probe(self, circuit: str, ttl_seconds: float) -> bool:
        """Take the circuit's probe lease for ``ttl_seconds`` unless another caller holds it."""
        ...


@dataclass(frozen=True)
class BreakerOptions:
    """The breakers' thresholds and timings (``ARGOAI_REVIEWER_BREAKER_*``)."""

    failures: int = 5
    window: float = 120.0
    probe: float = 15.0
    poll: float = 2.0
    tolerance: float = 6 * 3600.0

    @classmethod
    def from_settings(cls, settings: ReviewerSettings) -> BreakerOptions:
        """The options of ``settings``."""
        return cls(
            failures=settings.breaker_failures,
            window=settings.breaker_window_seconds,
            probe=settings.breaker_probe_seconds,
            poll=settings.breaker_poll_seconds,
            tolerance=settings.outage_tolerance_seconds,
        )

    @property
    def probe_lease(self) -> float:
        """How long one caller holds the probe: a probe that hangs, or a probing review that ends without
        calling the dependency (its pull request closed meanwhile), delays the next probe by at most this."""
        return max(30.0, 2 * self.probe)


def counts_as_outage(error: BaseException) -> bool:
    """Whether a failed call says the dependency is down (not that the request or the job was wrong)."""
    return isinstance(error, RetryableError) and not isinstance(error, CircuitOpenError)


class Circuit:
    """One dependency's breaker, as a process sees it: a cached view of the shared state (refreshed at most
    every ``poll`` seconds) so that a healthy dependency costs no store round trip per call."""

    def __init__(
        self,
        name: str,
        store: BreakerStore,
        options: BreakerOptions,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self._store = store
        self._options = options
        self._clock = clock
        self._state = CircuitState()
        self._read_at = float("-inf")
        CIRCUIT_OPEN.labels(circuit=name).set(0)

    def _remember(self, state: CircuitState) -> CircuitState:
        self._state = state
        self._read_at = time.monotonic()
        CIRCUIT_OPEN.labels(circuit=self.name).set(1 if state.open else 0)
        return state

    async def state(self, *, fresh: bool = False) -> CircuitState:
        """The shared state, from the cache when it is younger than ``poll`` seconds (unless ``fresh``)."""
        if fresh or time.monotonic() - self._read_at >= self._options.poll:
            return self._remember(await self._store.state(self.name))
        return self._state

    def _open_error(self, state: CircuitState) -> CircuitOpenError:
        wait = max(0.0, (state.retry_at or self._clock()) - self._clock())
        return CircuitOpenError(
            f"{self.name} is unavailable (circuit breaker open); next probe in {wait:.0f}s",
            circuit=self.name,
            delay=max(self._options.poll, wait),
        )

    async def before_call(self) -> None:
        """Let a call through, or raise CircuitOpenError while the breaker is open and this is no probe."""
        state = await self.state()
        if not state.open or self.name in _PROBING.get():
            return
        due = state.retry_at is not None and self._clock() >= state.retry_at
        if due and await self._store.claim_probe(self.name, self._options.probe_lease):
            _PROBING.set(_PROBING.get() | {self.name})
            log.info("probing an open circuit", circuit=self.name)
            return
        raise self._open_error(state)

    async def succeeded(self) -> None:
        """Record a successful call: clears the failures (closes the breaker) when there were any."""
        if self._state.failures or self._state.open or self.name in _PROBING.get():
            was_open = await self._store.succeeded(self.name)
            self._remember(CircuitState())
            if was_open:
                log.warning("circuit closed: the dependency answers again", circuit=self.name)

    async def failed(self, error: BaseException) -> BaseException:
        """Record a failed call; the error to raise (CircuitOpenError once the breaker is open)."""
        if not counts_as_outage(error):
            return error
        now = self._clock()
        try:
            state = await self._store.failed(
                self.name,
                threshold=self._options.failures,
                now=now,
                retry_at=now + self._options.probe,
                window_seconds=self._options.window,
                open_seconds=self._options.tolerance + self._options.probe_lease,
            )
        except UnavailableError as exc:
            log.warning(
                "could not record a failure in the circuit breaker", circuit=self.name, error=str(exc)
            )
            return error
        was_open = self._state.open
        self._remember(state)
        _PROBING.set(_PROBING.get() - {self.name})
        if not state.open:
            return error
        if not was_open and state.opened_at == now:
            CIRCUIT_OPENED.labels(circuit=self.name).inc()
            log.error(
                "circuit opened: calls stop until a probe succeeds", circuit=self.name, error=str(error)
            )
        opened = self._open_error(state)
        opened.__cause__ = error
        return opened


class Breakers:
    """The process's circuits by name, and the wait of a review whose circuit is open."""

    def __init__(
        self, store: BreakerStore, options: BreakerOptions, clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self._options = options
        self._clock = clock
        self._circuits: dict[str, Circuit] = {}

    def circuit(self, name: str) -> Circuit:
        """The circuit called ``name`` (created on first use)."""
        if name not in self._circuits:
            self._circuits[name] = Circuit(name, self._store, self._options, self._clock)
        return self._circuits[name]

    async def wait_out(self, circuit: str) -> bool:
        """Wait while ``circuit`` is open; True to try the job again (closed, or this task holds the probe
        lease), False when it has been open longer than the tolerance (the job is retried as usual)."""
        breaker = self.circuit(circuit)
        _PROBING.set(_PROBING.get() - {circuit})
        while True:
            try:
                state = await breaker.state(fresh=True)
            except UnavailableError as exc:
                # The store is down too: keep waiting rather than spend a delivery on it.
                log.warning("could not read the circuit breaker", circuit=circuit, error=str(exc))
                await asyncio.sleep(self._options.poll)
                continue
            if not state.open:
                return True
            now = self._clock()
            opened_at = state.opened_at if state.opened_at is not None else now
            if now - opened_at >= self._options.tolerance:
                log.error("outage longer than the tolerance: retrying as usual", circuit=circuit)
                return False
            if state.retry_at is not None and now >= state.retry_at:
                try:
                    claimed = await self._store.claim_probe(circuit, self._options.probe_lease)
                except UnavailableError:
                    claimed = False
                if claimed:
                    _PROBING.set(_PROBING.get() | {circuit})
                    log.info("this review probes the open circuit", circuit=circuit)
                    return True
            await asyncio.sleep(self._options.poll)
