"""The GitHub endpoints of a pull request's conversation (``ports.ConversationReader`` and
``ports.ConversationWriter``), mixed into :class:`~argoai_reviewer.adapters.github.GitHubInstallationAdapter`.

Conversation and diff comments, thread replies, reactions, the collaborator-permission check, check runs and
the two GraphQL operations on diff threads. REST calls go through the host adapter's ``_request`` and
``_listed``/``_all_pages`` (githubkit's generic request with the API version header, none of its generated
methods). Reads go through ``_Calls.call`` (one error mapping); every write takes the installation's write
turn (``github_writes.WriteGate``), GraphQL mutations included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from githubkit.exception import GraphQLFailed

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.job import CommentKind, RepoRef
from argoai_reviewer.adapters.github_json import (
    CheckRunJson,
    IssueCommentJson,
    PermissionJson,
    ReactionJson,
    ReviewCommentJson,
)
from argoai_reviewer.domain import (
    Annotation,
    CheckRun,
    CheckRunOutput,
    IssueComment,
    Reactor,
    ReviewComment,
    ReviewThread,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from githubkit import GitHub, Response

    from argoai_reviewer.adapters.github import _Calls

log = get_logger(__name__)

T = TypeVar("T")

MAX_COMMENTS = 3000  # comments read per pull request (a conversation longer than this is cut)
MAX_THREAD_PAGES = 20  # GraphQL pages of 100 threads

THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        nodes { id isResolved comments(first: 1) { nodes { databaseId } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
"""
RESOLVE_MUTATION = """
mutation($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } }
}
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _output(output: CheckRunOutput, annotations: Sequence[Annotation]) -> dict[str, Any]:
    data: dict[str, Any] = {"title": output.title, "summary": output.summary}
    if output.text:
        data["text"] = output.text
    if annotations:
        data["annotations"] = [
            {
                "path": a.path,
                "start_line": a.start_line,
                "end_line": a.end_line,
                "annotation_level": a.level,
                "title": a.title,
                "message": a.message,
            }
            for a in annotations
        ]
    return data


class ConversationEndpoints:
    """The conversation's endpoints; needs the host adapter's ``_calls``, ``_gh``, ``_repo``, ``_request``,
    ``_all_pages``, ``_listed``, ``_check_host`` and ``installation_id``."""

    if TYPE_CHECKING:
        _calls: _Calls
        _gh: GitHub[Any]
        installation_id: int

        def _check_host(self, repo: RepoRef) -> None: ...

        def _repo(self, repo: RepoRef) -> str: ...

        async def _request(
            self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
        ) -> Response[Any]: ...

        async def _all_pages(self, path: str, *, limit: int | None = None, **params: Any) -> list[Any]: ...

        async def _listed(
            self, kind: str, path: str, parse: Callable[[Any], T], *, limit: int | None = None, **params: Any
        ) -> list[T]: ...

    # ----- reads ---------------------------------------------------------------------------------------

    async def issue_comments(self, repo: RepoRef, number: int) -> list[IssueComment]:
        """The pull request's conversation comments, all pages."""
        self._check_host(repo)
        return await self._listed(
            "issue_comments",
            f"{self._repo(repo)}/issues/{number}/comments",
            lambda item: IssueCommentJson.model_validate(item).to_domain(),
            limit=MAX_COMMENTS,
        )

    async def review_comments(self, repo: RepoRef, number: int) -> list[ReviewComment]:
        """Every diff comment of the pull request, with its reaction counts, all pages."""
        self._check_host(repo)
        return await self._listed(
            "review_comments",
            f"{self._repo(repo)}/pulls/{number}/comments",
            lambda item: ReviewCommentJson.model_validate(item).to_domain(),
            limit=MAX_COMMENTS,
        )

    async def review_comment(self, repo: RepoRef, comment_id: int) -> ReviewComment | None:
        """One diff comment; None when it is gone (404)."""
        self._check_host(repo)

        async def get() -> ReviewComment:
            response = await self._request("GET", f"{self._repo(repo)}/pulls/comments/{comment_id}")
            return ReviewCommentJson.model_validate(response.json()).to_domain()

        return await self._calls.call("review_comment", self.installation_id, get, absent_on=frozenset({404}))

    async def thumbs_down(self, repo: RepoRef, comment_id: int) -> list[Reactor]:
        """Who reacted 👎 to a diff comment."""
        self._check_host(repo)

        async def get() -> list[Reactor]:
            items = await self._all_pages(
                f"{self._repo(repo)}/pulls/comments/{comment_id}/reactions", limit=MAX_COMMENTS, content="-1"
            )
            return [ReactionJson.model_validate(item).to_domain() for item in items]

        found = await self._calls.call("reactions", self.installation_id, get, absent_on=frozenset({404}))
        return found or []

    async def permission(self, repo: RepoRef, user: str) -> str:
        """``user``'s role on the repository (``none`` when GitHub knows no such user)."""
        self._check_host(repo)

        async def get() -> str:
            # ``[]`` left as is: a bot's login ends in ``[bot]``, and githubkit sent it unencoded.
            login = quote(user, safe="[]")
            response = await self._request("GET", f"{self._repo(repo)}/collaborators/{login}/permission")
            return PermissionJson.model_validate(response.json()).role()

        role = await self._calls.call("permission", self.installation_id, get, absent_on=frozenset({404}))
        return role or "none"

    async def check_runs(self, repo: RepoRef, head_sha: str, name: str) -> list[CheckRun]:
        """The check runs named ``name`` on ``head_sha`` (first 100: newest first)."""
        self._check_host(repo)

        async def get() -> list[CheckRun]:
            response = await self._request(
                "GET",
                f"{self._repo(repo)}/commits/{quote(head_sha, safe='')}/check-runs",
                params={"check_name": name, "per_page": 100},
            )
            body = response.json()
            runs = body.get("check_runs", []) if isinstance(body, dict) else []
            return [CheckRunJson.model_validate(run).to_domain() for run in runs]

        return await self._calls.required("check_runs", self.installation_id, get)

    async def review_threads(self, repo: RepoRef, number: int) -> list[ReviewThread]:
        """The pull request's diff threads (GraphQL), with the id of each one's first comment."""
        self._check_host(repo)

        async def get() -> list[ReviewThread]:
            threads: list[ReviewThread] = []
            after: str | None = None
            for _ in range(MAX_THREAD_PAGES):
                variables: dict[str, Any] = {"owner": repo.owner, "name": repo.name, "number": number}
                if after is not None:
                    variables["after"] = after
                try:
                    data = await self._gh.graphql.arequest(THREADS_QUERY, variables)
                except GraphQLFailed as exc:
                    raise PermanentError(f"GitHub refused to list review threads: {exc}") from None
                page = data["repository"]["pullRequest"]["reviewThreads"]
                for node in page["nodes"]:
                    first = node.get("comments", {}).get("nodes") or [{}]
                    threads.append(
                        ReviewThread(
                            id=str(node["id"]),
                            first_comment_id=first[0].get("databaseId"),
                            resolved=bool(node.get("isResolved")),
                        )
                    )
                if not page["pageInfo"]["hasNextPage"]:
                    break
                after = page["pageInfo"]["endCursor"]
            return threads

        try:
            return await self._calls.required("review_threads", self.installation_id, get)
        except (KeyError, TypeError) as exc:
            raise PermanentError(f"unexpected GraphQL answer for review threads: {exc!r}") from None

    # ----- writes (one at a time per installation) ------------------------------------------------------

    async def create_comment(self, repo: RepoRef, number: int, body: str) -> int:
        """Post a conversation comment; return its id."""
        self._check_host(repo)

        async def post() -> int:
            response = await self._request(
                "POST", f"{self._repo(repo)}/issues/{number}/comments", json={"body": body}
            )
            return int(response.json()["id"])

        async with self._calls.writes.turn(self.installation_id):
            return await self._calls.required("post_comment", self.installation_id, post)

    async def edit_comment(self, repo: RepoRef, comment_id: int, body: str) -> None:
        """Replace the body of a conversation comment (PermanentError when it was deleted)."""
        self._check_host(repo)

        async def patch() -> bool:
            await self._request(
                "PATCH", f"{self._repo(repo)}/issues/comments/{comment_id}", json={"body": body}
            )
            return True

        async with self._calls.writes.turn(self.installation_id):
            await self._calls.required("edit_comment", self.installation_id, patch)

    async def react(self, repo: RepoRef, kind: CommentKind, comment_id: int, content: str) -> None:
        """React to a conversation or diff comment (GitHub answers 200 when the reaction is already there)."""
        self._check_host(repo)
        where = "issues/comments" if kind == "issue" else "pulls/comments"
        url = f"{self._repo(repo)}/{where}/{comment_id}/reactions"

        async def post() -> bool:
            await self._request("POST", url, json={"content": content})
            return True

        async with self._calls.writes.turn(self.installation_id):
            await self._calls.required("react", self.installation_id, post)

    async def reply_in_thread(self, repo: RepoRef, number: int, first_comment_id: int, body: str) -> int:
        """Reply in the diff thread started by ``first_comment_id`` (GitHub answers 404 for a reply's id)."""
        self._check_host(repo)

        async def post() -> int:
            response = await self._request(
                "POST",
                f"{self._repo(repo)}/pulls/{number}/comments/{first_comment_id}/replies",
                json={"body": body},
            )
            return int(response.json()["id"])

        async with self._calls.writes.turn(self.installation_id):
            return await self._calls.required("reply_in_thread", self.installation_id, post)

    async def create_check_run(self, repo: RepoRef, head_sha: str, name: str, output: CheckRunOutput) -> int:
        """Create an ``in_progress`` check run; return its id."""
        self._check_host(repo)
        data = {
            "name": name,
            "head_sha": head_sha,
            "status": "in_progress",
            "started_at": _now(),
            "output": _output(output, ()),
        }

        async def post() -> int:
            response = await self._request("POST", f"{self._repo(repo)}/check-runs", json=data)
            return int(response.json()["id"])

        async with self._calls.writes.turn(self.installation_id):
            return await self._calls.required("create_check_run", self.installation_id, post)

    async def update_check_run(
        self,
        repo: RepoRef,
        check_run_id: int,
        output: CheckRunOutput,
        *,
        annotations: Sequence[Annotation] = (),
        conclusion: str | None = None,
    ) -> None:
        """Append ``annotations`` (GitHub takes at most 50 a request) and complete with ``conclusion``."""
        self._check_host(repo)
        if len(annotations) > 50:
            raise ValueError("GitHub takes at most 50 annotations per request")
        data: dict[str, Any] = {"output": _output(output, annotations)}
        if conclusion is not None:
            data.update(status="completed", conclusion=conclusion, completed_at=_now())

        async def patch() -> bool:
            await self._request("PATCH", f"{self._repo(repo)}/check-runs/{check_run_id}", json=data)
            return True

        async with self._calls.writes.turn(self.installation_id):
            await self._calls.required("update_check_run", self.installation_id, patch)

    async def resolve_thread(self, repo: RepoRef, thread_id: str) -> bool:
        """Resolve a diff thread; False when GitHub refused (an error in the GraphQL answer)."""
        self._check_host(repo)

        async def post() -> bool:
            try:
                await self._gh.graphql.arequest(RESOLVE_MUTATION, {"threadId": thread_id})
            except GraphQLFailed as exc:
                log.warning("GitHub refused to resolve a thread", thread=thread_id, error=str(exc)[:300])
                return False
            return True

        async with self._calls.writes.turn(self.installation_id):
            return await self._calls.required("resolve_thread", self.installation_id, post)
