"""Fixtures of the end-to-end tests: a whole ArgoAI (real processes) against the fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from argoai_cli.local_services import LocalProcess
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM, MarkerResponder
from support.system import LLM_KEY, ArgoSystem, argo_system


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible server reporting a finding for each line marked FIXME-BUG."""
    with FakeLLM(api_key=LLM_KEY, responder=MarkerResponder()) as fake:
        yield fake


@pytest.fixture
def system(
    nats_server: LocalProcess, redis_server: str, fake_llm: FakeLLM, tmp_path: Path
) -> Iterator[ArgoSystem]:
    """ArgoAI's gateway and one reviewer, running, with the fake GitHub and LLM."""
    with (
        FakeGitHub().serving() as github,
        argo_system(github, fake_llm, f"nats://127.0.0.1:{nats_server.port}", redis_server, tmp_path) as argo,
    ):
        argo.start_gateway()
        argo.start_reviewer()
        yield argo
