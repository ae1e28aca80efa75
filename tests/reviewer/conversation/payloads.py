"""issue_comment payloads on a pull request, built from GitHub's real example payload."""

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
