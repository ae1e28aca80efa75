"""Turn configuration errors into one clear line and exit status 2, instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from argoai_core.errors import ConfigError


@contextmanager
def config_errors() -> Iterator[None]:
    """Run a command; a ConfigError prints ``argoai: configuration error: …`` and exits 2."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"argoai: configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
