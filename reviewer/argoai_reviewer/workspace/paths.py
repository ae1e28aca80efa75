"""Repository paths as the workspace accepts them: relative, normalised, inside the tree, never ``.git``.

One function decides, for archive members and for every read alike, so a path the archive could not hold
cannot be read either.
"""

from __future__ import annotations

import posixpath

GIT_DIR = ".git"


def clean_path(path: str) -> str | None:
    """``path`` normalised (``a/./b//c`` → ``a/b/c``), or None when it is absolute, leaves the tree, names the
    root itself, has a ``.git`` component or holds a NUL or a backslash-escaped drive (``C:``)."""
    if not path or "\x00" in path or path.startswith(("/", "\\")):
        return None
    normal = posixpath.normpath(path)
    if normal in (".", "") or normal.startswith("../") or normal == "..":
        return None
    parts = normal.split("/")
    if any(part == GIT_DIR or part == ".." for part in parts):
        return None
    if len(parts[0]) == 2 and parts[0][1] == ":":  # a Windows drive letter smuggled into a tar name
        return None
    return normal


def strip_components(name: str, count: int) -> str | None:
    """``name`` without its first ``count`` components (GitHub's ``owner-repo-sha/`` prefix), or None."""
    name = name.removeprefix("./")
    if not count:
        return name
    parts = name.split("/", count)
    return parts[count] if len(parts) > count and parts[count] else None
