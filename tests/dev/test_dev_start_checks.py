"""``argoai dev`` refuses what it cannot use before printing "running": bad flags, an old NATS set
explicitly, a malformed App key; and falls back to its own NATS when the default one is too old."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from argoai_cli.adapters.nats_server import NatsServer, describe
from argoai_cli.local_services import free_port
from support.devprocess import DevProcess, processes_using
from support.fake_github.server import FakeGitHub
from support.system import wait_until

StartDev = Callable[[dict[str, str]], DevProcess]
StartDevWith = Callable[..., DevProcess]
MACHINE_NATS = "nats://127.0.0.1:4222"


def machine_nats_is_old() -> bool:
    """Whether the machine's NATS on :4222 answers and is older than 2.10 (Debian's 2.9.10 here)."""
    found = asyncio.run(describe([MACHINE_NATS], 2))
    return isinstance(found, NatsServer) and found.release < (2, 10, 0)


needs_old_machine_nats = pytest.mark.skipif(
    not machine_nats_is_old(),
    reason="needs an old (< 2.10) nats-server on 127.0.0.1:4222, as on this machine",
)


def failed_at_start(dev: DevProcess) -> str:
    """The one error line of a dev that exited 2 before starting anything."""
    assert dev.process.wait(timeout=60) == 2, dev.output
    wait_until(lambda: any(line.startswith("argoai:") for line in dev.lines), 5, "the error line")
    assert "Traceback" not in dev.output
    assert not any(line.startswith("argoai dev: running") for line in dev.lines)
    assert processes_using(dev.state_dir) == []
    [line] = [line for line in dev.lines if line.startswith("argoai:")]
    return line


@needs_old_machine_nats
def test_too_old_nats_at_the_default_url_falls_back_to_the_embedded_one_saying_why(
    base_env: dict[str, str], dev_processes: StartDev
) -> None:
    """ARGOAI_NATS_URL unset and the server on :4222 is 2.9: dev says so, starts its own 2.15 and runs."""
    env = {key: value for key, value in base_env.items() if key != "ARGOAI_NATS_URL"}
    dev = dev_processes(env)
    line = dev.wait_for_line(
        r"the NATS at nats://127\.0\.0\.1:4222 is nats-server (2\.\d+\.\d+), too old: ArgoAI needs "
        r"2\.10\.0 or newer \(the reviewer's intake consumer filters on several subjects, which older "
        r"servers ignore\): started an embedded nats-server at nats://127\.0\.0\.1:\d+ "
        r"\(nats-server (\d+\.\d+\.\d+),"
    )
    assert tuple(int(part) for part in line.group(2).split(".")) >= (2, 10, 0)
    dev.wait_for_line(r"^  NATS      nats://127\.0\.0\.1:\d+ \(embedded nats-server 2\.")
    dev.wait_ready()
    assert dev.interrupt() == 0


@needs_old_machine_nats
def test_too_old_nats_set_explicitly_is_refused_in_one_line(
    base_env: dict[str, str], dev_processes: StartDev
) -> None:
    """ARGOAI_NATS_URL set to the 2.9 server (with credentials): exit 2, one line naming the variable, the
    version and what ArgoAI needs; the credentials are not printed and nothing starts."""
    dev = dev_processes({**base_env, "ARGOAI_NATS_URL": "nats://someone:s3cret-pw@127.0.0.1:4222"})
    line = failed_at_start(dev)
    assert re.fullmatch(
        r"argoai: configuration error: ARGOAI_NATS_URL: nats://127\.0\.0\.1:4222 is nats-server 2\.9\.\d+, "
        r"too old: ArgoAI needs 2\.10\.0 or newer \(.*\)",
        line,
    ), line
    assert "s3cret" not in dev.output
    assert not (dev.state_dir / "nats").exists()


def test_taken_port_fails_before_the_banner(
    base_env: dict[str, str], dev_with_args: StartDevWith, tmp_path: Path
) -> None:
    """The gateway port is taken: one line naming --port, exit 2, no "running" banner, nothing started."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        dev = dev_with_args(base_env, "--port", str(port), "--state-dir", str(tmp_path / "state"))
        line = failed_at_start(dev)
    assert line == (
        f"argoai: configuration error: --port {port}: cannot listen on 127.0.0.1:{port}: "
        "Address already in use"
    )
    assert not (tmp_path / "state" / "nats").exists()


def test_metrics_port_equal_to_the_gateway_port_is_refused(
    base_env: dict[str, str], fake_github: FakeGitHub, dev_with_args: StartDevWith, tmp_path: Path
) -> None:
    """With the reviewer to run, --metrics-port equal to --port is refused naming both flags (exit 2)."""
    app = fake_github.install_app()
    env = {**base_env, "ARGOAI_GITHUB_APP_ID": str(app.app_id), "ARGOAI_GITHUB_PRIVATE_KEY": app.key.pkcs8}
    port = str(free_port())
    dev = dev_with_args(env, "--port", port, "--metrics-port", port, "--state-dir", str(tmp_path / "state"))
    line = failed_at_start(dev)
    assert line == (
        f"argoai: configuration error: --metrics-port {port}: cannot listen on 127.0.0.1:{port}: "
        "Address already in use (used by --port)"
    )


def _a_file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("not a directory")
    return tmp / "a-file"


def _under_a_file(tmp: Path) -> Path:
    return _a_file(tmp) / "state"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_a_file, "exists and is not a directory"),
        (_under_a_file, "cannot create it: Not a directory"),
        (lambda _: Path("/proc/argoai-state"), "cannot create it: No such file or directory"),
    ],
    ids=["a-file", "under-a-file", "cannot-create"],
)
def test_unusable_state_dir_is_one_line(
    base_env: dict[str, str],
    dev_with_args: StartDevWith,
    tmp_path: Path,
    make: Callable[[Path], Path],
    problem: str,
) -> None:
    """A --state-dir that is a file or cannot be created: one line naming the flag and why (exit 2)."""
    state_dir = make(tmp_path)
    dev = dev_with_args(base_env, "--port", str(free_port()), "--state-dir", str(state_dir))
    assert failed_at_start(dev) == f"argoai: configuration error: --state-dir {state_dir}: {problem}"


def test_malformed_app_key_is_a_configuration_error_at_start(
    base_env: dict[str, str], dev_with_args: StartDevWith, tmp_path: Path
) -> None:
    """An App key that is PEM-shaped but not a key: exit 2 at start, one line naming the variable, and
    nothing of the key printed (instead of a GitHub error on every review later)."""
    body = "MIIEowIBAAKCAQEAtruncatedkeymaterialXYZ"
    key = f"-----BEGIN RSA PRIVATE KEY-----\\n{body}\\n-----END RSA PRIVATE KEY-----"
    env = {**base_env, "ARGOAI_GITHUB_APP_ID": "42", "ARGOAI_GITHUB_PRIVATE_KEY": key}
    dev = dev_with_args(env, "--port", str(free_port()), "--state-dir", str(tmp_path / "state"))
    line = failed_at_start(dev)
    assert line == (
        "argoai: configuration error: ARGOAI_GITHUB_PRIVATE_KEY: is not a valid PEM RSA private key "
        "(truncated or damaged key data)"
    )
    assert body not in dev.output
