"""The conversation's endpoints of the GitHub adapter against the fake GitHub: comments, thread replies,
reactions, permissions, check runs (50 annotations a request) and GraphQL threads, on github.com and GHES."""

from __future__ import annotations

import pytest

from argoai_core.errors import PermanentError
from argoai_core.models.job import RepoRef
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.domain import Annotation, CheckRunOutput, InlineComment, ReviewDraft
from reviewer.github.conftest import AdapterFactory
from support.fake_github import AppCredentials, FakeGitHub

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
PATCH = "@@ -0,0 +1,3 @@\n+one\n+two\n+three"


@pytest.fixture(autouse=True)
def pull(fake: FakeGitHub, app: AppCredentials) -> None:
    """Pull request #7 adding src/app.py."""
    fake.add_pull_request(
        OWNER,
        REPO,
        7,
        HEAD,
        BASE,
        [("src/app.py", PATCH, "one\ntwo\nthree\n")],
        installation_id=app.installation_id,
    )


async def _thread(adapter: GitHubAppAdapter, repo: RepoRef) -> int:
    """Post a review with one inline comment; the id of the thread's first comment."""
    draft = ReviewDraft(
        commit_id=HEAD, body="review", comments=[InlineComment(path="src/app.py", line=2, body="x")]
    )
    await adapter.installation(77).post_review(repo, 7, draft)
    comments = await adapter.installation(77).review_comments(repo, 7)
    return max(c.id for c in comments if c.in_reply_to is None)


async def test_conversation_comment_created_edited_and_listed(
    adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A created comment is edited in place and listed as the bot's."""
    gh = adapter.installation(77)
    comment_id = await gh.create_comment(repo, 7, "first")
    await gh.edit_comment(repo, comment_id, "second")
    [listed] = await gh.issue_comments(repo, 7)
    assert (listed.id, listed.body, listed.author, listed.author_is_bot) == (
        comment_id,
        "second",
        "argoai[bot]",
        True,
    )
    with pytest.raises(PermanentError, match="404"):
        await gh.edit_comment(repo, 999_999, "gone")


async def test_thread_replies_and_github_refusing_a_reply_to_a_reply(
    adapter: GitHubAppAdapter, repo: RepoRef
) -> None:
    """A reply joins the thread of its first comment; replying to a reply answers 404, as on GitHub. A diff
    comment says where it sits now and where it was written (what a question's context starts from)."""
    gh = adapter.installation(77)
    first = await _thread(adapter, repo)
    reply = await gh.reply_in_thread(repo, 7, first, "answer")
    listed = {c.id: c for c in await gh.review_comments(repo, 7)}
    assert (listed[reply].in_reply_to, listed[reply].path) == (first, "src/app.py")
    assert (listed[first].line, listed[first].original_line, listed[first].start_line) == (2, 2, None)
    with pytest.raises(PermanentError, match="404"):
        await gh.reply_in_thread(repo, 7, reply, "to a reply")
    assert await gh.review_comment(repo, 123_456) is None


async def test_reactions_are_added_once_and_counted(
    adapter: GitHubAppAdapter, repo: RepoRef, fake: FakeGitHub
) -> None:
    """👀 twice leaves one reaction; a comment's roll-up counts 👍 and 👎; the 👎 reactors are listed."""
    gh = adapter.installation(77)
    first = await _thread(adapter, repo)
    await gh.react(repo, "review", first, "eyes")
    await gh.react(repo, "review", first, "eyes")
    fake.react(OWNER, REPO, first, "-1", user="alice")
    fake.react(OWNER, REPO, first, "+1", user="bob")
    [comment] = await gh.review_comments(repo, 7)
    assert (comment.thumbs_up, comment.thumbs_down) == (1, 1)
    assert [(r.login, r.is_bot) for r in await gh.thumbs_down(repo, first)] == [("alice", False)]
    found = fake.find_comment(OWNER, REPO, first)
    assert found is not None
    assert [r.content for r in found.reactions].count("eyes") == 1
    issue_comment = fake.add_issue_comment(OWNER, REPO, 7, "@argoai help")
    await gh.react(repo, "issue", issue_comment, "eyes")


async def test_permission_roles(adapter: GitHubAppAdapter, repo: RepoRef, fake: FakeGitHub) -> None:
    """The precise role (``maintain``), and ``read`` for someone who is no collaborator."""
    fake.set_permission(OWNER, REPO, "lead", "maintain")
    gh = adapter.installation(77)
    assert await gh.permission(repo, "lead") == "maintain"
    assert await gh.permission(repo, "stranger") == "read"


async def test_check_run_in_progress_then_completed_with_annotations(
    adapter: GitHubAppAdapter, repo: RepoRef, fake: FakeGitHub
) -> None:
    """A run is created in progress, found by name, takes 50 annotations a request and completes."""
    gh = adapter.installation(77)
    run_id = await gh.create_check_run(repo, HEAD, "ArgoAI", CheckRunOutput(title="t", summary="s"))
    [found] = await gh.check_runs(repo, HEAD, "ArgoAI")
    assert (found.id, found.status, found.app_slug) == (run_id, "in_progress", "argoai")
    notes = [Annotation("src/app.py", 1, 1, "warning", f"t{n}", "m") for n in range(51)]
    with pytest.raises(ValueError, match="50"):
        await gh.update_check_run(repo, run_id, CheckRunOutput(title="t", summary="s"), annotations=notes)
    await gh.update_check_run(repo, run_id, CheckRunOutput(title="t", summary="s"), annotations=notes[:50])
    await gh.update_check_run(
        repo, run_id, CheckRunOutput(title="done", summary="s"), annotations=notes[50:], conclusion="success"
    )
    [run] = fake.check_runs(OWNER, REPO, HEAD)
    assert (run.status, run.conclusion, len(run.annotations), run.output["title"]) == (
        "completed", "success", 51, "done"
    )  # fmt: skip


async def test_review_threads_resolved_through_graphql(
    make_adapter: AdapterFactory, fake: FakeGitHub, repo: RepoRef
) -> None:
    """GraphQL lists the threads with their first comment and resolves one, also through GHES's
    /api/graphql; an unknown thread is a refusal (False), not an error."""
    for url in (fake.url, fake.ghes_url):
        adapter = make_adapter(url=url)
        gh = adapter.installation(77)
        first = await _thread(adapter, repo)
        threads = {t.first_comment_id: t for t in await gh.review_threads(repo, 7)}
        assert threads[first].resolved is False
        assert await gh.resolve_thread(repo, threads[first].id) is True
        assert {t.first_comment_id: t.resolved for t in await gh.review_threads(repo, 7)}[first] is True
        assert await gh.resolve_thread(repo, "PRRT_nope") is False
    assert {r.path for r in fake.requests_to("graphql")} == {"/graphql", "/api/graphql"}
