"""Who may give ArgoAI commands: members by association, anyone else by write permission (asked of GitHub).

GitHub's ``author_association`` says ``OWNER``, ``MEMBER`` or ``COLLABORATOR`` for most people who may write
to a repository, but an organization member whose membership is private shows as ``CONTRIBUTOR``; for them
(and anyone else not a bot) the collaborator-permission endpoint decides: ``admin``, ``maintain`` or
``write``. Its answer is cached briefly in Redis, so a busy thread does not ask GitHub for every comment and a
revoked permission stops working within minutes.
"""

from __future__ import annotations

from argoai_core.logs import get_logger
from argoai_core.models.job import RepoRef
from argoai_reviewer.conversation.commands.grammar import WRITE_ROLES, Untrusted, untrusted
from argoai_reviewer.conversation.ports import ConversationKeys, ConversationReader

log = get_logger(__name__)

PERMISSION_TTL_SECONDS = 300.0
"""How long GitHub's answer about one user's permission is reused."""


class Trust:
    """Decides whether a person may give commands (or reject a finding with 👎)."""

    def __init__(self, keys: ConversationKeys, *, ttl_seconds: float = PERMISSION_TTL_SECONDS) -> None:
        self._keys = keys
        self._ttl = ttl_seconds

    async def may_command(
        self,
        gh: ConversationReader,
        repo: RepoRef,
        login: str,
        association: str | None,
        *,
        is_bot: bool = False,
    ) -> bool:
        """Whether ``login`` may give commands: by ``association``, else by write permission on ``repo``."""
        why = untrusted(login, "Bot" if is_bot else "User", association)
        if why is None:
            return True
        if why is Untrusted.BOT:
            return False
        return await self.can_write(gh, repo, login)

    async def can_write(self, gh: ConversationReader, repo: RepoRef, login: str) -> bool:
        """Whether ``login`` holds at least write permission on ``repo`` (cached)."""
        key = f"permission:{repo.host}/{repo.full_name}:{login.lower()}"
        role = await self._keys.get(key)
        if role is None:
            role = await gh.permission(repo, login)
            await self._keys.put(key, role, self._ttl)
            log.info("asked GitHub for a permission", user=login, role=role)
        return role in WRITE_ROLES
