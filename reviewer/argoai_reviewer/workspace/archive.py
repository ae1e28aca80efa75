"""Unpack a repository archive (tar, optionally gzipped) into a directory, refusing anything unsafe.

Every member goes through :func:`tarfile.data_filter` (no absolute paths, no ``..``, no device files or
FIFOs, no links out of the tree) after its top directory is stripped, then through the workspace's own rules
(:func:`~.paths.clean_path`: no ``.git``). Only regular text files up to ``max_file_bytes`` are written, with
exclusive creation under a fresh directory, so nothing can be overwritten or reached through a link:
symlinks are never created on disk, they are recorded in the manifest with their target (when it stays
inside the tree) and followed by the snapshot's reads within the tree only. Hard links are refused.

Caps guard against archive bombs: the number of members and the bytes they unpack to are counted from the
headers before any data is read, and unpacking stops with :class:`OverLimitError` past either. The archive is
read as a stream, so memory stays flat whatever its size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from argoai_core.errors import InvalidInputError
from argoai_reviewer.workspace.paths import clean_path, strip_components

MANIFEST = "manifest.json"
FILES = "files"
MANIFEST_VERSION = 1
# A binary file has a NUL byte in its first block (git's own heuristic looks at the first 8,000 bytes).
BINARY_SNIFF = 8000
MAX_PATH = 4096
MAX_REFUSED_KEPT = 100


class OverLimitError(InvalidInputError):
    """The archive is larger than the workspace accepts; ``reason`` says which cap, for the summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"repository archive refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class UnpackLimits:
    """How much of an archive is unpacked."""

    max_files: int = 50_000
    max_bytes: int = 512 * 1024 * 1024
    max_file_bytes: int = 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_files < 1 or self.max_bytes < 1 or self.max_file_bytes < 1:
            raise ValueError("archive limits must be positive")


@dataclass(frozen=True)
class FileEntry:
    """A text file kept in the snapshot: its size and a digest of its content (the index's cache key)."""

    size: int
    digest: str


@dataclass
class Manifest:
    """What an unpacked archive holds: text files kept, symlinks, files listed but not kept, refusals."""

    files: dict[str, FileEntry] = field(default_factory=dict)
    symlinks: dict[str, str] = field(default_factory=dict)
    omitted: dict[str, str] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    refused_count: int = 0
    unpacked_bytes: int = 0

    @property
    def stored_bytes(self) -> int:
        """Bytes of the files written to disk."""
        return sum(entry.size for entry in self.files.values())

    def refuse(self, name: str, reason: str) -> None:
        """Record a member that was not unpacked (the first few by name, all of them by count)."""
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSED_KEPT:
            self.refused.append((name[:MAX_PATH], reason))

    def save(self, directory: Path) -> None:
        """Write the manifest next to the files."""
        data = {
            "version": MANIFEST_VERSION,
            "files": {path: [entry.size, entry.digest] for path, entry in self.files.items()},
            "symlinks": self.symlinks,
            "omitted": self.omitted,
            "refused": self.refused,
            "refused_count": self.refused_count,
            "unpacked_bytes": self.unpacked_bytes,
        }
        (directory / MANIFEST).write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        """Read the manifest of an unpacked snapshot; ValueError when it is missing or of another version."""
        try:
            data: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"no readable manifest in {directory}: {exc}") from exc
        if data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"manifest of {directory} has version {data.get('version')!r}")
        return cls(
            files={path: FileEntry(size, digest) for path, (size, digest) in data["files"].items()},
            symlinks=dict(data["symlinks"]),
            omitted=dict(data["omitted"]),
            refused=[(name, reason) for name, reason in data["refused"]],
            refused_count=int(data["refused_count"]),
            unpacked_bytes=int(data["unpacked_bytes"]),
        )


def _link_target(path: str, linkname: str) -> str | None:
    """The in-tree path a symlink at ``path`` points to, or None when it points outside the tree."""
    if linkname.startswith("/"):
        return None
    return clean_path(posixpath.join(posixpath.dirname(path), linkname))


def _write(root: Path, path: str, data: bytes) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    # "x": never replace a file (a duplicate member), never follow anything: the tree holds no links.
    with target.open("xb") as out:
        out.write(data)


def _member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, path: str, root: Path, limits: UnpackLimits, out: Manifest
) -> None:
    """Unpack one member already known to have a clean ``path``."""
    try:
        # The standard library's "data" filter: refuses absolute names, '..', devices, links out of the tree.
        tarfile.data_filter(member.replace(name=path, deep=False), str(root))
    except tarfile.FilterError as exc:
        out.refuse(path, f"refused by the data filter: {type(exc).__name__}")
        return
    if member.issym():
        target = _link_target(path, member.linkname)
        if target is None:
            out.refuse(path, "symlink pointing outside the repository")
        else:
            out.symlinks[path] = target
        return
    if member.islnk():
        out.refuse(path, "hard link")
        return
    if not member.isreg():
        out.refuse(path, "not a regular file")
        return
    if member.size > limits.max_file_bytes:
        out.omitted[path] = f"larger than {limits.max_file_bytes:,} bytes"
        return
    handle = tar.extractfile(member)
    data = handle.read() if handle is not None else b""
    if b"\x00" in data[:BINARY_SNIFF]:
        out.omitted[path] = "binary"
        return
    try:
        _write(root, path, data)
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        out.refuse(path, "clashes with another member of the archive")
        return
    out.files[path] = FileEntry(len(data), hashlib.sha1(data, usedforsecurity=False).hexdigest())


def unpack(archive: IO[bytes], directory: Path, limits: UnpackLimits, *, strip: int = 1) -> Manifest:
    """Unpack ``archive`` (a tar stream, gzipped or not) into ``directory``/files; return its manifest.

    ``strip`` leading path components are removed from every member (GitHub's archives hold everything
    under one ``owner-repo-sha/`` directory). ``directory`` must not exist yet. Raises :class:`OverLimitError`
    when the archive has more members or unpacks to more bytes than ``limits`` allow, and
    ``InvalidInputError`` when it is not a tar archive.
    """
    root = directory / FILES
    root.mkdir(parents=True)
    manifest = Manifest()
    members = 0
    try:
        with tarfile.open(fileobj=archive, mode="r|*") as tar:
            for member in tar:
                # Stream mode keeps every header it has read; nothing here looks back, so drop them.
                tar.members = []  # type: ignore[attr-defined]
                members += 1
                if members > limits.max_files:
                    raise OverLimitError(f"more than {limits.max_files:,} files")
                manifest.unpacked_bytes += max(0, member.size)
                if manifest.unpacked_bytes > limits.max_bytes:
                    raise OverLimitError(f"unpacks to more than {limits.max_bytes:,} bytes")
                name = strip_components(member.name, strip)
                if name is None or member.isdir():
                    continue
                # An absolute member name is refused whole, not made relative by stripping its first part.
                path = clean_path(name) if len(name) <= MAX_PATH and not member.name.startswith("/") else None
                if path is None:
                    manifest.refuse(name, "path outside the repository or inside .git")
                    continue
                _member(tar, member, path, root, limits, manifest)
    except tarfile.TarError as exc:
        raise InvalidInputError(f"the repository archive is not a valid tar archive: {exc}") from exc
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise InvalidInputError(f"the repository archive is corrupt or truncated: {exc}") from exc
    manifest.save(directory)
    return manifest
