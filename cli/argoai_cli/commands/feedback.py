"""``argoai feedback``: the findings a repository's team rejected (👎 or ``dismiss``), and clearing them."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Annotated

import typer

from argoai_cli.errors import config_errors

if TYPE_CHECKING:
    from argoai_core.models.job import RepoRef
    from argoai_core.settings import RedisSettings

REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
COUNTERS = ("posted", "thumbs_up", "thumbs_down", "dismissed", "addressed")


def command(
    repo: Annotated[str, typer.Argument(help="The repository, owner/name")],
    clear: Annotated[
        str | None,
        typer.Option("--clear", metavar="ID", help="Forget one rejection (its id, or a unique prefix)"),
    ] = None,
    clear_all: Annotated[
        bool, typer.Option("--clear-all", help="Forget every rejection of the repository")
    ] = False,
) -> None:
    """List what the team rejected in REPO (such findings are no longer posted there), or clear it.

    The GitHub host comes from ARGOAI_GITHUB_API_URL and Redis from ARGOAI_REDIS_URL and
    ARGOAI_REDIS_KEY_PREFIX, as for the reviewer. Exit status 0; 1 when --clear names no rejection (or
    several); 2 on a configuration error.
    """
    from argoai_core.errors import ArgoAIError, ConfigError
    from argoai_core.models.job import RepoRef
    from argoai_core.settings import GitHubSettings, RedisSettings, load

    with config_errors():
        if not REPO.match(repo):
            raise ConfigError(f"REPO: {repo!r} is not owner/name")
        if clear is not None and clear_all:
            raise ConfigError("--clear and --clear-all: give one of them")
        github = load(GitHubSettings)
        redis = load(RedisSettings)
        owner, name = repo.split("/")
        ref = RepoRef(host=github.host, owner=owner, name=name)
        try:
            lines, status = asyncio.run(run(redis, ref, clear=clear, clear_all=clear_all))
        except ArgoAIError as exc:
            typer.echo(f"argoai: feedback failed: {exc}", err=True)
            raise typer.Exit(1) from None
    for line in lines:
        typer.echo(line)
    if status:
        raise typer.Exit(status)


async def run(
    redis: RedisSettings, repo: RepoRef, *, clear: str | None = None, clear_all: bool = False
) -> tuple[list[str], int]:
    """What to print, and the exit status."""
    from argoai_reviewer.adapters.redis_state import RedisConnection, RedisRepositoryFeedback
    from argoai_reviewer.conversation.feedback.rejections import rejection_lines

    connection = RedisConnection.from_settings(redis)
    store = RedisRepositoryFeedback(connection)
    try:
        if clear_all:
            count = await store.clear(repo)
            return [f"{repo.full_name}: {count} rejection(s) cleared"], 0
        if clear is not None:
            count = await store.clear(repo, clear)
            if count == 0:
                return [f"{repo.full_name}: no single rejection matches {clear!r}"], 1
            return [f"{repo.full_name}: rejection {clear} cleared"], 0
        rejections = rejection_lines(await store.rejections(repo))
        counts = await store.counts(repo)
    finally:
        await connection.aclose()
    tally = ", ".join(f"{name.replace('_', ' ')} {counts.get(name, 0)}" for name in COUNTERS)
    lines = [f"{repo.full_name}: {len(rejections)} rejected finding(s); comments: {tally}"]
    for rejection in rejections:
        lines.append(
            f"{rejection.id[:12]}  {inert(rejection.category, 15):<15} {inert(rejection.path, 60):<60}  "
            f"{rejection.source} by {inert(rejection.by, 40) or '?'} (#{rejection.pull_request}, "
            f"{rejection.at:%Y-%m-%d})  {inert(rejection.title, 100)}"
        )
    return lines, 0


def inert(text: str, limit: int) -> str:
    """Text from a pull request or a model, safe for a terminal: one line, no control or bidi characters."""
    one_line = " ".join(text.split())[:limit]
    return "".join(
        ch
        if ch.isprintable() and not 0x202A <= ord(ch) <= 0x202E and not 0x2066 <= ord(ch) <= 0x2069
        else f"\\u{ord(ch):04x}"
        for ch in one_line
    )
