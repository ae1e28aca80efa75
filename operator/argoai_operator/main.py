"""Running the operator: credentials, the HTTP port, NATS, Kopf on its own thread, and a bounded shutdown.

The process has two event loops:

- the **main thread's** owns SIGTERM/SIGINT, the HTTP port (``/healthz``, ``/readyz``, ``/metrics``), the
  NATS connection and the probes of NATS and the Kubernetes API;
- **Kopf's** runs on a second thread, as Kopf documents for embedding. At shutdown Kopf cancels every task
  of its loop that it did not start with, which must not include the NATS client's; and with Kopf apart, the
  main thread can always exit on time, even if a handler or an API request ignores cancellation.

On SIGTERM or SIGINT the operator stops being ready, asks Kopf to stop (running handlers finish), waits
for it at most the grace period, then closes NATS (bounded) and exits; a second signal skips the wait.

Several replicas are safe through Kopf peering: every replica writes its priority into a ``KopfPeering``
object (the chart installs the peering CRD) and only the highest-priority one handles events; the others
stay paused until it stops renewing its record. Replicas therefore need distinct priorities: unless one is
given, each process picks a random one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import kopf

from argoai_core.errors import ConfigError
from argoai_core.logs import get_logger
from argoai_operator import kopf_logs
from argoai_operator.adapters.kube_api import KubeApiProbe
from argoai_operator.adapters.nats_link import NatsLink
from argoai_operator.config import OperatorConfig
from argoai_operator.dependencies import Dependency, describe, without_credentials
from argoai_operator.endpoints import EndpointServer, bind, endpoints_app
from argoai_operator.handlers import InFlight, Services, build_registry, configure
from argoai_operator.login import KubeLogin, find_login
from argoai_operator.metrics import OperatorMetrics
from argoai_operator.publishing import OnLoop, SerialPublisher

log = get_logger(__name__)

# Kopf's loop beats every second; silent this long, it counts as hung (``/healthz`` answers 503).
HEARTBEAT_TIMEOUT_SECONDS = 30.0
# Once no handler runs, how long Kopf gets to finish stopping by itself before the rest is cancelled.
KOPF_CLEANUP_SECONDS = 1.0


def random_priority() -> int:
    """A priority unlikely to equal another replica's (equal priorities would both stay active)."""
    return 1 + secrets.randbelow(1_000_000)


@dataclass(frozen=True)
class RunOptions:
    """How Kopf runs: which namespaces, peering or not, and Kopf's own liveness endpoint (off by default)."""

    namespaces: Sequence[str] = ()
    standalone: bool = False
    priority: int | None = None
    peering_name: str = "argoai"
    liveness_endpoint: str | None = None


class Operator:
    """One operator process: see the module docstring."""

    def __init__(
        self,
        config: OperatorConfig,
        login: KubeLogin,
        options: RunOptions = RunOptions(),
        *,
        metrics: OperatorMetrics | None = None,
    ) -> None:
        self._config = config
        self._login = login
        self._options = options
        self.metrics = metrics or OperatorMetrics()
        self._link = NatsLink(config.nats, publish_timeout=config.publish_timeout_seconds)
        # Kopf's peering resource: cluster-wide operators share a ClusterKopfPeering, namespaced ones a
        # KopfPeering in each namespace.
        peering = None
        if not options.standalone:
            peering = "kopfpeerings" if options.namespaces else "clusterkopfpeerings"
        self._kube = KubeApiProbe(login, timeout=config.probe_timeout_seconds, peering=peering)
        interval, timeout = config.probe_interval_seconds, config.probe_timeout_seconds
        pong_seconds = max(1, int(timeout) - 1)
        self.nats = Dependency(
            "NATS",
            self._link.target,
            lambda: self._link.probe(pong_seconds),
            interval=interval,
            timeout=timeout,
        )
        self.kube = Dependency(
            "Kubernetes API",
            without_credentials(login.server),
            self._kube.probe,
            interval=interval,
            timeout=timeout,
        )
        self.endpoints = EndpointServer(
            config.metrics_host,
            config.metrics_port,
            endpoints_app(self.alive, self.not_ready, self.metrics.registry),
        )
        self._kopf_ready = threading.Event()
        # Stopping Kopf: the request (any thread) and, once Kopf's loop runs, its own event on that loop.
        # (A threading.Event as Kopf's stop flag would hold a thread of Kopf's executor until it is set,
        # and Kopf's loop could not close when Kopf ends by itself.)
        self._kopf_stop = threading.Event()
        self._kopf_stop_event: asyncio.Event | None = None
        self._kopf_loop: asyncio.AbstractEventLoop | None = None
        self._kopf_thread: threading.Thread | None = None
        self._beat = time.monotonic()
        self._stopping = asyncio.Event()
        self._hurry = asyncio.Event()
        self.forced = False
        self.failed = False

    # --- health -----------------------------------------------------------------------------------------

    def alive(self) -> bool:
        """Kopf's loop is answering (or not started yet)."""
        thread = self._kopf_thread
        if thread is None:
            return True
        return thread.is_alive() and time.monotonic() - self._beat < HEARTBEAT_TIMEOUT_SECONDS

    def not_ready(self) -> list[str]:
        """Why the operator is not ready; empty when it is."""
        reasons = []
        if self._stopping.is_set():
            reasons.append("stopping")
        if not self._kopf_ready.is_set():
            reasons.append("Kopf has not started yet")
        for dependency in (self.nats, self.kube):
            if not dependency.available:
                reasons.append(f"{dependency.name} unavailable at {dependency.target}: {dependency.reason}")
        return reasons

    # --- stopping ---------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin the shutdown (the first call); a second call skips the rest of the grace period."""
        if self._stopping.is_set():
            self._hurry.set()
        self._stopping.set()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGTERM (Kubernetes) and SIGINT (Ctrl-C) call :meth:`stop`; only the main thread can catch them."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        handled = (signal.SIGTERM, signal.SIGINT)
        for sig in handled:
            loop.add_signal_handler(sig, self._on_signal, sig)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        grace = self._config.grace_period_seconds
        log.info("signal received: stopping", signal=sig.name, grace_seconds=grace)
        self.stop()

    # --- running ----------------------------------------------------------------------------------------

    async def serve(
        self,
        *,
        registry: kopf.OperatorRegistry | None = None,
        stop_flag: threading.Event | None = None,
        ready_flag: threading.Event | None = None,
    ) -> None:
        """Run until :meth:`stop`, a signal or ``stop_flag``; ``registry`` defaults to :func:`build_registry`.

        Raises ConfigError when the HTTP port is taken or the API refuses the credentials.
        """
        config, options = self._config, self._options
        loop = asyncio.get_running_loop()
        if options.liveness_endpoint:
            _check_liveness_endpoint(options.liveness_endpoint)
        await self.endpoints.start()
        background: list[asyncio.Task[None]] = []
        try:
            self._link.start()
            background += [
                asyncio.create_task(self.nats.run(), name="probe-nats"),
                asyncio.create_task(self.kube.run(), name="probe-kube"),
            ]
            if stop_flag is not None:
                background.append(asyncio.create_task(self._follow(stop_flag), name="stop-flag"))
            publisher = SerialPublisher(OnLoop(self._link, loop), on_failure=self.metrics.publish_failed)
            services = Services(publisher=publisher, metrics=self.metrics, login=self._login)
            registry = registry or build_registry(config, services)
            chosen = options.priority if options.priority is not None else random_priority()
            log.info(
                "operator starting",
                kubernetes=self._login.source,
                nats=self._link.target,
                namespaces=list(options.namespaces) or "all",
                standalone=options.standalone,
                peering=None if options.standalone else options.peering_name,
                priority=chosen,
                metrics=f"{config.metrics_host}:{self.endpoints.port}",
            )
            kopf_done = self._start_kopf(registry, chosen, services.in_flight)
            with self._signals():
                await self._wait(kopf_done, ready_flag)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._link.close(drain=self.nats.available)
            await self._kube.close()
            await self.endpoints.stop()
        log.info("operator stopped", forced=self.forced)

    async def _follow(self, flag: threading.Event) -> None:
        # A threading.Event set by another thread cannot wake this loop: poll it.
        while not flag.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        self.stop()

    async def _wait(
        self, kopf_done: concurrent.futures.Future[None], ready_flag: threading.Event | None
    ) -> None:
        """Until stopped or Kopf ends by itself; then Kopf gets the grace period to stop."""
        done: asyncio.Future[None] = asyncio.wrap_future(kopf_done)
        stopping = asyncio.create_task(self._stopping.wait())
        ready = asyncio.create_task(self._announce_ready(ready_flag))
        try:
            await asyncio.wait(_futures(done, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            requested = self._stopping.is_set()
            for task in (stopping, ready):
                task.cancel()
            self._stopping.set()
            self._stop_kopf()
        if not self.nats.available:
            # Running handlers would wait for a NATS known not to answer: let their publishes fail now.
            self._link.interrupt()
        if not done.done():
            hurry = asyncio.create_task(self._hurry.wait())
            await asyncio.wait(
                _futures(done, hurry),
                timeout=self._config.grace_period_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
            hurry.cancel()
        if not done.done():
            self.forced = True
            log.error(
                "Kopf did not stop within the grace period: exiting anyway",
                grace_seconds=self._config.grace_period_seconds,
            )
            return
        error = done.exception()
        if isinstance(error, kopf.LoginError):
            # Kopf's text suggests installing client libraries; what happened is a 401 after a fresh login.
            raise ConfigError(
                f"the Kubernetes API at {without_credentials(self._login.server)} refused the credentials "
                f"from {self._login.source} (401 Unauthorized, also after logging in again){self._hint()}"
            ) from None
        if error is not None or not requested:
            # Kopf never ends by itself while it works: say why in the log, exit with status 1.
            self.failed = True
            log.error("Kopf ended by itself: exiting", error=describe(error) if error else "no error")

    async def _announce_ready(self, ready_flag: threading.Event | None) -> None:
        # Kopf sets this threading.Event from its own thread: poll it.
        while not self._kopf_ready.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        log.info("operator running")
        if ready_flag is not None:
            ready_flag.set()

    def _hint(self) -> str:
        """Why credentials may be missing altogether: a kubeconfig user that needs an exec plugin."""
        with contextlib.suppress(ConfigError):
            info = self._login.connection_info()
            if not (info.token or info.username or info.certificate_path or info.certificate_data):
                return (
                    "; it holds no token, client certificate or password (exec plugins such as "
                    "`aws eks get-token` or `kubelogin` are not run)"
                )
        return ""

    def _stop_kopf(self) -> None:
        """Ask Kopf to stop, from the main thread (see ``kopf_main`` for the other half of the handshake)."""
        self._kopf_stop.set()
        loop, event = self._kopf_loop, self._kopf_stop_event
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # Kopf's loop already closed
                loop.call_soon_threadsafe(event.set)

    def _start_kopf(
        self, registry: kopf.OperatorRegistry, priority: int, in_flight: InFlight
    ) -> concurrent.futures.Future[None]:
        """Run Kopf on its own thread and loop; the future ends when Kopf does."""
        options = self._options
        settings = kopf.OperatorSettings()
        configure(settings, self._config)
        result: concurrent.futures.Future[None] = concurrent.futures.Future()

        async def beat() -> None:
            while True:
                self._beat = time.monotonic()
                await asyncio.sleep(1)

        async def kopf_main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(_quiet_login_errors)
            self._kopf_stop_event, self._kopf_loop = stop, loop
            if self._kopf_stop.is_set():  # requested before this loop existed
                stop.set()
            # Created before Kopf starts, so Kopf's shutdown leaves it alone; cancelled below.
            heartbeat = asyncio.create_task(beat(), name="heartbeat")
            operator = asyncio.create_task(
                kopf.operator(
                    registry=registry,
                    settings=settings,
                    clusterwide=not options.namespaces,
                    namespaces=list(options.namespaces),
                    standalone=options.standalone,
                    priority=priority,
                    # A peering name makes peering mandatory in Kopf, even when standalone.
                    peering_name=None if options.standalone else options.peering_name,
                    liveness_endpoint=options.liveness_endpoint,
                    stop_flag=stop,
                    ready_flag=self._kopf_ready,
                    memo=kopf.Memo(),
                ),
                name="kopf",
            )
            try:
                await _stop_kopf(operator, stop, in_flight)
            finally:
                heartbeat.cancel()

        def thread_main() -> None:
            try:
                asyncio.run(kopf_main())
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which decides
                result.set_exception(exc)
            else:
                result.set_result(None)

        # A daemon thread: if Kopf does not stop within the grace period, the process exits without it.
        self._kopf_thread = threading.Thread(target=thread_main, name="kopf", daemon=True)
        self._kopf_thread.start()
        return result


async def _stop_kopf(operator: asyncio.Task[None], stop: asyncio.Event, in_flight: InFlight) -> None:
    """Run ``operator`` (Kopf) until it ends or ``stop`` is set; then stop it without idle waiting.

    Kopf stops gracefully on ``stop``: its watchers end and running handlers go on. But it then waits up to
    5 s for every task it spawned, including API requests sleeping before a retry, which never end while
    the API is down. So once no handler runs and Kopf has had a moment for its own cleanup (status
    patches, peering record, closing sessions), what is left is cancelled.
    """
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait(_futures(operator, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not operator.done():
        await in_flight.idle()
        await asyncio.wait([operator], timeout=KOPF_CLEANUP_SECONDS)
    if not operator.done():
        operator.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await operator
        return
    await operator


def _quiet_login_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Kopf's loop: a LoginError left in a Kopf task is already reported as one configuration error line."""
    if isinstance(context.get("exception"), kopf.LoginError):
        return
    loop.default_exception_handler(context)


def _futures(*futures: asyncio.Future[Any]) -> list[asyncio.Future[Any]]:
    return list(futures)


def _check_liveness_endpoint(url: str) -> None:
    """Kopf's liveness server binds inside Kopf, where a taken port is a traceback: check it first."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"--liveness: must be an http://HOST:PORT/PATH URL, got {url!r}")
    bind(parts.hostname, parts.port or 80, "--liveness").close()


def run(config: OperatorConfig, options: RunOptions) -> int:
    """Blocking entrypoint of ``argoai operator``: the exit status (ConfigError for a configuration error)."""
    login = find_login()
    kopf_logs.install()
    # httpx logs every request at INFO: the Kubernetes API probe would log one line every few seconds.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    operator = Operator(config, login, options)
    asyncio.run(operator.serve())
    if operator.forced:
        # Kopf's thread may still run; leave without waiting for it (daemon threads must not log at exit).
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    return 1 if operator.failed else 0
