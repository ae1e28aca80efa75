"""Comment and check-run payloads, built from GitHub's real example payloads."""

from __future__ import annotations

import copy
from typing import Any

from support.webhooks import load_payload

BOT = "argoai"
HOST = "api.github.com"


def pr_comment(
    body: str,
    *,
    login: str = "octocat",
    user_type: str = "User",
    association: str = "MEMBER",
    comment_id: int = 4242,
    number: int = 7,
    action: str = "created",
    on_pull_request: bool = True,
    installation: int | None = 99,
    default_branch: str = "main",
) -> dict[str, Any]:
    """An ``issue_comment`` delivery: ``login`` (``association``) wrote ``body`` on PR ``number``."""
    payload = copy.deepcopy(load_payload("issue_comment.created"))
    payload["action"] = action
    issue = payload["issue"]
    issue["number"] = number
    api = f"https://api.github.com/repos/{payload['repository']['full_name']}"
    if on_pull_request:
        # What GitHub adds to an issue that is a pull request.
        issue["pull_request"] = {
            "url": f"{api}/pulls/{number}",
            "html_url": f"https://github.com/{payload['repository']['full_name']}/pull/{number}",
            "diff_url": f"https://github.com/{payload['repository']['full_name']}/pull/{number}.diff",
            "patch_url": f"https://github.com/{payload['repository']['full_name']}/pull/{number}.patch",
            "merged_at": None,
        }
    else:
        issue.pop("pull_request", None)
    comment = payload["comment"]
    comment.update(id=comment_id, body=body, author_association=association)
    comment["user"] = {**comment["user"], "login": login, "type": user_type}
    payload["sender"] = {**payload["sender"], "login": login, "type": user_type}
    payload["repository"]["default_branch"] = default_branch
    if installation is not None:
        payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTk="}
    return payload


def review_comment(
    body: str,
    *,
    login: str = "octocat",
    user_type: str = "User",
    association: str = "MEMBER",
    comment_id: int = 4343,
    in_reply_to: int | None = None,
    action: str = "created",
) -> dict[str, Any]:
    """A ``pull_request_review_comment`` delivery: ``login`` wrote ``body`` in a diff thread of PR 2."""
    payload = copy.deepcopy(load_payload("pull_request_review_comment.created"))
    payload["action"] = action
    comment = payload["comment"]
    comment.update(id=comment_id, body=body, author_association=association)
    if in_reply_to is not None:
        comment["in_reply_to_id"] = in_reply_to
    comment["user"] = {**comment["user"], "login": login, "type": user_type}
    payload["sender"] = {**payload["sender"], "login": login, "type": user_type}
    payload["installation"] = {"id": 99, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTk="}
    return payload


def check_run_rerequested(
    *,
    action: str = "rerequested",
    name: str = "ArgoAI",
    slug: str = "argoai",
    pull_requests: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``check_run`` delivery for a run on the head of PR 5 (GitHub's shape; see the check_run webhook)."""
    repository = copy.deepcopy(load_payload("pull_request.opened")["repository"])
    head = "9" * 40
    pull = {
        "url": f"https://api.github.com/repos/{repository['full_name']}/pulls/5",
        "id": 5005,
        "number": 5,
        "head": {"ref": "feature", "sha": head, "repo": {"id": repository["id"], "name": repository["name"]}},
        "base": {
            "ref": "main",
            "sha": "8" * 40,
            "repo": {"id": repository["id"], "name": repository["name"]},
        },
    }
    app = {
        "id": 4242,
        "slug": slug,
        "name": slug.title(),
        "owner": {"login": "octo-org", "type": "Organization"},
    }
    return {
        "action": action,
        "check_run": {
            "id": 77001,
            "name": name,
            "head_sha": head,
            "external_id": "",
            "status": "completed",
            "conclusion": "failure",
            "app": app,
            "check_suite": {"id": 88, "head_sha": head, "pull_requests": [pull], "app": app},
            "pull_requests": [pull] if pull_requests is None else pull_requests,
        },
        "repository": repository,
        "sender": {"login": "octocat", "type": "User"},
        "installation": {"id": 99, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uOTk="},
    }
