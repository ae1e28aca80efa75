"""Run one analyzer process under limits: no inherited environment, no network settings, bounded CPU, memory,
wall time and output; a runaway process and everything it started are killed.

Limits are set in the child before the tool runs: by util-linux's ``prlimit``, which sets them and then
``exec``s the tool (same process), or, where there is no ``prlimit``, by ``preexec_fn``. ``prlimit`` comes
first because a ``preexec_fn`` makes Python ``fork()`` the whole reviewer (about 16 ms of blocked event loop
per analyzer process in a 300 MB process) where it can otherwise ``vfork()`` (about 1 ms). The limits:
``RLIMIT_CPU`` (soft limit → SIGXCPU, hard limit one second later → SIGKILL), a memory cap, ``RLIMIT_FSIZE``
(a tool has no reason to write large files) and no core dumps. The memory cap is ``RLIMIT_AS`` (address space)
for most tools; runtimes that reserve a large address space up front and commit little of it (Go) fail at
start under ``RLIMIT_AS`` and get ``RLIMIT_DATA`` instead, which counts the memory actually mapped for data.
The process leads its own session, so on a timeout the whole group is killed, not only the direct child.

The environment is built from nothing: ``PATH`` (the tools' directory and the system's), ``HOME`` and the XDG
directories in a private empty directory (no user configuration such as ``~/.config/yamllint`` is found),
a UTF-8 locale. Nothing else is inherited: no proxy variables, no tokens, no ``ARGOAI_*`` secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

MemoryLimit = Literal["as", "data"]

_FILE_SIZE_LIMIT = 64 * 1024 * 1024
_STDERR_KEPT = 16 * 1024
_READ_CHUNK = 64 * 1024
_POLL_SECONDS = 0.02
_CLOSE_SECONDS = 5.0
# util-linux's prlimit (Debian: essential, so in every Debian-based image), looked up once.
_PRLIMIT = shutil.which("prlimit", path="/usr/bin:/bin")


class Failure(StrEnum):
    """Why a process gave no usable result."""

    TIMEOUT = "timed out"
    CPU = "ran out of CPU time"
    MEMORY = "ran out of memory"
    KILLED = "was killed (CPU or memory limit)"
    OUTPUT = "wrote too much output"
    CRASHED = "crashed"
    MISSING = "is not installed"


class SandboxError(Exception):
    """A process that did not finish within its limits, or could not start."""

    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(f"{failure.value}{': ' + detail if detail else ''}")
        self.failure = failure
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """What one process may use."""

    cpu_seconds: float
    wall_seconds: float
    memory_bytes: int
    memory_kind: MemoryLimit = "as"
    output_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class Completed:
    """A process that exited by itself."""

    returncode: int
    stdout: bytes
    stderr: bytes


def clean_environment(
    home: Path, tool_dirs: Sequence[Path], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment of an analyzer process (nothing inherited), with ``home`` as its home."""
    search = [str(directory) for directory in tool_dirs] + ["/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": os.pathsep.join(dict.fromkeys(search)),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUTF8": "1",
    }
    env.update(extra or {})
    return env


def _limiter(limits: Limits) -> Callable[[], None]:
    """The function the child runs before exec: its resource limits (async-signal-safe calls only)."""
    cpu = max(1, int(limits.cpu_seconds + 0.999))
    memory = int(limits.memory_bytes)
    kind = resource.RLIMIT_AS if limits.memory_kind == "as" else resource.RLIMIT_DATA

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(kind, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_SIZE_LIMIT, _FILE_SIZE_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _prlimit_options(limits: Limits) -> list[str]:
    """The same limits as :func:`_limiter`, as ``prlimit`` options (``soft:hard``)."""
    cpu = max(1, int(limits.cpu_seconds + 0.999))
    memory = int(limits.memory_bytes)
    return [
        f"--cpu={cpu}:{cpu + 1}",
        f"--{limits.memory_kind}={memory}:{memory}",
        f"--fsize={_FILE_SIZE_LIMIT}:{_FILE_SIZE_LIMIT}",
        "--core=0:0",
        "--",
    ]


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # The group's id stays reserved while any member lives, so this never reaches an unrelated process
    # group unless the pid space wrapped around between the leader's exit and this call.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    """Everything ``stream`` yields up to ``cap`` bytes, and whether more was offered."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await stream.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks), False
        size += len(chunk)
        if size > cap:
            return b"".join(chunks), True
        chunks.append(chunk)


async def _close(process: asyncio.subprocess.Process) -> None:
    """Read what is left in the pipes of a dead process group (so they close) and reap it, within bounds."""
    assert process.stdout is not None
    assert process.stderr is not None
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_SECONDS):
            await asyncio.gather(_drain(process.stdout, 0), _drain(process.stderr, 0))
            await process.wait()


async def _drain(stream: asyncio.StreamReader, keep: int) -> bytes:
    """The first ``keep`` bytes of ``stream``; the rest is read and dropped so the child never blocks."""
    kept = bytearray()
    while chunk := await stream.read(_READ_CHUNK):
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
    return bytes(kept)


def _signal_failure(returncode: int) -> Failure | None:
    """The limit a process killed by a signal most likely hit (None: it exited by itself)."""
    if returncode >= 0:
        return None
    if -returncode == signal.SIGXCPU:
        return Failure.CPU
    if -returncode == signal.SIGKILL:
        return Failure.KILLED
    # Allocation failures under a memory cap usually end in an abort or a segmentation fault.
    if -returncode in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        return Failure.MEMORY
    return Failure.CRASHED


def exit_failure(completed: Completed) -> SandboxError:
    """The error for a process that exited with a status its tool does not use for a normal run."""
    text = completed.stderr.decode("utf-8", errors="replace").lower()
    if "memoryerror" in text or "out of memory" in text or "cannot allocate memory" in text:
        return SandboxError(Failure.MEMORY, f"exit status {completed.returncode}")
    return SandboxError(Failure.CRASHED, f"exit status {completed.returncode}")


async def run_limited(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], limits: Limits) -> Completed:
    """Run ``argv`` in ``cwd`` under ``limits``; :class:`SandboxError` when a limit is hit or it cannot start.

    A non-zero exit status is not an error here (linters exit 1 when they find something): the caller
    decides which statuses mean success (:func:`exit_failure` for the others).
    """
    # The tool is found on the sandbox's PATH here, so that a missing one is told apart from prlimit's errors.
    tool = argv[0] if os.sep in argv[0] else shutil.which(argv[0], path=env.get("PATH", os.defpath))
    if tool is None or not os.access(tool, os.X_OK):
        raise SandboxError(Failure.MISSING, Path(argv[0]).name)
    command = [tool, *argv[1:]]
    if _PRLIMIT is not None:
        command = [_PRLIMIT, *_prlimit_options(limits), *command]
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=str(cwd),
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            # Without prlimit, the limits are set in the child before exec (it only calls setrlimit).
            preexec_fn=_limiter(limits) if _PRLIMIT is None else None,
            close_fds=True,
        )
    except FileNotFoundError as exc:
        raise SandboxError(Failure.MISSING, Path(argv[0]).name) from exc
    except OSError as exc:
        raise SandboxError(Failure.CRASHED, f"could not start: {exc.strerror or exc}") from exc
    assert process.stdout is not None
    assert process.stderr is not None
    reading = asyncio.ensure_future(_read_capped(process.stdout, limits.output_bytes))
    errors = asyncio.ensure_future(_drain(process.stderr, _STDERR_KEPT))
    try:
        async with asyncio.timeout(limits.wall_seconds):
            # ``process.wait()`` returns only once every pipe is closed, which a child left behind can
            # prevent; ``returncode`` is set as soon as the process itself exits.
            while process.returncode is None and not reading.done():
                await asyncio.wait({reading}, timeout=_POLL_SECONDS)
            if reading.done() and reading.result()[1]:
                raise SandboxError(Failure.OUTPUT, f"more than {limits.output_bytes} bytes")
            if process.returncode is not None:
                # A child left behind may still hold the pipes open: it goes with its parent.
                _kill_group(process)
            stdout, overflow = await reading
            if overflow:
                raise SandboxError(Failure.OUTPUT, f"more than {limits.output_bytes} bytes")
            stderr = await errors
            returncode = await process.wait()
    except TimeoutError:
        raise SandboxError(Failure.TIMEOUT, f"after {limits.wall_seconds:.0f} s") from None
    finally:
        # Whatever happened (limit, cancellation), nothing of the process group survives this call.
        _kill_group(process)
        for task in (reading, errors):
            task.cancel()
        await asyncio.gather(reading, errors, return_exceptions=True)
        await asyncio.shield(_close(process))
    failure = _signal_failure(returncode)
    if failure is not None:
        raise SandboxError(failure, f"signal {-returncode}")
    return Completed(returncode=returncode, stdout=stdout, stderr=stderr)
