"""Pytest fixtures for the fake GitHub; import them into a conftest or test module to use them.

``from support.fake_github.fixtures import fake_github, github_app  # noqa: F401``
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.fake_github.server import AppCredentials, FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub serving on a free port for one test (no App registered yet)."""
    with FakeGitHub().serving() as fake:
        yield fake


@pytest.fixture
def github_app(fake_github: FakeGitHub) -> AppCredentials:
    """App 4242 (the session's test key) installed as installation 77 on the fake."""
    return fake_github.install_app()
