"""The ``argoai`` command line as a user types it: version, help, and flag errors as one line (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ARGOAI = str(Path(sys.executable).parent / "argoai")
COMMANDS = ["gateway", "reviewer", "dev", "review", "operator", "redeliver"]


def argoai(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``argoai`` with ``args`` (only PATH and HOME unless ``env`` adds more)."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [ARGOAI, *args], env={**base, **(env or {})}, capture_output=True, text=True, timeout=60, check=False
    )


def test_version_prints_the_installed_version() -> None:
    """``argoai --version`` prints the package's version and exits 0."""
    result = argoai("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"argoai {version('argoai')}"


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_short_and_long_help_list_every_command(flag: str) -> None:
    """``argoai -h`` and ``argoai --help`` show the usage and every subcommand, exit 0."""
    result = argoai(flag)
    assert result.returncode == 0, result.stderr
    assert "Usage: argoai" in result.stdout
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_dash_h(command: str) -> None:
    """``argoai <command> -h`` shows that command's help and starts nothing (exit 0)."""
    result = argoai(command, "-h")
    assert result.returncode == 0, result.stderr
    assert f"Usage: argoai {command}" in result.stdout


@pytest.mark.parametrize(
    ("args", "flag", "value"),
    [
        (["gateway", "--port", "99999"], "--port", "99999"),
        (["gateway", "--port", "0"], "--port", "0"),
        (["reviewer", "--metrics-port", "65536"], "--metrics-port", "65536"),
        (["dev", "--port", "99999"], "--port", "99999"),
        (["dev", "--metrics-port", "-1"], "--metrics-port", "-1"),
    ],
)
def test_out_of_range_port_is_one_line_naming_the_flag(args: list[str], flag: str, value: str) -> None:
    """A port outside 1-65535 is refused before anything starts: one line naming the flag, exit 2."""
    result = argoai(*args, env={"ARGOAI_GITHUB_WEBHOOK_SECRET": "usage-test-secret-0123456789"})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"argoai {args[0]}: Invalid value for '{flag}': {value} is not a TCP port (1-65535) "
        f"('argoai {args[0]} -h' for help)"
    )
    assert result.stdout == ""


def test_unknown_option_and_command_are_one_line() -> None:
    """A mistyped option or command is one line with a pointer to -h (exit 2), not a box or a traceback."""
    option = argoai("dev", "--prot", "8080")
    assert option.returncode == 2
    [line] = option.stderr.strip().splitlines()
    assert line.startswith("argoai dev: No such option: --prot")
    assert line.endswith("('argoai dev -h' for help)")
    command = argoai("deploy")
    assert command.returncode == 2
    assert command.stderr.strip().splitlines() == ["argoai: No such command 'deploy'. ('argoai -h' for help)"]


def test_no_arguments_shows_help() -> None:
    """``argoai`` alone shows the help (exit 2, as a usage error)."""
    result = argoai()
    assert result.returncode == 2
    assert "Usage: argoai" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
