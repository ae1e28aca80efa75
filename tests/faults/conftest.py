"""Fixtures of the fault suite: ArgoAI as real processes on NATS/Redis that tests may kill and restart,
and the session report of what was sent, accepted, lost, posted, duplicated, dead-lettered and leaked."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from argoai_cli.local_services import LocalProcess, redis_process
from faults.report import FaultReport, Tally
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM, MarkerResponder
from support.system import LLM_KEY, ArgoSystem, argo_system

REPORT_KEY = pytest.StashKey[FaultReport]()

MakeSystem = Callable[..., ArgoSystem]


def pytest_configure(config: pytest.Config) -> None:
    """One report per session, filled by the tests' tallies."""
    config.stash[REPORT_KEY] = FaultReport()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the figures and write them as JSON next to pytest's temporary files."""
    report = config.stash.get(REPORT_KEY, None)
    if report is None or not report.tallies:
        return
    terminalreporter.section("fault suite report")
    for line in report.lines():
        terminalreporter.write_line(line)
    if report.directory is not None:
        path = report.directory / "faults-report.json"
        path.write_text(json.dumps(report.as_json(), indent=2))
        terminalreporter.write_line(f"written to {path}")


@pytest.fixture
def tally(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Tally:
    """This test's line of the session report."""
    report = request.config.stash[REPORT_KEY]
    report.directory = tmp_path_factory.getbasetemp()
    return report.tally(request.node.name)


@pytest.fixture
def more_tallies(request: pytest.FixtureRequest) -> Callable[[str], Tally]:
    """Further lines of the report for a test that runs several scenarios at once (``<test>[<suffix>]``)."""
    report = request.config.stash[REPORT_KEY]
    return lambda suffix: report.tally(f"{request.node.name}[{suffix}]")


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible LLM reporting a finding for each FIXME-BUG line."""
    with FakeLLM(api_key=LLM_KEY, responder=MarkerResponder()) as fake:
        yield fake


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub served over HTTP."""
    with FakeGitHub().serving() as github:
        yield github


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[LocalProcess]:
    """A redis-server for this test only, which the test may stop and start again on the same port."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = redis_process(workdir)
    server.start()
    yield server
    server.stop(kill=True)


@pytest.fixture
def make_system(
    nats_server: LocalProcess, redis_server: str, fake_github: FakeGitHub, fake_llm: FakeLLM, tmp_path: Path
) -> Iterator[MakeSystem]:
    """Build the ArgoSystem of this test (nothing started); NATS/Redis URLs default to the shared servers."""
    with argo_system(
        fake_github, fake_llm, f"nats://127.0.0.1:{nats_server.port}", redis_server, tmp_path
    ) as system:

        def make(*, nats_url: str | None = None, redis_url: str | None = None) -> ArgoSystem:
            system.nats_url = nats_url or system.nats_url
            system.redis_url = redis_url or system.redis_url
            return system

        yield make


@pytest.fixture
def argo(make_system: MakeSystem) -> ArgoSystem:
    """The ArgoSystem of this test on the shared NATS and Redis (nothing started yet)."""
    return make_system()
