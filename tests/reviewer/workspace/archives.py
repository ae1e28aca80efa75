"""Build tar archives for the workspace tests: GitHub's layout, or crafted members an attacker could send."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable

PREFIX = "octo-repo-1234567"


def member(name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    """A tar header (``kind`` a tarfile type, ``link`` the target of a link)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    info.mode = 0o644
    return info


def archive(files: dict[str, bytes | str], extra: Iterable[tuple[tarfile.TarInfo, bytes]] = ()) -> bytes:
    """A tar.gz with ``files`` under GitHub's top directory, then the ``extra`` raw members."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            tar.addfile(member(f"{PREFIX}/{path}", data), io.BytesIO(data))
        for info, data in extra:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()
