"""The fake's REST API (a Starlette app): authentication, limits, pagination and the endpoints ArgoAI uses.

Served at the root (like api.github.com) and under ``/api/v3`` (like GitHub Enterprise Server).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import io
import json
import re
import tarfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from support.fake_github import shapes
from support.fake_github.hunks import parse_patch
from support.fake_github.state import (
    MAX_COMPARE_FILES,
    MAX_CONTENT_BYTES,
    MAX_PR_FILES,
    REACTIONS,
    CheckRunState,
    FakeFile,
    FakeGitHubState,
    LoggedRequest,
    PostedComment,
    PostedReview,
    Pull,
    RateWindow,
    Reaction,
    Repo,
    ReviewComment,
    Thread,
)

GHES_PREFIX = "/api/v3"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
MAX_BODY = 65536  # GitHub's limit for review and comment bodies
REVIEW_DOC = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request"
EVENT_STATES = {"COMMENT": "COMMENTED", "APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}


@dataclass
class Reply:
    """What an endpoint answers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (raw media type)


@dataclass
class Call:
    """One authenticated request, as the endpoint handlers see it."""

    request: Request
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    app_id: int | None = None
    installation_id: int | None = None

    def int_param(self, name: str) -> int:
        """A numeric path parameter."""
        return int(self.params[name])


Handler = Callable[[FakeGitHubState, Call], Reply]


def not_found() -> Reply:
    """GitHub's 404."""
    return Reply(404, shapes.error("Not Found", status=404))


def unprocessable(*errors: Any) -> Reply:
    """GitHub's 422 for a rejected review: the message says nothing about which comment was wrong."""
    return Reply(422, shapes.error("Unprocessable Entity", status=422, errors=list(errors), doc=REVIEW_DOC))


def paginate(call: Call, items: list[Any]) -> Reply:
    """``page``/``per_page`` pagination with GitHub's ``Link`` header (30 a page by default, 100 at most)."""
    per_page = max(1, min(100, int(call.query.get("per_page", "30"))))
    page = max(1, int(call.query.get("page", "1")))
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def link(number: int, rel: str) -> str:
        url = call.request.url.include_query_params(page=number, per_page=per_page)
        return f'<{url}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return Reply(200, chunk, {"link": ", ".join(links)} if links else {})


# ----- App (JWT) endpoints ------------------------------------------------------------------------


def get_repo_installation(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{owner}/{repo}/installation``."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    inst = state.installations.get(repo.installation_id) if repo else None
    if inst is None or inst.app_id != call.app_id:
        return not_found()
    app = state.apps[inst.app_id]
    return Reply(
        200,
        shapes.installation(
            installation_id=inst.installation_id, app_id=inst.app_id, app_slug=app.slug, account=inst.account
        ),
    )


def create_access_token(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /app/installations/{id}/access_tokens``."""
    inst = state.installations.get(call.int_param("installation_id"))
    if inst is None or inst.app_id != call.app_id:
        return not_found()
    token = state.issue_token(inst.installation_id)
    body = {
        "token": token.value,
        "expires_at": shapes.iso(_utc(token.expires_at)),
        "permissions": {
            "contents": "read",
            "pull_requests": "write",
            "issues": "write",
            "checks": "write",
            "metadata": "read",
        },
        "repository_selection": "all",
    }
    return Reply(201, body)


def list_deliveries(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /app/hook/deliveries``: newest first, cursor pagination as GitHub does it."""
    per_page = max(1, min(100, int(call.query.get("per_page", "30"))))
    items = sorted((d for d in state.deliveries if d.app_id == call.app_id), key=lambda d: d.id, reverse=True)
    cursor = call.query.get("cursor")
    if cursor:
        match = re.fullmatch(r"v1_(\d+)", cursor)
        if match is None:
            return Reply(422, shapes.error("Invalid cursor", status=422))
        items = [d for d in items if d.id < int(match.group(1))]
    chunk = items[:per_page]
    body = [
        {
            "id": d.id,
            "guid": d.guid,
            "delivered_at": shapes.iso(_utc(d.delivered_at)),
            "redelivery": d.redelivery,
            "duration": 0.12,
            "status": d.status,
            "status_code": d.status_code,
            "event": d.event,
            "action": d.action,
            "installation_id": d.installation_id,
            "repository_id": d.repository_id,
            "throttled_at": None,
        }
        for d in chunk
    ]
    headers = {}
    if len(items) > per_page:
        url = call.request.url.remove_query_params("cursor").include_query_params(
            per_page=per_page, cursor=f"v1_{chunk[-1].id}"
        )
        headers["link"] = f'<{url}>; rel="next"'
    return Reply(200, body, headers)


def redeliver(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /app/hook/deliveries/{id}/attempts``: recorded; the new attempt appears in the log as OK."""
    delivery_id = call.int_param("delivery_id")
    original = next((d for d in state.deliveries if d.id == delivery_id and d.app_id == call.app_id), None)
    if original is None:
        return not_found()
    state.redelivery_requests.append(delivery_id)
    state.add_delivery(
        original.guid,
        original.event,
        app_id=original.app_id,
        action=original.action,
        redelivery=True,
        installation_id=original.installation_id,
        repository_id=original.repository_id,
    )
    return Reply(202, {})


# ----- repository (installation token) endpoints --------------------------------------------------


def _pull(state: FakeGitHubState, call: Call) -> tuple[Repo, Pull] | Reply:
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    pull = repo.pulls.get(call.int_param("number")) if repo else None
    if repo is None or pull is None:
        return not_found()
    return repo, pull


def _diff_entry(repo: Repo, ref: str, f: FakeFile, max_patch_lines: int) -> dict[str, Any]:
    additions, deletions = f.changes
    return shapes.diff_entry(
        owner=repo.owner,
        repo=repo.name,
        ref=ref,
        path=f.path,
        status=f.status,
        additions=additions,
        deletions=deletions,
        patch=f.listed_patch(max_patch_lines),
        previous_path=f.previous_path,
    )


def get_pull(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}``."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    additions = sum(f.changes[0] for f in pull.files)
    deletions = sum(f.changes[1] for f in pull.files)
    return Reply(
        200,
        shapes.pull_request(
            owner=repo.owner,
            repo=repo.name,
            number=pull.number,
            title=pull.title,
            body=pull.body,
            state=pull.state,
            draft=pull.draft,
            author=pull.author,
            author_type=pull.author_type,
            head_sha=pull.head_sha,
            head_ref=pull.head_ref,
            base_sha=pull.base_sha,
            base_ref=pull.base_ref,
            changed_files=len(pull.files),
            additions=additions,
            deletions=deletions,
        ),
    )


def list_pull_files(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}/files``: at most 3,000 files; ``patch`` absent when omitted."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    entries = [_diff_entry(repo, pull.head_sha, f, state.max_patch_lines) for f in pull.files[:MAX_PR_FILES]]
    return paginate(call, entries)


def _review_json(repo: Repo, pull: Pull, review: PostedReview) -> dict[str, Any]:
    return shapes.review(
        owner=repo.owner,
        repo=repo.name,
        number=pull.number,
        review_id=review.id,
        author=review.author,
        author_type=review.author_type,
        body=review.body,
        state=review.state,
        commit_id=review.commit_id,
    )


def list_reviews(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}/reviews``."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    return paginate(call, [_review_json(repo, pull, r) for r in pull.reviews])


def _check_comment(pull: Pull, comment: Any) -> str | None:
    """Why GitHub would refuse this inline comment, or None when it is on the diff."""
    if not isinstance(comment, dict) or not isinstance(comment.get("path"), str):
        return "Path could not be resolved"
    if not isinstance(comment.get("body"), str) or not comment["body"].strip():
        return "Body can't be blank"
    if len(comment["body"]) > MAX_BODY:
        return "Body is too long (maximum is 65536 characters)"
    f = next((f for f in pull.files if f.path == comment["path"]), None)
    if f is None or f.patch is None:
        return "Path could not be resolved"
    lines = parse_patch(f.patch)
    if "line" not in comment:
        position = comment.get("position")
        if isinstance(position, int) and 1 <= position <= lines.positions:
            return None
        return "Position could not be resolved" if position is not None else "Line could not be resolved"
    line, side = comment["line"], comment.get("side", "RIGHT")
    if not isinstance(line, int) or side not in ("RIGHT", "LEFT"):
        return "Line could not be resolved"
    hunk = lines.hunk_of(line, side)
    if hunk is None:
        return "pull_request_review_thread.line must be part of the diff"
    start = comment.get("start_line")
    if start is None:
        return None
    start_side = comment.get("start_side", side)
    if not isinstance(start, int) or start_side not in ("RIGHT", "LEFT"):
        return "Start line could not be resolved"
    if start_side == side and start >= line:
        return "pull_request_review_thread.start_line must precede the end line."
    if lines.hunk_of(start, start_side) != hunk:
        return "pull_request_review_thread.start_line must be part of the same hunk as the line."
    return None


def create_review(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /repos/{o}/{r}/pulls/{n}/reviews``: every comment checked; one bad comment rejects all."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    data = call.body if isinstance(call.body, dict) else {}
    commit_id = data.get("commit_id", pull.head_sha)
    if commit_id != pull.head_sha:
        # Stricter than github.com (which accepts an older head); ArgoAI must never need that.
        return unprocessable("commit_id is not the head of the pull request")
    event = data.get("event")
    if event is not None and event not in EVENT_STATES:
        return unprocessable(f"Event {event!r} is not one of COMMENT, APPROVE, REQUEST_CHANGES")
    body = data.get("body") or ""
    if not isinstance(body, str) or len(body) > MAX_BODY:
        return unprocessable("Body is too long (maximum is 65536 characters)")
    comments = data.get("comments") or []
    if not isinstance(comments, list):
        return unprocessable("Invalid request.\n\nFor 'properties/comments', it is not an array.")
    if event == "REQUEST_CHANGES" and not body.strip():
        return unprocessable("Body is required when requesting changes")
    if event == "COMMENT" and not body.strip() and not comments:
        return unprocessable("Body is required when commenting")
    for comment in comments:
        problem = _check_comment(pull, comment)
        if problem is not None:
            return unprocessable(problem)
    app = state.apps[state.installations[repo.installation_id].app_id]
    review = PostedReview(
        id=state.next_id(),
        author=f"{app.slug}[bot]",
        author_type="Bot",
        commit_id=commit_id,
        body=body,
        event=event or "PENDING",
        state=EVENT_STATES.get(event or "", "PENDING"),
        comments=[dict(c) for c in comments],
    )
    pull.reviews.append(review)
    for comment in comments:
        inline = ReviewComment(
            id=state.next_id(),
            review_id=review.id,
            author=review.author,
            author_type="Bot",
            path=comment["path"],
            line=comment.get("line"),
            start_line=comment.get("start_line"),
            side=comment.get("side", "RIGHT"),
            body=comment["body"],
            commit_id=commit_id,
        )
        pull.review_comments.append(inline)
        pull.threads[inline.id] = Thread(node_id=f"PRRT_{inline.id}", first_comment_id=inline.id)
    return Reply(200, _review_json(repo, pull, review))


def list_issue_comments(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/issues/{n}/comments``."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    return paginate(call, [_comment_json(repo, pull, c) for c in pull.comments])


def _comment_json(repo: Repo, pull: Pull, comment: PostedComment) -> dict[str, Any]:
    return shapes.issue_comment(
        owner=repo.owner,
        repo=repo.name,
        number=pull.number,
        comment_id=comment.id,
        author=comment.author,
        author_type=comment.author_type,
        body=comment.body,
    )


def create_issue_comment(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /repos/{o}/{r}/issues/{n}/comments``."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    body = call.body.get("body") if isinstance(call.body, dict) else None
    if not isinstance(body, str) or not body.strip():
        return Reply(
            422, shapes.error("Validation Failed", status=422, errors=[{"field": "body", "code": "missing"}])
        )
    if len(body) > MAX_BODY:
        return Reply(
            422, shapes.error("Validation Failed", status=422, errors=[{"field": "body", "code": "too_long"}])
        )
    app = state.apps[state.installations[repo.installation_id].app_id]
    comment = PostedComment(id=state.next_id(), author=f"{app.slug}[bot]", author_type="Bot", body=body)
    pull.comments.append(comment)
    return Reply(201, _comment_json(repo, pull, comment))


# ----- the conversation: comments, threads, reactions, permissions -------------------------------------


def _app_slug(state: FakeGitHubState, repo: Repo) -> str:
    return state.apps[state.installations[repo.installation_id].app_id].slug


def _review_comment_json(repo: Repo, number: int, comment: ReviewComment) -> dict[str, Any]:
    return shapes.review_comment(
        owner=repo.owner,
        repo=repo.name,
        number=number,
        comment_id=comment.id,
        review_id=comment.review_id,
        author=comment.author,
        author_type=comment.author_type,
        association=comment.association,
        path=comment.path,
        line=comment.line,
        start_line=comment.start_line,
        side=comment.side,
        body=comment.body,
        commit_id=comment.commit_id,
        in_reply_to=comment.in_reply_to,
        reactions=[r.content for r in comment.reactions],
    )


def list_review_comments(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/pulls/{n}/comments``: every diff comment, replies included, oldest first."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    return paginate(call, [_review_comment_json(repo, pull.number, c) for c in pull.review_comments])


def _review_comment(state: FakeGitHubState, call: Call) -> tuple[Repo, Pull, ReviewComment] | Reply:
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    wanted = call.int_param("comment_id")
    for pull in repo.pulls.values():
        for comment in pull.review_comments:
            if comment.id == wanted:
                return repo, pull, comment
    return not_found()


def get_review_comment(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/pulls/comments/{id}``."""
    found = _review_comment(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull, comment = found
    return Reply(200, _review_comment_json(repo, pull.number, comment))


def reply_to_review_comment(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /repos/{o}/{r}/pulls/{n}/comments/{id}/replies``: only to a thread's first comment (a reply to
    a reply answers 404, as GitHub does)."""
    found = _pull(state, call)
    if isinstance(found, Reply):
        return found
    repo, pull = found
    first = next((c for c in pull.review_comments if c.id == call.int_param("comment_id")), None)
    if first is None or first.in_reply_to is not None:
        return not_found()
    body = call.body.get("body") if isinstance(call.body, dict) else None
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        return Reply(
            422, shapes.error("Validation Failed", status=422, errors=[{"field": "body", "code": "invalid"}])
        )
    reply = state.new_review_comment(pull, first, body, f"{_app_slug(state, repo)}[bot]", "Bot", first.id)
    return Reply(201, _review_comment_json(repo, pull.number, reply))


def _reaction_target(
    state: FakeGitHubState, call: Call, kind: str
) -> tuple[Repo, PostedComment | ReviewComment] | Reply:
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    wanted = call.int_param("comment_id")
    for pull in repo.pulls.values():
        pool: list[PostedComment] | list[ReviewComment] = (
            pull.comments if kind == "issue" else pull.review_comments
        )
        for comment in pool:
            if comment.id == wanted:
                return repo, comment
    return not_found()


def _create_reaction(state: FakeGitHubState, call: Call, kind: str) -> Reply:
    found = _reaction_target(state, call, kind)
    if isinstance(found, Reply):
        return found
    repo, comment = found
    content = call.body.get("content") if isinstance(call.body, dict) else None
    if content not in REACTIONS:
        return Reply(
            422,
            shapes.error("Validation Failed", status=422, errors=[{"field": "content", "code": "invalid"}]),
        )
    login = f"{_app_slug(state, repo)}[bot]"
    existing = next((r for r in comment.reactions if r.content == content and r.user == login), None)
    status = 200 if existing is not None else 201
    if existing is None:
        comment.reactions.append(Reaction(content=content, user=login, user_type="Bot"))
    return Reply(
        status, shapes.reaction(reaction_id=state.next_id(), content=content, login=login, user_type="Bot")
    )


def create_issue_comment_reaction(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /repos/{o}/{r}/issues/comments/{id}/reactions`` (200 when the App already reacted so)."""
    return _create_reaction(state, call, "issue")


def create_review_comment_reaction(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /repos/{o}/{r}/pulls/comments/{id}/reactions`` (200 when the App already reacted so)."""
    return _create_reaction(state, call, "review")


def list_review_comment_reactions(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/pulls/comments/{id}/reactions[?content=]``."""
    found = _reaction_target(state, call, "review")
    if isinstance(found, Reply):
        return found
    _, comment = found
    wanted = call.query.get("content")
    items = [
        shapes.reaction(reaction_id=state.next_id(), content=r.content, login=r.user, user_type=r.user_type)
        for r in comment.reactions
        if wanted is None or r.content == wanted
    ]
    return paginate(call, items)


def edit_issue_comment(state: FakeGitHubState, call: Call) -> Reply:
    """``PATCH /repos/{o}/{r}/issues/comments/{id}``."""
    found = _reaction_target(state, call, "issue")
    if isinstance(found, Reply):
        return found
    repo, comment = found
    body = call.body.get("body") if isinstance(call.body, dict) else None
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        return Reply(
            422, shapes.error("Validation Failed", status=422, errors=[{"field": "body", "code": "invalid"}])
        )
    assert isinstance(comment, PostedComment)
    comment.body = body
    comment.edits += 1
    number = next(p.number for p in repo.pulls.values() if comment in p.comments)
    return Reply(200, _comment_json(repo, repo.pulls[number], comment))


def collaborator_permission(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/collaborators/{user}/permission`` (everyone reads a public repository)."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    login = call.params["username"]
    return Reply(200, shapes.collaborator_permission(login, repo.permissions.get(login, "read")))


# ----- check runs --------------------------------------------------------------------------------------

CHECK_STATUSES = ("queued", "in_progress", "completed")
CHECK_CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
ANNOTATION_LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS = 50  # per create or update request
OUTPUT_MAX = 65535


def _invalid(message: str) -> Reply:
    return Reply(422, shapes.error(message, status=422, doc="https://docs.github.com/rest/checks/runs"))


def _check_output(output: Any) -> str | None:
    if not isinstance(output, dict):
        return "Invalid request.\n\nFor 'properties/output', it is not an object."
    if not isinstance(output.get("title"), str) or not isinstance(output.get("summary"), str):
        return 'Invalid request.\n\n"title" and "summary" weren\'t supplied.'
    if len(output["summary"]) > OUTPUT_MAX or len(output.get("text") or "") > OUTPUT_MAX:
        return "Invalid request.\n\nOutput summary and text are limited to 65535 characters."
    annotations = output.get("annotations") or []
    if not isinstance(annotations, list):
        return "Invalid request.\n\nFor 'properties/annotations', it is not an array."
    if len(annotations) > MAX_ANNOTATIONS:
        return "Invalid request.\n\nOnly 50 annotations are allowed per request."
    for note in annotations:
        if not isinstance(note, dict) or not all(
            k in note for k in ("path", "start_line", "end_line", "annotation_level", "message")
        ):
            return "Invalid request.\n\nAn annotation lacks a required field."
        if note["annotation_level"] not in ANNOTATION_LEVELS or note["start_line"] > note["end_line"]:
            return "Invalid request.\n\nAn annotation's level or lines are invalid."
    return None


def _apply_check_run(run: CheckRunState, data: dict[str, Any]) -> str | None:
    status = data.get("status", run.status)
    conclusion = data.get("conclusion", run.conclusion if status == "completed" else None)
    if status not in CHECK_STATUSES:
        return f"Invalid request.\n\n{status!r} is not a valid status."
    if conclusion is not None:
        if conclusion not in CHECK_CONCLUSIONS:
            return f"Invalid request.\n\n{conclusion!r} is not a valid conclusion."
        status = "completed"  # GitHub: providing a conclusion sets the status to completed
    if status == "completed" and conclusion is None:
        return "Invalid request.\n\nconclusion is required when status is completed."
    if "output" in data:
        problem = _check_output(data["output"])
        if problem is not None:
            return problem
        output = data["output"]
        run.output = {key: output.get(key) for key in ("title", "summary", "text")}
        run.annotations.extend(output.get("annotations") or [])
    if run.status == "completed" and status != "completed":
        return "Invalid request.\n\nA completed check run cannot be restarted."
    run.status, run.conclusion = status, conclusion
    if status == "completed" and run.completed_at is None:
        run.completed_at = time.time()
    run.history.append((status, conclusion))
    run.requests += 1
    return None


def _check_run_json(state: FakeGitHubState, repo: Repo, run: CheckRunState) -> dict[str, Any]:
    app = state.apps[run.app_id]
    return shapes.check_run(
        owner=repo.owner,
        repo=repo.name,
        run_id=run.id,
        name=run.name,
        head_sha=run.head_sha,
        status=run.status,
        conclusion=run.conclusion,
        external_id=run.external_id,
        output=run.output,
        annotations_count=len(run.annotations),
        started_at=_utc(run.started_at),
        completed_at=_utc(run.completed_at) if run.completed_at else None,
        app_doc=shapes.app(
            app_id=app.app_id, slug=app.slug, owner=state.installations[repo.installation_id].account
        ),
    )


def create_check_run(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /repos/{o}/{r}/check-runs``: at most 50 annotations per request."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    data = call.body if isinstance(call.body, dict) else {}
    if not isinstance(data.get("name"), str) or not data["name"]:
        return _invalid('Invalid request.\n\n"name" wasn\'t supplied.')
    if not isinstance(data.get("head_sha"), str) or not re.fullmatch(r"[0-9a-f]{40}", data["head_sha"]):
        return _invalid('Invalid request.\n\n"head_sha" wasn\'t supplied.')
    run = CheckRunState(
        id=state.next_id(),
        name=data["name"],
        head_sha=data["head_sha"],
        app_id=state.installations[repo.installation_id].app_id,
        status="queued",
        conclusion=None,
        external_id=data.get("external_id"),
        output={},
        started_at=time.time(),
    )
    problem = _apply_check_run(
        run,
        {
            "status": data.get("status", "queued"),
            **{k: v for k, v in data.items() if k in ("conclusion", "output")},
        },
    )
    if problem is not None:
        return _invalid(problem)
    repo.check_runs[run.id] = run
    return Reply(201, _check_run_json(state, repo, run))


def update_check_run(state: FakeGitHubState, call: Call) -> Reply:
    """``PATCH /repos/{o}/{r}/check-runs/{id}``: annotations are appended, at most 50 per request."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    run = repo.check_runs.get(call.int_param("check_run_id")) if repo else None
    if repo is None or run is None:
        return not_found()
    if run.app_id != state.installations[repo.installation_id].app_id:
        return Reply(
            403,
            shapes.error(
                f"Invalid app_id `{run.app_id}` - check run can only be modified by the GitHub App that "
                "created it.",
                status=403,
            ),
        )
    data = call.body if isinstance(call.body, dict) else {}
    problem = _apply_check_run(
        run, {k: v for k, v in data.items() if k in ("status", "conclusion", "output")}
    )
    if problem is not None:
        return _invalid(problem)
    return Reply(200, _check_run_json(state, repo, run))


def list_check_runs_for_ref(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/commits/{ref}/check-runs[?check_name=]``."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    sha = repo.resolve(call.params["ref"])
    name = call.query.get("check_name")
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha and (name is None or r.name == name)]
    runs.sort(key=lambda r: r.id, reverse=True)
    return Reply(
        200, {"total_count": len(runs), "check_runs": [_check_run_json(state, repo, r) for r in runs]}
    )


# ----- GraphQL (the two operations ArgoAI uses) ----------------------------------------------------------


def _graphql_error(message: str, kind: str = "NOT_FOUND") -> Reply:
    return Reply(
        200, {"data": None, "errors": [{"type": kind, "message": message, "path": [], "locations": []}]}
    )


def graphql(state: FakeGitHubState, call: Call) -> Reply:
    """``POST /graphql`` (``/api/graphql`` on Enterprise Server): ``reviewThreads`` of a pull request and the
    ``resolveReviewThread`` mutation; anything else is an error, as an unknown field would be."""
    data = call.body if isinstance(call.body, dict) else {}
    query = data.get("query")
    variables = data.get("variables") or {}
    if not isinstance(query, str):
        return Reply(400, {"message": "Problems parsing JSON"})
    if "resolveReviewThread" in query:
        thread_id = variables.get("threadId")
        for repo in state.repos.values():
            for pull in repo.pulls.values():
                for thread in pull.threads.values():
                    if thread.node_id == thread_id:
                        if repo.installation_id != call.installation_id:
                            return _graphql_error("Resource not accessible by integration", "FORBIDDEN")
                        thread.resolved = True
                        thread.resolved_by = f"{_app_slug(state, repo)}[bot]"
                        return Reply(
                            200,
                            {
                                "data": {
                                    "resolveReviewThread": {
                                        "thread": {"id": thread.node_id, "isResolved": True}
                                    }
                                }
                            },
                        )
        return _graphql_error(f"Could not resolve to a node with the global id of '{thread_id}'")
    if "reviewThreads" in query:
        repo = state.repos.get((str(variables.get("owner")), str(variables.get("name"))))
        if repo is None or repo.installation_id != call.installation_id:
            name = f"{variables.get('owner')}/{variables.get('name')}"
            return _graphql_error(f"Could not resolve to a Repository with the name '{name}'.")
        pull = repo.pulls.get(int(variables.get("number", 0)))
        if pull is None:
            return _graphql_error(
                f"Could not resolve to a PullRequest with the number of {variables.get('number')}."
            )
        threads = sorted(pull.threads.values(), key=lambda t: t.first_comment_id)
        start = int(variables["after"]) if variables.get("after") else 0
        page = threads[start : start + 100]
        nodes = [
            {
                "id": t.node_id,
                "isResolved": t.resolved,
                "comments": {"nodes": [{"databaseId": t.first_comment_id}]},
            }
            for t in page
        ]
        more = start + 100 < len(threads)
        info = {"hasNextPage": more, "endCursor": str(start + 100) if more else None}
        return Reply(
            200,
            {"data": {"repository": {"pullRequest": {"reviewThreads": {"nodes": nodes, "pageInfo": info}}}}},
        )
    return _graphql_error("This fake answers reviewThreads and resolveReviewThread only", "UNSUPPORTED")


def compare(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/compare/{base}...{head}`` (files on the first page, at most 300)."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    base, sep, head = call.params["basehead"].partition("...")
    if repo is None or not sep:
        return not_found()
    found = repo.comparisons.get((repo.resolve(base), repo.resolve(head)))
    if found is None:
        return not_found()
    page = int(call.query.get("page", "1"))
    files = (
        [_diff_entry(repo, head, f, state.max_patch_lines) for f in found.files[:MAX_COMPARE_FILES]]
        if page == 1
        else []
    )
    return Reply(
        200,
        shapes.comparison(
            owner=repo.owner,
            repo=repo.name,
            base=base,
            head=head,
            status=found.status,
            files=files,
            ahead_by=found.ahead_by,
            behind_by=found.behind_by,
        ),
    )


def get_content(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/contents/{path}?ref=``: a file (base64, or raw with the raw type) or a dir."""
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    ref_name = call.query.get("ref") or repo.default_branch
    ref = repo.resolve(ref_name)
    if not any(r == ref for r, _ in repo.contents):
        return Reply(404, shapes.error(f"No commit found for the ref {ref_name}", status=404))
    path = call.params["path"].strip("/")
    data = repo.contents.get((ref, path))
    raw = "raw" in call.request.headers.get("accept", "")
    if data is None:
        prefix = path + "/"
        children = sorted(
            {p[len(prefix) :].split("/", 1)[0] for r, p in repo.contents if r == ref and p.startswith(prefix)}
        )
        if not children:
            return not_found()
        items = [
            shapes.directory_item(
                owner=repo.owner,
                repo=repo.name,
                ref=ref_name,
                path=prefix + child,
                kind="file" if (ref, prefix + child) in repo.contents else "dir",
            )
            for child in children
        ]
        return Reply(200, items)
    if raw:
        return Reply(200, raw=data, headers={"content-type": "application/vnd.github.raw"})
    if len(data) > MAX_CONTENT_BYTES:
        encoded, encoding = "", "none"
    else:
        plain = base64.b64encode(data).decode()
        # GitHub wraps base64 content at 60 characters.
        encoded, encoding = "\n".join(plain[i : i + 60] for i in range(0, len(plain), 60)) + "\n", "base64"
    return Reply(
        200,
        shapes.content_file(
            owner=repo.owner,
            repo=repo.name,
            ref=ref_name,
            path=path,
            size=len(data),
            encoded=encoded,
            encoding=encoding,
        ),
    )


def get_tarball(state: FakeGitHubState, call: Call) -> Reply:
    """``GET /repos/{o}/{r}/tarball/{ref}``: 302 to a one-off archive link on the archive host.

    On github.com the link points at codeload.github.com (another origin, so an HTTP client drops the
    ``Authorization`` header when following it); on Enterprise Server at ``/_codeload/`` of the same host.
    """
    repo = state.repos.get((call.params["owner"], call.params["repo"]))
    if repo is None:
        return not_found()
    sha = repo.resolve(call.params["ref"])
    if sha not in repo.archives and not any(ref == sha for ref, _ in repo.contents):
        return not_found()
    token = state.codeload_link(repo.owner, repo.name, sha)
    enterprise = call.request.url.path.startswith(GHES_PREFIX)
    base = str(call.request.base_url).rstrip("/") if enterprise else state.codeload_url
    location = f"{base}/_codeload/{repo.owner}/{repo.name}/legacy.tar.gz/{sha}?token={token}"
    return Reply(302, raw=b"", headers={"location": location})


def build_archive(owner: str, repo: str, sha: str, files: dict[str, bytes]) -> bytes:
    """A tar.gz laid out as GitHub's: all under ``owner-repo-<sha7>/``, a pax header with the commit."""
    prefix = f"{owner}-{repo}-{sha[:7]}"
    buffer = io.BytesIO()
    with tarfile.open(
        fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT, pax_headers={"comment": sha}
    ) as tar:
        top = tarfile.TarInfo(prefix)
        top.type = tarfile.DIRTYPE
        top.mode = 0o775
        tar.addfile(top)
        for path in sorted(files):
            info = tarfile.TarInfo(f"{prefix}/{path}")
            info.size = len(files[path])
            info.mode = 0o664
            tar.addfile(info, io.BytesIO(files[path]))
    return buffer.getvalue()


def codeload_endpoint(state: FakeGitHubState) -> Callable[[Request], Awaitable[Response]]:
    """``GET /_codeload/{owner}/{repo}/legacy.tar.gz/{sha}?token=``: the archive, for a valid one-off token.

    The log records whether the request carried an ``Authorization`` header (it must not leave GitHub's
    API origin): ``auth`` is ``none`` or ``sent:<scheme>``.
    """

    async def run(request: Request) -> Response:
        creds = _credentials(request)
        entry = LoggedRequest(
            method=request.method,
            path=request.url.path.removeprefix(GHES_PREFIX),
            url_path=request.url.path,
            query=dict(request.query_params),
            auth=f"sent:{creds[0]}" if creds else "none",
            body=None,
            at=time.time(),
            accept=request.headers.get("accept", ""),
        )
        with state.lock:
            state.requests.append(entry)
        fault = state.take_fault(request.method, entry.path)
        if fault is not None and fault.status:
            entry.status = fault.status
            return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)
        found = state.redeem_codeload(request.query_params.get("token", ""))
        params = request.path_params
        if found is None or found != (params["owner"], params["repo"], params["sha"]):
            entry.status = 404
            return Response(b"Not Found", status_code=404)
        owner, repo, sha = found
        with state.lock:
            custom = state.repos[(owner, repo)].archives.get(sha)
        data = (
            custom if custom is not None else build_archive(owner, repo, sha, state.tree_at(owner, repo, sha))
        )
        entry.status = 200
        return Response(data, status_code=200, headers={"content-type": "application/x-gzip"})

    return run


# ----- authentication, limits, logging ------------------------------------------------------------


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def verify_jwt(state: FakeGitHubState, token: str) -> int | str:
    """The App id of a valid App JWT, or GitHub's message for an invalid one."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        app = state.apps.get(int(claims["iss"]))
    except (jwt.PyJWTError, KeyError, ValueError, TypeError):
        return "A JSON web token could not be decoded"
    if app is None:
        return "Integration not found"
    for key in app.public_keys:
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], options={"require": ["exp", "iat", "iss"]})
        except jwt.ExpiredSignatureError:
            return "'Expiration time' claim ('exp') must be a numeric value representing the future time"
        except jwt.ImmatureSignatureError:
            return "'Issued at' claim ('iat') must be an Integer representing the time of issue"
        except jwt.PyJWTError:
            continue
        if claims["exp"] - time.time() > 600 + 5:
            return "'Expiration time' claim ('exp') is too far in the future"
        return app.app_id
    return "A JSON web token could not be decoded"


def _credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() not in ("bearer", "token") or not value:
        return None
    return scheme.lower(), value.strip()


def _authenticate(
    state: FakeGitHubState, request: Request, auth: str, call: Call, entry: LoggedRequest
) -> Reply | None:
    creds = _credentials(request)
    unauthorized = Reply(401, shapes.error("Requires authentication", status=401))
    if creds is None:
        entry.auth = "none"
        return unauthorized
    scheme, value = creds
    if auth == "jwt":
        app_id = verify_jwt(state, value) if scheme == "bearer" else "A JSON web token could not be decoded"
        if isinstance(app_id, str):
            entry.auth = "bad"
            return Reply(401, shapes.error(app_id, status=401))
        call.app_id = app_id
        entry.auth = f"jwt:{app_id}"
        return None
    installation_id = state.token_installation(value)
    if installation_id is None:
        entry.auth = "bad"
        return Reply(401, shapes.error("Bad credentials", status=401))
    call.installation_id = installation_id
    entry.auth = f"token:{installation_id}"
    if auth == "graphql":
        return None  # the repository is in the query: the handler checks the token may see it
    repo = state.repos.get((call.params.get("owner", ""), call.params.get("repo", "")))
    if repo is None or repo.installation_id != installation_id:
        return not_found()  # GitHub hides repositories a token cannot see
    return None


def _rate_headers(state: FakeGitHubState, principal: str) -> tuple[dict[str, str], bool]:
    window = state.count_call(principal)
    return _window_headers(window), window.used > window.limit


def _window_headers(window: RateWindow) -> dict[str, str]:
    remaining = max(0, window.limit - window.used)
    return {
        "x-ratelimit-limit": str(window.limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(window.reset_at)),
        "x-ratelimit-used": str(min(window.used, window.limit)),
        "x-ratelimit-resource": "core",
    }


def etag_of(content: bytes, accept: str) -> str:
    """GitHub's weak ETag of a representation: it changes with the body and with the media type asked for."""
    digest = hashlib.sha256(accept.encode() + b"\0" + content).hexdigest()[:32]
    return f'W/"{digest}"'


def _matches(if_none_match: str, etag: str) -> bool:
    """``If-None-Match`` (a list, or ``*``) against ``etag``, compared weakly as RFC 9110 says for GETs."""
    if not if_none_match:
        return False
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def endpoint(
    state: FakeGitHubState, handler: Handler, *, auth: str, write: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with what every GitHub request goes through: log, faults, auth, limits."""

    async def run(request: Request) -> Response:
        raw_body = await request.body()
        try:
            body = json.loads(raw_body) if raw_body else None
        except json.JSONDecodeError:
            return JSONResponse(shapes.error("Problems parsing JSON", status=400), status_code=400)
        path = request.url.path.removeprefix(GHES_PREFIX)
        entry = LoggedRequest(
            method=request.method,
            path=path,
            url_path=request.url.path,
            query=dict(request.query_params),
            auth="",
            body=body,
            at=time.time(),
            accept=request.headers.get("accept", ""),
        )
        with state.lock:
            state.requests.append(entry)
        fault = state.take_fault(request.method, path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        call = Call(
            request=request, params=dict(request.path_params), query=dict(request.query_params), body=body
        )
        headers: dict[str, str] = {}
        started: float | None = None
        principal: str | None = None  # whose primary rate limit this request counts against
        with state.lock:
            reply = Reply(fault.status, fault.body, dict(fault.headers)) if fault and fault.status else None
            if reply is None:
                reply = _authenticate(state, request, auth, call, entry)
            if (reply is None or reply.status != 401) and (call.app_id or call.installation_id):
                principal = f"app:{call.app_id}" if call.app_id else f"installation:{call.installation_id}"
                headers, exceeded = _rate_headers(state, principal)
                if reply is None and exceeded:
                    reply = Reply(
                        403,
                        shapes.error(
                            f"API rate limit exceeded for {principal.replace(':', ' ID ')}.", status=403
                        ),
                    )
            if reply is None and write and call.installation_id is not None:
                if state.content_limited(call.installation_id):
                    reply = Reply(
                        403,
                        shapes.error(
                            SECONDARY_MESSAGE,
                            status=403,
                        ),
                        {"retry-after": "60"},
                    )
                else:
                    started = state.write_started(call.installation_id)
        if started is not None and call.installation_id is not None:
            try:
                if state.write_latency:
                    await asyncio.sleep(state.write_latency)
                with state.lock:
                    reply = handler(state, call)
            finally:
                state.write_finished(call.installation_id, started)
        elif reply is None:
            with state.lock:
                reply = handler(state, call)
        entry.status = reply.status
        headers = {**headers, **reply.headers}
        response = (
            Response(reply.raw, status_code=reply.status, headers=headers)
            if reply.raw is not None
            else JSONResponse(reply.body, status_code=reply.status, headers=headers)
        )
        if request.method != "GET" or reply.status != 200:
            return response
        # Every 200 to a GET carries an ETag; a request naming it is answered 304 with no body, and (as on
        # GitHub) a 304 does not count against the primary rate limit.
        etag = etag_of(bytes(response.body), request.headers.get("accept", ""))
        if not _matches(request.headers.get("if-none-match", ""), etag):
            response.headers["etag"] = etag
            return response
        entry.status = 304
        if principal is not None:
            headers = {**headers, **_window_headers(state.refund_call(principal))}
        kept = {k: v for k, v in headers.items() if k.lower().startswith("x-") or k.lower() == "link"}
        return Response(status_code=304, headers={**kept, "etag": etag})

    return run


ROUTES: list[tuple[str, str, Handler, str, bool]] = [
    ("GET", "/repos/{owner}/{repo}/installation", get_repo_installation, "jwt", False),
    ("POST", "/app/installations/{installation_id:int}/access_tokens", create_access_token, "jwt", False),
    ("GET", "/app/hook/deliveries", list_deliveries, "jwt", False),
    ("POST", "/app/hook/deliveries/{delivery_id:int}/attempts", redeliver, "jwt", False),
    ("GET", "/repos/{owner}/{repo}/pulls/{number:int}", get_pull, "token", False),
    ("GET", "/repos/{owner}/{repo}/pulls/{number:int}/files", list_pull_files, "token", False),
    ("GET", "/repos/{owner}/{repo}/pulls/{number:int}/reviews", list_reviews, "token", False),
    ("POST", "/repos/{owner}/{repo}/pulls/{number:int}/reviews", create_review, "token", True),
    ("GET", "/repos/{owner}/{repo}/issues/{number:int}/comments", list_issue_comments, "token", False),
    ("POST", "/repos/{owner}/{repo}/issues/{number:int}/comments", create_issue_comment, "token", True),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}", compare, "token", False),
    ("GET", "/repos/{owner}/{repo}/contents/{path:path}", get_content, "token", False),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id:int}", edit_issue_comment, "token", True),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/comments/{comment_id:int}/reactions",
        create_issue_comment_reaction,
        "token",
        True,
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{number:int}/comments", list_review_comments, "token", False),
    ("GET", "/repos/{owner}/{repo}/pulls/comments/{comment_id:int}", get_review_comment, "token", False),
    (
        "POST",
        "/repos/{owner}/{repo}/pulls/{number:int}/comments/{comment_id:int}/replies",
        reply_to_review_comment,
        "token",
        True,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls/comments/{comment_id:int}/reactions",
        list_review_comment_reactions,
        "token",
        False,
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/pulls/comments/{comment_id:int}/reactions",
        create_review_comment_reaction,
        "token",
        True,
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
        collaborator_permission,
        "token",
        False,
    ),
    ("POST", "/repos/{owner}/{repo}/check-runs", create_check_run, "token", True),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id:int}", update_check_run, "token", True),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs", list_check_runs_for_ref, "token", False),
    ("POST", "/graphql", graphql, "graphql", True),
    ("GET", "/repos/{owner}/{repo}/tarball/{ref:path}", get_tarball, "token", False),
]

# Set-up and inspection over HTTP, for a fake running in another process (benchmarks, manual runs).
ADMIN_METHODS = {
    "add_app",
    "add_installation",
    "add_repo",
    "add_pull_request",
    "push",
    "set_content",
    "set_comparison",
    "set_tree",
    "add_review",
    "add_delivery",
    "fail_next",
    "rate_limit_next",
    "delay_next",
    "set_rate_limit",
    "quota_used",
    "expire_tokens",
    "reviews_posted",
    "comments_posted",
    "add_issue_comment",
    "add_thread_reply",
    "react",
    "set_permission",
    "review_comments",
    "threads",
    "check_runs",
    "requests_to",
    "token_requests",
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


def admin_endpoint(state: FakeGitHubState) -> Callable[[Request], Awaitable[Response]]:
    """``POST /_fake/{method}`` with JSON keyword arguments calls that set-up or inspection method."""

    async def run(request: Request) -> Response:
        name = request.path_params["method"]
        if name not in ADMIN_METHODS:
            return JSONResponse({"error": f"unknown method {name}"}, status_code=404)
        kwargs = json.loads(await request.body() or b"{}")
        try:
            result = getattr(state, name)(**kwargs)
        except (TypeError, KeyError, ValueError) as exc:
            return JSONResponse({"error": repr(exc)}, status_code=400)
        return JSONResponse({"result": _plain(result)})

    return run


def build_app(state: FakeGitHubState) -> Starlette:
    """The Starlette app serving ``state`` at ``/`` and ``/api/v3``."""
    routes = [
        Route(path, endpoint(state, handler, auth=auth, write=write), methods=[method])
        for method, path, handler, auth, write in ROUTES
    ]
    admin = Route("/_fake/{method}", admin_endpoint(state), methods=["POST"])
    # Enterprise Server serves GraphQL at /api/graphql, beside (not under) /api/v3.
    ghes_graphql = Route(
        "/api/graphql", endpoint(state, graphql, auth="graphql", write=True), methods=["POST"]
    )
    codeload = Route(
        "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}", codeload_endpoint(state), methods=["GET"]
    )
    return Starlette(routes=[admin, codeload, ghes_graphql, Mount(GHES_PREFIX, routes=routes), *routes])
