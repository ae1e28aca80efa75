"""Webhook signature verification (pure: no server)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from argoai_gateway.errors import SignatureError
from argoai_gateway.signature import expected_signature, verify_signature

GITHUB_SECRET = b"It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_documented_vector_is_reproduced() -> None:
    """The signature computed for GitHub's documented example equals GitHub's published value."""
    assert expected_signature(GITHUB_PAYLOAD, GITHUB_SECRET) == GITHUB_SIGNATURE


def test_github_documented_vector_verifies() -> None:
    """GitHub's documented example signature is accepted."""
    verify_signature(GITHUB_PAYLOAD, GITHUB_SIGNATURE, [GITHUB_SECRET])


def test_changed_body_is_refused() -> None:
    """One changed byte in the body makes the signature fail."""
    with pytest.raises(SignatureError):
        verify_signature(b"Hello, World?", GITHUB_SIGNATURE, [GITHUB_SECRET])


def test_wrong_secret_is_refused() -> None:
    """A signature made with another secret is refused."""
    forged = expected_signature(GITHUB_PAYLOAD, b"guessed")
    with pytest.raises(SignatureError):
        verify_signature(GITHUB_PAYLOAD, forged, [GITHUB_SECRET])


def test_sha1_signature_is_refused_even_when_correct() -> None:
    """A correct legacy sha1= signature is still refused: only sha256= is accepted."""
    sha1 = "sha1=" + hmac.new(GITHUB_SECRET, GITHUB_PAYLOAD, hashlib.sha1).hexdigest()
    with pytest.raises(SignatureError, match="sha256="):
        verify_signature(GITHUB_PAYLOAD, sha1, [GITHUB_SECRET])


def test_uppercase_or_malformed_hex_is_refused() -> None:
    """Anything but the exact lower-case hex digest is refused (no lenient parsing)."""
    for header in (GITHUB_SIGNATURE.upper(), GITHUB_SIGNATURE + "00", "sha256=", "sha256=zz", "757107ea"):
        with pytest.raises(SignatureError):
            verify_signature(GITHUB_PAYLOAD, header, [GITHUB_SECRET])


def test_any_configured_secret_is_accepted_during_rotation() -> None:
    """With two secrets configured, a delivery signed with either one verifies."""
    secrets = [b"new-secret", GITHUB_SECRET]
    verify_signature(GITHUB_PAYLOAD, GITHUB_SIGNATURE, secrets)
    verify_signature(GITHUB_PAYLOAD, expected_signature(GITHUB_PAYLOAD, b"new-secret"), secrets)


def test_no_secret_accepts_nothing() -> None:
    """An empty secret list verifies nothing (no 'unsigned is fine' fallback)."""
    with pytest.raises(SignatureError):
        verify_signature(GITHUB_PAYLOAD, GITHUB_SIGNATURE, [])
