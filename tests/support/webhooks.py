"""Build GitHub webhook deliveries (body and headers) the way GitHub sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from pathlib import Path
from typing import Any

WEBHOOKS = Path(__file__).parent.parent / "fixtures" / "webhooks"


def load_payload(name: str) -> dict[str, Any]:
    """A real payload from tests/fixtures/webhooks, e.g. ``pull_request.opened``."""
    data: dict[str, Any] = json.loads((WEBHOOKS / f"{name}.json").read_text())
    return data


def sign(body: bytes, secret: str) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_headers(event: str, body: bytes, secret: str, *, delivery: str | None = None) -> dict[str, str]:
    """The headers of one signed delivery of ``event``."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "123456",
        "X-Hub-Signature-256": sign(body, secret),
        "User-Agent": "GitHub-Hookshot/abc123",
        "Content-Type": "application/json",
    }
