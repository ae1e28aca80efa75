"""Verification of GitHub's ``X-Hub-Signature-256`` header.

The HMAC-SHA256 is computed over the raw body bytes, before anything parses them, and compared in constant
time with every configured secret (several during a rotation). Only ``sha256=`` is accepted: GitHub's legacy
``sha1=`` header is refused even though some libraries still accept it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from argoai_gateway.errors import SignatureError

_PREFIX = "sha256="


def expected_signature(body: bytes, secret: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub computes for ``body`` with ``secret``."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str, secrets: Sequence[bytes]) -> None:
    """Return when ``header`` signs ``body`` with one of ``secrets``; raise SignatureError otherwise."""
    if not header.startswith(_PREFIX):
        raise SignatureError("X-Hub-Signature-256 must be of the form sha256=<hex digest>")
    given = header[len(_PREFIX) :].encode("ascii", "replace")
    # Every secret is tried (no early exit) so that timing does not reveal which one matched.
    matched = False
    for secret in secrets:
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(digest, given)
    if not matched:
        raise SignatureError("X-Hub-Signature-256 does not match the body")
