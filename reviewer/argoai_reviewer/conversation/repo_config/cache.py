"""Read a repository's ``.github/argoai.yaml`` from its default branch, with a short in-process cache.

The file is fetched at the DEFAULT branch named in the webhook (``repository.default_branch``), never at the
pull request's head or base: a pull request cannot change its own review rules, and a PR into a release
branch gets the rules its maintainers merged on the default branch. A job without a default branch (written
by an older intake) gets no in-repo configuration rather than a guess.

Entries live ``ttl_seconds`` (a pushed config applies within that time) and are keyed by host, installation,
repository and branch, so two GitHub hosts or installations never share one. A failed fetch is not cached:
the error reaches the caller (the job is retried) instead of silently reviewing without the repository's
rules.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from argoai_core.models.job import RepoRef
from argoai_reviewer.conversation.ports import PullRequestReader
from argoai_reviewer.conversation.repo_config.model import CONFIG_PATH, ParsedConfig, parse_repo_config

_Key = tuple[str, int, str, str, str]


class RepoConfigCache:
    """Parsed in-repo configurations by (host, installation, owner, repository, branch), for a short time."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[_Key, tuple[float, ParsedConfig]] = OrderedDict()

    async def get(
        self, reader: PullRequestReader, installation_id: int, repo: RepoRef, default_branch: str | None
    ) -> ParsedConfig:
        """The configuration of ``repo`` at ``default_branch`` (nothing when the branch is unknown)."""
        if default_branch is None:
            return ParsedConfig(None)
        key = (repo.host, installation_id, repo.owner.lower(), repo.name.lower(), default_branch)
        now = self._clock()
        cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        parsed = parse_repo_config(await reader.file_text(repo, CONFIG_PATH, default_branch))
        self._entries[key] = (now + self._ttl, parsed)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return parsed
