"""A NATS connection's state as a person reading the logs needs it, the same in every component.

nats-py reports every failed connection attempt (one every ``reconnect_time_wait`` per server, forever) and
every drop; logging each would bury the logs during an outage, and logging none leaves an operator guessing
why the gateway answers 503. :class:`ConnectionLog` turns those callbacks into:

* one warning when NATS is unreachable (naming the URL without credentials, and the reason), the same warning
  again after 5 s, 10 s, 20 s… (at most every 5 minutes) while it stays so, and one info line when the
  connection is made or back;
* a dropped connection that comes back within DROP_GRACE_SECONDS (another server of the cluster took over)
  is two info lines, not a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from argoai_core.logs import get_logger

log = get_logger(__name__)

FIRST_REPEAT_SECONDS = 5.0
MAX_REPEAT_SECONDS = 300.0
# A connection that dropped and is not back after this long is an outage (warning), not a failover.
DROP_GRACE_SECONDS = 1.0
# Errors reported while connected (slow consumer, a server -ERR…): one line per kind per this many seconds.
OTHER_ERROR_SECONDS = 60.0


def describe(error: BaseException | None) -> str:
    """``Type: message`` of ``error`` (the type alone when the message is empty)."""
    if error is None:
        return "connection lost"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class ConnectionLog:
    """Logs the state changes of one NATS connection (``url`` must carry no credentials)."""

    def __init__(
        self,
        url: str,
        client: str,
        *,
        first_repeat: float = FIRST_REPEAT_SECONDS,
        max_repeat: float = MAX_REPEAT_SECONDS,
        drop_grace: float = DROP_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.client = client
        self._first_repeat = first_repeat
        self._max_repeat = max_repeat
        self._drop_grace = drop_grace
        self._clock = clock
        self._ever_connected = False
        self._down_since: float | None = None
        self._failures = 0
        self._warned = False
        self._repeat = first_repeat
        self._next_warning = 0.0
        self._other_errors: dict[str, float] = {}

    @property
    def down(self) -> bool:
        """Whether the connection is currently lost (or was never made)."""
        return self._down_since is not None

    def dropped(self, error: BaseException | None = None) -> None:
        """The established connection was lost (``error``: why, when known)."""
        if self._down_since is None:
            self.failed(error)

    def failed(self, error: BaseException | None) -> None:
        """A connection attempt failed, or the connection dropped (``error`` None: no reason known)."""
        now = self._clock()
        if self._down_since is None:
            self._down_since = now
            self._failures = 1
            self._warned = False
            if self._ever_connected:
                log.info("nats_disconnected", url=self.url, client=self.client, error=describe(error))
            else:
                self._warn(error, now)
            return
        self._failures += 1
        if not self._warned:
            if now - self._down_since >= self._drop_grace:
                self._warn(error, now)
            return
        if now < self._next_warning:
            return
        self._repeat = min(self._repeat * 2, self._max_repeat)
        self._next_warning = now + self._repeat
        log.warning(
            "nats_still_unreachable",
            url=self.url,
            client=self.client,
            error=describe(error),
            down_seconds=round(now - self._down_since, 1),
            failed_attempts=self._failures,
            next_warning_in=self._repeat,
        )

    def _warn(self, error: BaseException | None, now: float) -> None:
        """The first warning of an outage."""
        assert self._down_since is not None
        self._warned = True
        self._repeat = self._first_repeat
        self._next_warning = now + self._repeat
        log.warning(
            "nats_unreachable",
            url=self.url,
            client=self.client,
            error=describe(error),
            down_seconds=round(now - self._down_since, 1),
            retrying="in the background, until a server answers",
        )

    def connected(self, server: str) -> None:
        """The connection is (again) established, to ``server`` (no credentials)."""
        event = "nats_reconnected" if self._ever_connected else "nats_connected"
        self._ever_connected = True
        if self._down_since is None:
            log.info(event, url=server, client=self.client)
            return
        down = self._clock() - self._down_since
        self._down_since = None
        log.info(
            event,
            url=server,
            client=self.client,
            down_seconds=round(down, 1),
            failed_attempts=self._failures,
        )

    def other_error(self, error: BaseException) -> None:
        """An error reported while connected (slow consumer, a server error…): rate-limited per kind."""
        kind = type(error).__name__
        now = self._clock()
        if now < self._other_errors.get(kind, float("-inf")):
            return
        self._other_errors[kind] = now + OTHER_ERROR_SECONDS
        log.warning("nats_error", url=self.url, client=self.client, error=describe(error))
