"""Checks of command-line options shared by several commands."""

from __future__ import annotations

import typer


def tcp_port(value: int | None) -> int | None:
    """Typer callback of a port option: refuse anything outside 1-65535, naming the value."""
    if value is not None and not 1 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a TCP port (1-65535)")
    return value
