"""Workspace: a repository's files at one commit, unpacked safely under a per-process cache directory.

:mod:`.store` fetches an archive of the reviewed head once per (host, repository, commit) and keeps it in an
LRU cache bounded in bytes; :mod:`.archive` unpacks it refusing anything unsafe (absolute paths, ``..``,
links, devices, ``.git/``) within size and file-count caps; :mod:`.snapshot` serves the files read-only:
read a range of lines, list a directory, search text. Nothing from the repository is ever executed. The
archive itself comes through :class:`~.store.ArchiveSource`, a Protocol the GitHub adapter and local git
implement. Uses only the shared base modules (``metrics``) and ``argoai_core``.
"""
