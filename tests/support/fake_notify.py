"""Fake Slack, Discord and webhook receivers, one real HTTP server each (a thread), checking what they get
the way the real services do, for the notification tests.

* :class:`FakeSlack` — an incoming webhook (``POST /services/T…/B…/<token>``): the body must be a Slack
  message (``text``, Block Kit ``blocks`` of known types within Slack's limits); answers ``200 ok``, or
  ``400 invalid_blocks`` / ``invalid_payload`` as Slack does. :meth:`FakeNotifyServer.down` makes it answer
  503 (an outage) until :meth:`FakeNotifyServer.up`.
* :class:`FakeDiscord` — ``POST /api/webhooks/<id>/<token>``: at most 10 embeds, Discord's length limits
  (title 256, description 4096, 25 fields of 256/1024); answers 204, or 400 with Discord's error shape.
* :class:`FakeWebhook` — a receiver verifying ``X-ArgoAI-Signature-256`` (HMAC-SHA256 of the raw body with
  its secret): 401 without a valid signature, else 200.

Each records every request it accepted (:attr:`FakeNotifyServer.received`) and how many it refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_BLOCK_TYPES = {"header", "section", "context", "divider", "actions", "image"}


@dataclass(frozen=True)
class Received:
    """One accepted request."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class FakeNotifyServer:
    """Base of the fakes: a threaded HTTP server on a free loopback port."""

    path = "/"

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refused: list[tuple[int, bytes]] = []
        self.failed_while_down = 0
        self._down = False
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status, answer, content_type = fake._answer(self.path, dict(self.headers), body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The webhook URL to configure (it holds the secret token, like the real ones)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def down(self) -> None:
        """Answer 503 to everything (an outage) until :meth:`up`."""
        self._down = True

    def up(self) -> None:
        """Back to normal."""
        self._down = False

    @contextmanager
    def serving(self) -> Iterator[FakeNotifyServer]:
        """Run the server for the block."""
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        with self._lock:
            if self._down:
                self.failed_while_down += 1
                return 503, b"service unavailable", "text/plain"
            if path != self.path:
                self.refused.append((404, body))
                return 404, b"no_service", "text/plain"
            status, answer, content_type = self.check(headers, body)
            if 200 <= status < 300:
                self.received.append(Received(path, headers, body))
            else:
                self.refused.append((status, body))
            return status, answer, content_type

    def check(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """Validate one request: (status, answer body, content type)."""
        raise NotImplementedError


class FakeSlack(FakeNotifyServer):
    """A Slack incoming webhook."""

    path = "/services/T0001/B0001/slacktoken0123456789"

    def check(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """Slack's own checks of a webhook message (a subset: what ArgoAI sends)."""
        try:
            message = json.loads(body)
        except ValueError:
            return 400, b"invalid_payload", "text/plain"
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            return 400, b"invalid_payload", "text/plain"
        blocks = message.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 50:
            return 400, b"invalid_blocks", "text/plain"
        for block in blocks:
            if block.get("type") not in SLACK_BLOCK_TYPES:
                return 400, b"invalid_blocks", "text/plain"
            text = block.get("text")
            if block["type"] == "header" and (text["type"] != "plain_text" or len(text["text"]) > 150):
                return 400, b"invalid_blocks", "text/plain"
            if block["type"] == "section" and (text["type"] != "mrkdwn" or len(text["text"]) > 3000):
                return 400, b"invalid_blocks", "text/plain"
        return 200, b"ok", "text/plain"


class FakeDiscord(FakeNotifyServer):
    """A Discord channel webhook."""

    path = "/api/webhooks/123456789012345678/discordtoken0123456789"

    def check(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """Discord's limits on a webhook message with embeds."""

        def error(message: str) -> tuple[int, bytes, str]:
            return 400, json.dumps({"code": 50035, "message": message}).encode(), "application/json"

        try:
            message = json.loads(body)
        except ValueError:
            return error("Invalid JSON")
        embeds = message.get("embeds", [])
        if not message.get("content") and not embeds:
            return error("Cannot send an empty message")
        if len(embeds) > 10:
            return error("Invalid Form Body")
        for embed in embeds:
            if len(embed.get("title", "")) > 256 or len(embed.get("description", "")) > 4096:
                return error("Invalid Form Body")
            fields = embed.get("fields", [])
            if len(fields) > 25 or any(len(f["name"]) > 256 or len(f["value"]) > 1024 for f in fields):
                return error("Invalid Form Body")
        return 204, b"", "text/plain"


class FakeWebhook(FakeNotifyServer):
    """A receiver of ArgoAI's signed webhooks."""

    path = "/hooks/argoai"

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def check(self, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """Verify the signature as a receiver should: constant-time, sha256 only."""
        given = headers.get("X-ArgoAI-Signature-256", "")
        wanted = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, wanted):
            return 401, b"bad signature", "text/plain"
        return 200, b'{"ok":true}', "application/json"
