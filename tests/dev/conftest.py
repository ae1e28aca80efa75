"""Fixtures of the ``argoai dev`` reviewer tests: a fake GitHub with the App installed, and a dev starter."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from argoai_cli.local_services import free_port
from support.devprocess import ARGOAI, DevProcess, start_dev
from support.fake_github.server import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fake GitHub serving on a free port."""
    with FakeGitHub().serving() as github:
        yield github


@pytest.fixture
def base_env(tmp_path: Path, fake_github: FakeGitHub) -> dict[str, str]:
    """What a developer would have: PATH, HOME, the GitHub URL; NATS and Redis URLs where nothing listens."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path / "home"),
        "ARGOAI_GITHUB_API_URL": fake_github.url,
        "ARGOAI_NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "ARGOAI_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS": "5",
    }


@pytest.fixture
def dev_processes(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], DevProcess]]:
    """Start ``argoai dev`` (state in tmp_path/state) with a given environment; killed after the test."""
    started: list[DevProcess] = []

    def start(env: dict[str, str]) -> DevProcess:
        dev = start_dev(env, tmp_path / "state")
        started.append(dev)
        return dev

    yield start
    for dev in started:
        dev.kill()


@pytest.fixture
def dev_with_args(tmp_path: Path) -> Iterator[Callable[..., DevProcess]]:
    """Start ``argoai dev ARGS`` exactly as given (no port or state-dir added); killed after the test."""
    started: list[DevProcess] = []

    def start(env: dict[str, str], *args: str) -> DevProcess:
        process = subprocess.Popen(
            [ARGOAI, "dev", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        dev = DevProcess(process, 0, 0, tmp_path / "state")
        threading.Thread(target=dev.collect, daemon=True).start()
        started.append(dev)
        return dev

    yield start
    for dev in started:
        dev.kill()
