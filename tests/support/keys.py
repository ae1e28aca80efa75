"""RSA keys for a test GitHub App, generated at runtime (no key material is checked in)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True)
class AppKey:
    """One App private key in both PEM encodings GitHub users meet, and its public half."""

    pkcs1: str  # "BEGIN RSA PRIVATE KEY", what GitHub's "Generate a private key" downloads
    pkcs8: str  # "BEGIN PRIVATE KEY", what `openssl pkcs8 -topk8` and many secret stores produce
    public: str  # "BEGIN PUBLIC KEY", what the fake GitHub verifies JWTs with


def new_app_key() -> AppKey:
    """A fresh 2048-bit RSA key (about 50 ms); prefer :func:`app_key` unless a test needs two keys."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return AppKey(
        pkcs1=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode(),
        pkcs8=key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        public=key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


@cache
def app_key() -> AppKey:
    """One key per test process, shared by the tests that only need *a* valid App key."""
    return new_app_key()
