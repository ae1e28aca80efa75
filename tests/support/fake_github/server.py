"""Serve the fake GitHub over real HTTP: in a background thread of the test process, or as its own process.

In-process (tests that inspect what was posted)::

    with FakeGitHub().serving() as fake:
        fake.add_app(APP_ID, key.public)
        ... fake.url (github.com style) or fake.ghes_url (``/api/v3``, Enterprise Server style)

Another process (a reviewer subprocess only needs the URL; a benchmark may run the fake apart)::

    PYTHONPATH=tests python -m support.fake_github --port 8900 --key-out /tmp/app.pem

prints one JSON line (url, app id, installation id, key file) and serves until SIGINT/SIGTERM;
:class:`RemoteFakeGitHub` sets it up and inspects it over ``POST /_fake/{method}``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from support.fake_github.api import GHES_PREFIX, build_app
from support.fake_github.state import FakeGitHubState
from support.keys import AppKey, app_key


@dataclass(frozen=True)
class AppCredentials:
    """What an ArgoAI deployment needs to act as the fake's App."""

    app_id: int
    installation_id: int
    key: AppKey


class FakeGitHub(FakeGitHubState):
    """The fake GitHub's state plus its HTTP server (see the module docstring)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def ghes_url(self) -> str:
        """The same API under ``/api/v3``, as GitHub Enterprise Server serves it."""
        return self.url + GHES_PREFIX

    def install_app(
        self,
        app_id: int = 4242,
        installation_id: int = 77,
        *,
        key: AppKey | None = None,
        account: str = "octo-org",
    ) -> AppCredentials:
        """Register an App (with a generated key unless given) and one installation of it."""
        key = key or app_key()
        self.add_app(app_id, key.public)
        self.add_installation(installation_id, app_id, account)
        return AppCredentials(app_id=app_id, installation_id=installation_id, key=key)

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; return the base URL once it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # A second port: the archive host, another origin than the API (as codeload.github.com is).
        archive_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        archive_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        archive_sock.bind((host, 0))
        self.codeload_url = f"http://{host}:{archive_sock.getsockname()[1]}"
        config = uvicorn.Config(
            build_app(self),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock, archive_sock])),
            name="fake-github",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake GitHub did not start")
            time.sleep(0.005)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving: return once the port no longer accepts connections.

        uvicorn's own shutdown adds a fixed 0.1 s sleep after that; it finishes in the (daemon) thread.
        """
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        server.should_exit = True
        deadline = time.monotonic() + 5
        while thread.is_alive() and time.monotonic() < deadline:
            if server.servers and not any(s.is_serving() for s in server.servers):
                return
            time.sleep(0.005)

    @contextmanager
    def serving(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[FakeGitHub]:
        """Serve for the duration of a ``with`` block."""
        self.start(host, port)
        try:
            yield self
        finally:
            self.stop()


class RemoteFakeGitHub:
    """Set up and inspect a fake GitHub running in another process (``python -m support.fake_github``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def call(self, method: str, **kwargs: Any) -> Any:
        """Call one of the fake's set-up or inspection methods (see ``ADMIN_METHODS``); return its result."""
        response = httpx.post(f"{self.url}/_fake/{method}", json=kwargs, timeout=10)
        response.raise_for_status()
        return response.json()["result"]
