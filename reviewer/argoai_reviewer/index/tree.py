"""The files an index reads: a Protocol the index owns and the workspace's snapshots implement."""

from __future__ import annotations

from typing import Protocol


class SourceTree(Protocol):
    """A repository's text files at one commit."""

    def paths(self) -> list[str]:
        """Every text file, sorted."""
        ...

    def digest(self, path: str) -> str | None:
        """A digest of the file's content (equal contents, equal digests), or None when it is not there."""
        ...

    def read_text(self, path: str) -> str | None:
        """The file's text, or None."""
        ...
