"""Replies that are posted once: command answers, refusals, "addressed" notes; and the 👀 acknowledgement.

A job may run again after it posted (a pod died, an acknowledgement was lost, GitHub answered 502 to a write
it had done), so each reply has a ledger entry in Redis, keyed by what it answers and why:

* ``done``: posted; never again;
* ``pending``: an attempt started and did not record its end; GitHub is asked whether the reply is there
  (every reply ends with a hidden marker naming the comment it answers and why) before posting it again;
* none: post it.

A reaction needs no ledger: GitHub keeps one reaction per user and content (a repeat answers 200).
"""

from __future__ import annotations

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.job import CommentKind, RepoRef
from argoai_reviewer.conversation.markers import find_reply_marker, reply_marker
from argoai_reviewer.conversation.ports import ConversationGitHub, ConversationKeys

log = get_logger(__name__)

PENDING_SECONDS = 3600.0
"""How long an unfinished attempt is remembered (GitHub is asked before posting again)."""


class Replies:
    """Posts replies once and reacts to comments, for one bot account."""

    def __init__(self, keys: ConversationKeys, *, bot_name: str, remember_seconds: float) -> None:
        self._keys = keys
        self._bot = f"{bot_name.lower()}[bot]"
        self._remember = remember_seconds

    def is_ours(self, author: str, author_is_bot: bool) -> bool:
        """Whether a comment was written by this App's bot account."""
        return author_is_bot and author.lower() == self._bot

    async def once(
        self,
        gh: ConversationGitHub,
        repo: RepoRef,
        number: int,
        *,
        kind: CommentKind,
        target: int,
        purpose: str,
        text: str,
        thread: int | None = None,
    ) -> bool:
        """Post ``text`` answering comment ``target`` for ``purpose`` unless posted; True if posted now.

        ``kind`` ``issue``: a new conversation comment; ``review``: a reply in the diff thread ``thread``
        (the id of the thread's first comment; GitHub refuses a reply to a reply).
        """
        key = self._key(repo, number, kind, target, purpose)
        if await self.settled(gh, repo, number, kind=kind, target=target, purpose=purpose):
            return False
        await self._keys.put(key, "pending", PENDING_SECONDS)
        body = f"{text}\n\n{reply_marker(target, purpose)}"
        if kind == "issue":
            await gh.create_comment(repo, number, body)
        else:
            await gh.reply_in_thread(repo, number, thread or target, body)
        await self._keys.put(key, "done", self._remember)
        return True

    @staticmethod
    def _key(repo: RepoRef, number: int, kind: CommentKind, target: int, purpose: str) -> str:
        return f"reply:{repo.host}/{repo.full_name}#{number}:{kind}:{target}:{purpose}"

    async def settled(
        self,
        gh: ConversationGitHub,
        repo: RepoRef,
        number: int,
        *,
        kind: CommentKind,
        target: int,
        purpose: str,
    ) -> bool:
        """Whether the reply to comment ``target`` for ``purpose`` is posted (by the ledger, or, after an
        unfinished attempt, by GitHub): an answer that costs an LLM call is asked for only when it is not."""
        key = self._key(repo, number, kind, target, purpose)
        status = await self._keys.get(key)
        if status == "done":
            return True
        if status == "pending" and await self._already_posted(gh, repo, number, kind, target, purpose):
            await self._keys.put(key, "done", self._remember)
            return True
        return False

    async def _already_posted(
        self, gh: ConversationGitHub, repo: RepoRef, number: int, kind: CommentKind, target: int, purpose: str
    ) -> bool:
        comments = (
            await gh.issue_comments(repo, number)
            if kind == "issue"
            else await gh.review_comments(repo, number)
        )
        return any(
            self.is_ours(c.author, c.author_is_bot) and find_reply_marker(c.body) == (target, purpose)
            for c in comments
        )

    async def acknowledge(
        self, gh: ConversationGitHub, repo: RepoRef, kind: CommentKind, comment_id: int
    ) -> None:
        """React 👀 to a command; a comment deleted meanwhile (or a missing permission) is only logged."""
        try:
            await gh.react(repo, kind, comment_id, "eyes")
        except PermanentError as exc:
            log.warning("could not acknowledge a command", comment=comment_id, error=str(exc))
