"""An in-memory :class:`~argoai_reviewer.index.tree.SourceTree` for the index and related-code tests."""

from __future__ import annotations

import hashlib


class MemoryTree:
    """Files in a dict; the digest is the content's SHA-1, as the workspace's manifests have it."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.reads: list[str] = []

    def paths(self) -> list[str]:
        return sorted(self.files)

    def digest(self, path: str) -> str | None:
        text = self.files.get(path)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest() if text is not None else None

    def read_text(self, path: str) -> str | None:
        self.reads.append(path)
        return self.files.get(path)
