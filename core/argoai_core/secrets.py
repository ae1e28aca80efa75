"""Validation helpers for secrets: refuse placeholders, read ``*_FILE`` mounts, check PEM keys."""

from __future__ import annotations

import re
from pathlib import Path

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
    """Check that ``pem`` is an RSA private key in PKCS#1 or PKCS#8 PEM form; return it normalised.

    Keys pasted into environment variables often arrive with literal ``\\n``: those are turned back into
    newlines so that a key copied from a CI secret works.
    """
    text = pem.strip().replace("\\n", "\n")
    if not re.match(r"^-----BEGIN (RSA )?PRIVATE KEY-----\n", text) or not re.search(
        r"\n-----END (RSA )?PRIVATE KEY-----$", text
    ):
        raise ValueError("not a PEM private key (expected BEGIN RSA PRIVATE KEY or BEGIN PRIVATE KEY)")
    return text + "\n"
