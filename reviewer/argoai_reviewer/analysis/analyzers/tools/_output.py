"""Reading tool output safely: JSON that may be cut or odd, paths made relative, rule ids checked."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson

from argoai_core.models.findings import RULE_PATTERN

_RULE = re.compile(RULE_PATTERN)


class OutputError(ValueError):
    """The tool's output is not what it documents: the run counts as failed."""


def load_json(stdout: bytes) -> Any:
    """The JSON document in ``stdout`` (empty output: None)."""
    if not stdout.strip():
        return None
    try:
        return orjson.loads(stdout)
    except orjson.JSONDecodeError as exc:
        raise OutputError(f"not JSON: {exc}") from None


def relative(path: str, files: Collection[str], root: Path) -> str | None:
    """The checked file ``path`` names (absolute under ``root``, ``./``-prefixed or as given), or None.

    ``files`` is searched with ``in``: callers handling many reports pass a set.
    """
    if path in files:
        return path
    candidate = path
    prefix = f"{root}/"
    if candidate.startswith(prefix):
        candidate = candidate[len(prefix) :]
    while candidate.startswith("./"):
        candidate = candidate[2:]
    return candidate if candidate in files else None


def rule_id(value: object) -> str | None:
    """``value`` when it is a well-formed rule id, else None (never trust a tool's string blindly)."""
    text = str(value) if value is not None else ""
    return text if _RULE.match(text) else None


def integer(value: object) -> int | None:
    """``value`` as a positive line number, else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def message(value: object) -> str:
    """A tool's message as one line of text without control or format characters (a message quotes code
    from the repository: no terminal escape or bidirectional control may pass through)."""
    text = str(value or "")
    if not text.isprintable():  # the rare case: something other than printable characters and spaces
        text = "".join(
            " " if char.isspace() else char
            for char in text
            if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf")
        )
    return " ".join(text.split())
