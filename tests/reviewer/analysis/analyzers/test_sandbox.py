"""The analyzer sandbox: limits on wall time, CPU, memory and output, the whole process group killed, and an
environment built from nothing."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from argoai_reviewer.analysis.analyzers import sandbox
from argoai_reviewer.analysis.analyzers.sandbox import (
    Completed,
    Failure,
    Limits,
    SandboxError,
    clean_environment,
    exit_failure,
    run_limited,
)

PY = [sys.executable, "-I", "-c"]


def _limits(**overrides: float) -> Limits:
    values = {"cpu_seconds": 5.0, "wall_seconds": 5.0, "memory_bytes": 512 * 1024 * 1024}
    values.update(overrides)
    return Limits(
        cpu_seconds=values["cpu_seconds"],
        wall_seconds=values["wall_seconds"],
        memory_bytes=int(values["memory_bytes"]),
        output_bytes=int(values.get("output_bytes", 1024 * 1024)),
    )


async def _run(tmp_path: Path, code: str, **limits: float) -> Completed:
    env = clean_environment(tmp_path, [Path(sys.executable).parent])
    return await run_limited([*PY, code], cwd=tmp_path, env=env, limits=_limits(**limits))


async def _gone_within(pid: int, seconds: float) -> bool:
    """False once ``pid`` is dead (or a zombie); True if it still runs after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if not _alive(pid):
            return False
        await asyncio.sleep(0.05)
    return _alive(pid)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state


async def test_wall_time_limit_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A process that outlives its wall time is killed together with the child it started."""
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    with pytest.raises(SandboxError) as caught:
        await _run(tmp_path, code, wall_seconds=1.0)
    assert caught.value.failure is Failure.TIMEOUT
    assert time.monotonic() - started < 10
    child = int((tmp_path / "child.pid").read_text())
    assert not await _gone_within(child, 5.0)


async def test_a_child_left_behind_is_killed_when_the_process_exits(tmp_path: Path) -> None:
    """A tool that exits leaving a background child behind does not leave it running."""
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid)\n"
    )
    done = await _run(tmp_path, code)
    child = int(done.stdout)
    assert not await _gone_within(child, 5.0)


@pytest.fixture(params=["prlimit", "preexec_fn"])
def launcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Limits set by util-linux's prlimit (here, Debian images), or by preexec_fn where it is missing."""
    if request.param == "prlimit":
        assert sandbox._PRLIMIT is not None, "Debian's util-linux ships prlimit"
    else:
        monkeypatch.setattr(sandbox, "_PRLIMIT", None)
    return str(request.param)


async def test_the_tool_runs_with_every_limit_set(tmp_path: Path, launcher: str) -> None:
    """The tool itself (not a launcher left in between) sees the CPU, memory, file size and core limits."""
    code = (
        "import json, os, resource as r; print(json.dumps([os.getpid() == os.getsid(0), "
        "r.getrlimit(r.RLIMIT_CPU), r.getrlimit(r.RLIMIT_AS), r.getrlimit(r.RLIMIT_FSIZE), "
        "r.getrlimit(r.RLIMIT_CORE)]))"
    )
    done = await _run(tmp_path, code, cpu_seconds=3.0, memory_bytes=400 * 1024 * 1024)
    leader, cpu, memory, size, core = json.loads(done.stdout)
    assert leader  # the tool leads its own session: a timeout kills its whole group
    assert cpu == [3, 4]
    assert memory == [400 * 1024 * 1024] * 2
    assert size == [64 * 1024 * 1024] * 2
    assert core == [0, 0]


async def test_cpu_limit_stops_a_busy_loop(tmp_path: Path, launcher: str) -> None:
    """A process spinning on the CPU is stopped by RLIMIT_CPU well before its wall time."""
    started = time.monotonic()
    with pytest.raises(SandboxError) as caught:
        await _run(tmp_path, "while True: pass", cpu_seconds=1.0, wall_seconds=30.0)
    assert caught.value.failure in (Failure.CPU, Failure.KILLED)
    assert time.monotonic() - started < 15


async def test_memory_cap_stops_a_large_allocation(tmp_path: Path, launcher: str) -> None:
    """Allocating past the memory cap fails inside the tool; the run is reported as out of memory."""
    done = await _run(tmp_path, "x = bytearray(800 * 1024 * 1024)", memory_bytes=256 * 1024 * 1024)
    assert done.returncode != 0
    assert exit_failure(done).failure is Failure.MEMORY


async def test_output_is_capped(tmp_path: Path) -> None:
    """A tool writing more than the output cap is stopped and reported, not read into memory."""
    with pytest.raises(SandboxError) as caught:
        await _run(tmp_path, "import sys\nwhile True: sys.stdout.write('x' * 65536)", output_bytes=256 * 1024)
    assert caught.value.failure is Failure.OUTPUT


async def test_environment_has_no_proxy_secret_or_inherited_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proxies, ARGOAI_* secrets and every other variable of the reviewer stay out of a tool's environment."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("ARGOAI_LLM_API_KEY", "sk-test-not-for-tools")
    monkeypatch.setenv("ARGOAI_GITHUB_PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----")
    done = await _run(tmp_path, "import json, os; print(json.dumps(dict(os.environ)))")
    env = json.loads(done.stdout)
    assert not {key for key in env if "PROXY" in key.upper() or key.startswith("ARGOAI_")}
    assert env["HOME"] == str(tmp_path)
    assert env["XDG_CONFIG_HOME"] == str(tmp_path / ".config")
    assert set(env) - {"LC_CTYPE"} <= set(clean_environment(tmp_path, []))
    assert "sk-test-not-for-tools" not in done.stdout.decode()
    assert os.environ["HTTPS_PROXY"]  # the reviewer's own environment is untouched


async def test_a_missing_program_is_reported_as_not_installed(tmp_path: Path) -> None:
    """A program that does not exist is a MISSING failure, not an exception escaping the sandbox."""
    env = clean_environment(tmp_path, [])
    with pytest.raises(SandboxError) as caught:
        await run_limited([str(tmp_path / "no-such-tool")], cwd=tmp_path, env=env, limits=_limits())
    assert caught.value.failure is Failure.MISSING
