"""Validation helpers for secrets: refuse placeholders, read ``*_FILE`` mounts, check PEM keys."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

# Values people paste from templates; starting with one of them is worse than failing fast.
_PLACEHOLDERS = re.compile(
    r"^(|changeme|change-me|change_me|secret|password|placeholder|todo|xxx+|dummy|example|"
    r"your[-_ ].*|<.*>|\$\{.*\}|replace[-_ ]?me)$",
    re.IGNORECASE,
)


def is_placeholder(value: str) -> bool:
    """Whether ``value`` looks like a template placeholder rather than a real secret."""
    return bool(_PLACEHOLDERS.match(value.strip()))


def read_secret_file(path: Path) -> SecretStr:
    """Read a secret mounted as a file (Kubernetes Secret volume), without its trailing newline."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    return SecretStr(text.rstrip("\r\n"))


def check_private_key(pem: str) -> str:
    """Check that ``pem`` is an unencrypted RSA private key, PKCS#1 or PKCS#8 PEM; return it normalised.

    Keys pasted into environment variables often arrive with literal ``\\n``: those are turned back into
    newlines so that a key copied from a CI secret works. The key is parsed (not just its armour checked):
    a truncated or mangled key would otherwise pass start-up and fail every GitHub call later, looking like
    an outage. The error never repeats the key.
    """
    text = pem.strip().replace("\\n", "\n")
    if not re.match(r"^-----BEGIN (RSA )?PRIVATE KEY-----\n", text) or not re.search(
        r"\n-----END (RSA )?PRIVATE KEY-----$", text
    ):
        raise ValueError(
            "is not a PEM RSA private key (expected -----BEGIN RSA PRIVATE KEY----- or "
            "-----BEGIN PRIVATE KEY-----, as GitHub's App settings page downloads it)"
        )
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise ValueError("is an encrypted private key: give the App's key without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("is not a valid PEM RSA private key (truncated or damaged key data)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("is not an RSA private key (GitHub Apps sign with RSA keys)")
    return text + "\n"
