"""Fixtures of the CLI tests: a fake GitHub served over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.fake_github.server import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub serving on a free port (nothing registered)."""
    with FakeGitHub().serving() as github:
        yield github
