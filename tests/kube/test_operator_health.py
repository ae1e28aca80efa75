"""The operator's health reporting and stopping in isolation: dependency logging with backoff, URLs fit to
print, Kopf's noisy retry lines lowered, the policy-condition gauge, and the grace-period deadline."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any

import kopf
from prometheus_client import CollectorRegistry

from argoai_core.errors import UnavailableError
from argoai_core.settings import NatsSettings
from argoai_operator.config import OperatorConfig
from argoai_operator.dependencies import Dependency, without_credentials
from argoai_operator.kopf_logs import ToDebug
from argoai_operator.login import KubeLogin
from argoai_operator.main import Operator
from argoai_operator.metrics import OperatorMetrics


class Recorder:
    """Stands in for the structured logger: keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields: Any) -> None:
        self.lines.append(("warning", event, fields))


class Switch:
    """A probe that fails while ``down``; and a clock the test moves."""

    def __init__(self) -> None:
        self.down = False
        self.now = 1000.0

    async def probe(self) -> None:
        if self.down:
            raise UnavailableError("connection refused")

    def clock(self) -> float:
        return self.now


async def test_outage_is_one_warning_repeated_with_backoff_then_one_recovery_line() -> None:
    """Down: a warning, repeated after 10 s, 20 s, 40 s… (not at every probe); back: one line."""
    switch, recorder = Switch(), Recorder()
    dependency = Dependency(
        "NATS",
        "nats://nats:4222",
        switch.probe,
        clock=switch.clock,
        logger=recorder,
    )
    assert await dependency.check()
    assert recorder.lines == [("info", "NATS available", {"target": "nats://nats:4222"})]

    switch.down = True
    for _ in range(61):  # one probe a second for a minute
        assert not await dependency.check()
        switch.now += 1
    warnings = [
        (event, fields.get("down_seconds")) for level, event, fields in recorder.lines if level == "warning"
    ]
    assert warnings == [
        ("NATS unavailable", None),
        ("NATS still unavailable", 10.0),
        ("NATS still unavailable", 30.0),
    ]
    assert recorder.lines[1][2] == {
        "target": "nats://nats:4222",
        "error": "UnavailableError: connection refused",
    }
    assert dependency.reason == "UnavailableError: connection refused"

    switch.down = False
    assert await dependency.check()
    assert await dependency.check()
    assert recorder.lines[-1] == (
        "info",
        "NATS available again",
        {"target": "nats://nats:4222", "down_seconds": 61.0},
    )
    assert [event for _, event, _ in recorder.lines].count("NATS available again") == 1


async def test_a_probe_that_hangs_counts_as_down() -> None:
    """A probe that never returns is cut at the timeout and reported as such."""
    recorder = Recorder()

    async def hang() -> None:
        await asyncio.sleep(3600)

    dependency = Dependency("Kubernetes API", "https://k8s", hang, timeout=0.05, logger=recorder)
    assert not await dependency.check()
    assert recorder.lines[0][2]["error"] == "no answer within 0.05s"


def test_urls_are_printed_without_credentials() -> None:
    """User, password and token never reach a log line; several servers stay several."""
    assert without_credentials("nats://user:pa55@nats-0:4222,tls://tok3n@nats-1.example:4443") == (
        "nats://nats-0:4222,tls://nats-1.example:4443"
    )
    assert without_credentials("https://[fd00::1]:6443/") == "https://[fd00::1]:6443"


def kopf_record(
    message: str, level: int = logging.ERROR, name: str = "kopf._cogs.clients.api"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


def test_kopf_connection_retry_lines_become_debug() -> None:
    """Kopf's per-request retry lines for unreachable APIs are lowered; a 403 or an own line is kept."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    try:
        lowered = kopf_record(
            "Request attempt #3/9 failed; will retry: GET https://k8s/apis -> ClientConnectorError(...)"
        )
        assert ToDebug().filter(lowered) is False
        assert lowered.levelname == "DEBUG"
        forbidden = kopf_record(
            "Request attempt #1/9 failed; will retry: GET https://k8s/apis -> APIForbiddenError()"
        )
        assert ToDebug().filter(forbidden) is True
        assert forbidden.levelno == logging.ERROR
        ours = kopf_record("Request attempt failed; will retry -> TimeoutError", name="argoai_operator.main")
        assert ToDebug().filter(ours) is True
        assert ours.levelno == logging.ERROR
        root.setLevel(logging.DEBUG)
        assert ToDebug().filter(kopf_record("Request attempt #2 failed; will retry: GET x -> TimeoutError()"))
    finally:
        root.setLevel(level)


def test_policy_gauge_follows_conditions() -> None:
    """The gauge counts each policy once, in its latest condition, and forgets deleted ones."""
    metrics = OperatorMetrics(CollectorRegistry())

    def gauge(condition: str) -> float | None:
        return metrics.registry.get_sample_value("argoai_operator_policies", {"condition": condition})

    def reconciles(outcome: str) -> float | None:
        return metrics.registry.get_sample_value("argoai_operator_reconciles_total", {"outcome": outcome})

    assert (gauge("Ready"), gauge("Invalid"), reconciles("error")) == (0, 0, 0)
    metrics.reconciled("ops/a", "Ready")
    metrics.reconciled("ops/a", "Ready")
    metrics.reconciled("ops/b", "Invalid")
    assert (gauge("Ready"), gauge("Invalid")) == (1, 1)
    metrics.reconciled("ops/b", "Ready")
    assert (gauge("Ready"), gauge("Invalid")) == (2, 0)
    metrics.forgotten("ops/a")
    metrics.failed()
    assert (gauge("Ready"), reconciles("ready"), reconciles("invalid"), reconciles("error")) == (1, 3, 1, 1)


def idle_operator(grace: float) -> Operator:
    config = OperatorConfig(
        nats=NatsSettings(url="nats://127.0.0.1:1"), metrics_port=0, grace_period_seconds=grace
    )
    login = KubeLogin.fixed(kopf.ConnectionInfo(server="http://127.0.0.1:1"))
    return Operator(config, login, metrics=OperatorMetrics(CollectorRegistry()))


async def test_kopf_not_stopping_within_the_grace_period_is_left_behind() -> None:
    """A Kopf that does not stop is waited for the grace period only; the operator then exits anyway."""
    operator = idle_operator(grace=0.3)
    never_ends: concurrent.futures.Future[None] = concurrent.futures.Future()
    operator.stop()
    started = time.monotonic()
    await operator._wait(never_ends, None)
    assert operator.forced
    assert 0.3 <= time.monotonic() - started < 2


async def test_second_signal_skips_the_grace_period() -> None:
    """A second SIGTERM/SIGINT (a second stop) ends the wait at once."""
    operator = idle_operator(grace=30)
    never_ends: concurrent.futures.Future[None] = concurrent.futures.Future()
    operator.stop()
    asyncio.get_running_loop().call_later(0.2, operator.stop)
    started = time.monotonic()
    await operator._wait(never_ends, None)
    assert operator.forced
    assert time.monotonic() - started < 2
