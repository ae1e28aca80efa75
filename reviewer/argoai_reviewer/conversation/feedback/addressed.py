"""Findings fixed by a later push: the code an open finding quoted is gone or changed at the new head.

Decided per open finding whose file the push changed (every open finding when the scope of the push is not
known: a first or full review, rewritten history): the file's text at the new head is read (it is already
cached when the review read it) and the finding's quote is looked for in it, normalised exactly as anchoring
normalises quotes (line endings, trailing whitespace, edge blank lines, common indentation). Not found, or the
file is gone: addressed. A moved line is still there, so it is not addressed; a renamed file is looked at
under its new name.

An addressed finding with a thread gets one reply, "Addressed in <sha>", and the thread is resolved where
GitHub allows it (GraphQL ``resolveReviewThread``, one query for the threads' ids); the reply goes through
:class:`~argoai_reviewer.conversation.replies.Replies`, so a redelivered push replies once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.job import RepoRef
from argoai_reviewer.analysis.anchoring import MIN_FRAGMENT, normalize_block
from argoai_reviewer.conversation.ports import ConversationGitHub
from argoai_reviewer.conversation.record import PullRequestRecord, TrackedFinding
from argoai_reviewer.conversation.replies import Replies

log = get_logger(__name__)

HeadText = Callable[[str], Awaitable[str | None]]


def quote_present(quote: str, text: str) -> bool:
    """Whether the normalised ``quote`` is still in ``text``: as whole consecutive lines (compared after
    removing their common indentation), or, for a one-line quote long enough to locate code by, inside a
    line."""
    wanted = normalize_block(quote)
    if not wanted:
        return True  # nothing to look for: never call it addressed
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    size = len(wanted)
    for start in range(len(lines) - size + 1):
        if normalize_block("\n".join(lines[start : start + size])) == wanted:
            return True
    if size == 1 and len("".join(wanted[0].split())) >= MIN_FRAGMENT:
        fragment = wanted[0].strip()
        return any(fragment in line for line in lines)
    return False


async def find_addressed(
    record: PullRequestRecord,
    changed: Collection[str] | None,
    head_text: HeadText,
    *,
    renamed: Mapping[str, str] | None = None,
) -> list[TrackedFinding]:
    """The open findings whose quoted code is gone at the new head.

    ``changed``: the paths the push changed (None: unknown, look at every open finding); ``renamed`` maps an
    old path to its new one.
    """
    renamed = renamed or {}
    gone = []
    for finding in record.open_findings():
        if not finding.quote:
            continue
        path = renamed.get(finding.path, finding.path)
        if changed is not None and finding.path not in changed and path not in changed:
            continue
        text = await head_text(path)
        if text is None or not quote_present(finding.quote, text):
            gone.append(finding)
    return gone


async def announce(
    gh: ConversationGitHub,
    replies: Replies,
    repo: RepoRef,
    number: int,
    head_sha: str,
    findings: list[TrackedFinding],
) -> int:
    """Reply "Addressed in <sha>" once in each finding's thread and resolve the threads; how many replies."""
    threaded = [f for f in findings if f.comment_id is not None]
    posted = 0
    for finding in threaded:
        assert finding.comment_id is not None
        try:
            if await replies.once(
                gh,
                repo,
                number,
                kind="review",
                target=finding.comment_id,
                thread=finding.comment_id,
                purpose="addressed",
                text=f"Addressed in `{head_sha[:12]}`: the code this comment was about has changed.",
            ):
                posted += 1
        except PermanentError as exc:
            # The thread's first comment was deleted: nothing to reply to.
            log.warning("could not reply in an addressed thread", comment=finding.comment_id, error=str(exc))
    if threaded:
        await _resolve(gh, repo, number, {f.comment_id for f in threaded if f.comment_id is not None})
    return posted


async def _resolve(gh: ConversationGitHub, repo: RepoRef, number: int, first_comments: set[int]) -> None:
    try:
        threads = await gh.review_threads(repo, number)
    except PermanentError as exc:
        log.warning("could not list the threads to resolve", error=str(exc))
        return
    for thread in threads:
        if thread.first_comment_id in first_comments and not thread.resolved:
            await gh.resolve_thread(repo, thread.id)
