"""The GitHub App key is parsed at start-up: PKCS#1, PKCS#8 and literal ``\\n`` work; anything else is one
configuration error naming the variable, never repeating the key, before any GitHub call."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from argoai_core.errors import ConfigError
from argoai_core.settings import GitHubSettings, load
from support.fake_github.server import FakeGitHub
from support.keys import app_key

ARGOAI = str(Path(sys.executable).parent / "argoai")


def _load(monkeypatch: pytest.MonkeyPatch, **env: str) -> GitHubSettings:
    for name in ("ARGOAI_GITHUB_PRIVATE_KEY", "ARGOAI_GITHUB_PRIVATE_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load(GitHubSettings)


@pytest.mark.parametrize("form", ["pkcs1", "pkcs8"])
def test_pkcs1_and_pkcs8_keys_load_as_given_and_with_literal_newlines(
    monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """Both PEM forms GitHub users meet are accepted, also with literal \\n (as CI secrets hold them)."""
    pem: str = getattr(app_key(), form)
    for value in (pem, pem.strip().replace("\n", "\\n")):
        settings = _load(monkeypatch, ARGOAI_GITHUB_PRIVATE_KEY=value)
        assert settings.private_key is not None
        assert settings.private_key.get_secret_value() == pem.strip() + "\n"


def _ec_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _encrypted_pkcs1() -> str:
    key = serialization.load_pem_private_key(app_key().pkcs1.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"a passphrase"),
    ).decode()


def _truncated() -> str:
    lines = app_key().pkcs1.strip().splitlines()
    return "\n".join([*lines[:5], lines[-1]])


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda: "ghp_notakeyatall0123456789", "is not a PEM RSA private key (expected"),
        (_truncated, "is not a valid PEM RSA private key (truncated or damaged key data)"),
        (_ec_key, "is not an RSA private key (GitHub Apps sign with RSA keys)"),
        (_encrypted_pkcs1, "is an encrypted private key: give the App's key without a passphrase"),
    ],
    ids=["not-pem", "truncated", "ec-key", "encrypted"],
)
def test_malformed_keys_are_one_configuration_error_without_the_key(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], str], problem: str
) -> None:
    """Each kind of wrong key is refused naming ARGOAI_GITHUB_PRIVATE_KEY and why; no key material shown."""
    value = make()
    with pytest.raises(ConfigError) as raised:
        _load(monkeypatch, ARGOAI_GITHUB_PRIVATE_KEY=value)
    message = str(raised.value)
    assert message.startswith(f"ARGOAI_GITHUB_PRIVATE_KEY: {problem}")
    body_lines = [line for line in value.splitlines() if line and not line.startswith("-----")]
    assert not any(line in message for line in body_lines)


def test_key_file_errors_name_the_file_variable_and_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A key file holding something else names ARGOAI_GITHUB_PRIVATE_KEY_FILE and the path."""
    path = tmp_path / "app.pem"
    path.write_text(app_key().public)
    with pytest.raises(ConfigError) as raised:
        _load(monkeypatch, ARGOAI_GITHUB_PRIVATE_KEY_FILE=str(path))
    assert str(raised.value).startswith(
        f"ARGOAI_GITHUB_PRIVATE_KEY_FILE: {path} is not a PEM RSA private key"
    )


@pytest.mark.parametrize("command", [["redeliver"], ["reviewer"]])
def test_commands_refuse_a_malformed_key_before_calling_github(
    fake_github: FakeGitHub, tmp_path: Path, command: list[str]
) -> None:
    """``argoai redeliver`` / ``argoai reviewer`` with a damaged key: exit 2, one line, no GitHub request."""
    path = tmp_path / "app.pem"
    path.write_text(_truncated())
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ARGOAI_GITHUB_API_URL": fake_github.url,
        "ARGOAI_GITHUB_APP_ID": "4242",
        "ARGOAI_GITHUB_PRIVATE_KEY_FILE": str(path),
    }
    result = subprocess.run(
        [ARGOAI, *command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"argoai: configuration error: ARGOAI_GITHUB_PRIVATE_KEY_FILE: {path} is not a valid PEM RSA "
        "private key (truncated or damaged key data)"
    ]
    assert fake_github.requests == []
