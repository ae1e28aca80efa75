"""Read a change from a local git repository, for ``argoai review`` (no GitHub needed).

The range is reviewed like a pull request: ``base...head`` (from the merge base), renames detected.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from argoai_core.errors import InvalidInputError
from argoai_reviewer.analysis.diff import changed_files
from argoai_reviewer.domain import ChangedFile
from argoai_reviewer.workspace.archive import OverLimitError


@dataclass(frozen=True)
class LocalChange:
    """A local range: its files (with GitHub-style per-file patches) and where to read files at head."""

    repo: Path
    base: str
    head: str
    head_sha: str
    title: str
    body: str
    files: list[ChangedFile]


async def _git(repo: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "git",
        "-C",
        str(repo),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        message = err.decode(errors="replace").strip().splitlines()
        raise InvalidInputError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return out.decode("utf-8", errors="replace")


async def _commit(repo: Path, ref: str, what: str) -> str:
    try:
        return (await _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")).strip()
    except InvalidInputError:
        raise InvalidInputError(f"{what} {ref!r} is not a commit of the repository at {repo}") from None


async def read_change(repo: Path, base: str, head: str = "HEAD") -> LocalChange:
    """The change ``base...head`` of the git repository at ``repo``; InvalidInputError on a bad range."""
    try:
        await _git(repo, "rev-parse", "--git-dir")
    except InvalidInputError:
        raise InvalidInputError(f"{repo} is not a git repository") from None
    head_sha = await _commit(repo, head, "head")
    await _commit(repo, base, "base")
    diff = await _git(
        repo,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "-M",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        f"{base}...{head}",
    )
    subject, _, body = (await _git(repo, "log", "-1", "--format=%s%n%b", head_sha)).partition("\n")
    return LocalChange(
        repo=repo,
        base=base,
        head=head,
        head_sha=head_sha,
        title=subject.strip(),
        body=body.strip(),
        files=changed_files(diff),
    )


@dataclass(frozen=True)
class LocalArchive:
    """``git archive`` of a local repository's commits: an ``ArchiveSource`` for the snapshot store.

    The archive is made from the commit's tree, never from the working tree, so untracked and modified
    files are not in it; everything lies under one ``snapshot/`` directory, as in GitHub's archives.
    """

    repo: Path

    async def download_archive(self, sha: str, destination: Path, max_bytes: int) -> None:
        """Write the tar of commit ``sha`` to ``destination``; OverLimitError when it exceeds ``max_bytes``.

        git writes the file itself (``-o``): a local repository's archive is as large as its own history's
        tree, so the cap is checked on the result.
        """
        await _git(self.repo, "archive", "--format=tar", "--prefix=snapshot/", "-o", str(destination), sha)
        size = (await asyncio.to_thread(destination.stat)).st_size
        if size > max_bytes:
            raise OverLimitError(f"archive of {size:,} bytes, over {max_bytes:,}")


async def file_at(repo: Path, ref: str, path: str) -> str | None:
    """A file's text at ``ref``; None when it does not exist there or is not text."""
    try:
        text = await _git(repo, "show", f"{ref}:{path}")
    except InvalidInputError:
        return None
    return None if "\x00" in text else text
