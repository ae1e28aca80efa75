"""Fixtures of the analyzer tests: the planted repository, and its review (made once per module)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from argoai_reviewer.local.review import LocalReview
from support.analyzer_repos import BASE, HEAD, make_repo, review


@pytest.fixture(scope="module")
def planted_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository of :data:`BASE` → :data:`HEAD` (read only by the tests)."""
    return make_repo(tmp_path_factory.mktemp("repo"), BASE, HEAD)


@pytest.fixture(scope="module")
def planted_review(planted_repo: Path) -> LocalReview:
    """``argoai review``'s analysis of the planted repository with the default policy, without an LLM."""
    return asyncio.run(review(planted_repo))
