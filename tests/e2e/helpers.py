"""Steps shared by the end-to-end tests: pull requests on the fake GitHub, the webhooks GitHub would send
(from its real example payloads, retargeted), and waiting for the reviewer to settle."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import nats

from support.system import OWNER, REPO, ArgoSystem, pull_request_payload, wait_until
from support.webhooks import load_payload

BASE = "b" * 40
NUMBER = 7


def added(text: str) -> str:
    """The patch of a new file holding ``text``."""
    lines = text.splitlines(keepends=True)
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}" for line in lines)


def open_pr(argo: ArgoSystem, head: str, files: dict[str, str], **kwargs: Any) -> None:
    """PR 7 adding ``files`` at ``head``, and its ``opened`` webhook."""
    argo.fake_github.add_pull_request(
        OWNER, REPO, NUMBER, head, BASE, [(p, added(t), t) for p, t in files.items()],
        installation_id=argo.installation_id, **kwargs,
    )  # fmt: skip
    opened = pull_request_payload(
        "opened", number=NUMBER, head=head, base=BASE, installation_id=argo.installation_id
    )
    assert argo.send("pull_request", opened).status_code == 202


def push(argo: ArgoSystem, head: str, before: str, files: dict[str, str | None]) -> str:
    """A push to PR 7 (path → new text, None removes it) and its ``synchronize`` webhook; its delivery id."""
    github = argo.fake_github
    current: dict[str, tuple[str, str | None, str | bytes | None]] = {
        f.path: (f.path, f.patch, f.content) for f in github.pull(OWNER, REPO, NUMBER).files
    }
    changed: list[tuple[str, str | None, str | bytes | None]] = []
    for path, text in files.items():
        if text is None:
            current.pop(path, None)
            changed.append((path, "@@ -1 +0,0 @@\n-gone\n", None))
        else:
            current[path] = changed_spec = (path, added(text), text)
            changed.append(changed_spec)
    github.push(OWNER, REPO, NUMBER, head, list(current.values()), compare_files=changed)
    for path, text in files.items():
        if text is None:
            github.set_content(OWNER, REPO, head, path, None)
    sync = pull_request_payload(
        "synchronize",
        number=NUMBER,
        head=head,
        base=BASE,
        before=before,
        installation_id=argo.installation_id,
    )
    response = argo.send("pull_request", sync)
    assert response.status_code == 202
    return response.request.headers["X-GitHub-Delivery"]


def _retarget(payload: dict[str, Any], argo: ArgoSystem) -> None:
    payload["installation"] = {"id": argo.installation_id}
    payload["repository"] = {
        **payload["repository"], "name": REPO, "full_name": f"{OWNER}/{REPO}", "default_branch": "main",
        "owner": {**payload["repository"]["owner"], "login": OWNER},
    }  # fmt: skip


def comment(
    argo: ArgoSystem,
    body: str,
    *,
    association: str = "MEMBER",
    login: str = "maintainer",
    user_type: str = "User",
) -> tuple[int, dict[str, Any]]:
    """A conversation comment written on PR 7 (on the fake) and its ``issue_comment.created`` webhook."""
    comment_id = argo.fake_github.add_issue_comment(
        OWNER, REPO, NUMBER, body, author=login, author_type=user_type, association=association
    )
    payload = copy.deepcopy(load_payload("issue_comment.created"))
    _retarget(payload, argo)
    payload["issue"].update(number=NUMBER, state="open")
    payload["issue"]["pull_request"] = {
        "url": f"https://api.github.com/repos/{OWNER}/{REPO}/pulls/{NUMBER}",
        "html_url": f"https://github.com/{OWNER}/{REPO}/pull/{NUMBER}",
        "diff_url": f"https://github.com/{OWNER}/{REPO}/pull/{NUMBER}.diff",
        "patch_url": f"https://github.com/{OWNER}/{REPO}/pull/{NUMBER}.patch",
        "merged_at": None,
    }
    payload["comment"].update(id=comment_id, body=body, author_association=association)
    payload["comment"]["user"] = {**payload["comment"]["user"], "login": login, "type": user_type}
    payload["sender"] = {**payload["sender"], "login": login, "type": user_type}
    return comment_id, payload


def thread_reply(
    argo: ArgoSystem, in_reply_to: int, body: str, *, association: str = "MEMBER", login: str = "maintainer"
) -> tuple[int, dict[str, Any]]:
    """A reply in the diff thread of comment ``in_reply_to`` (on the fake) and its
    ``pull_request_review_comment.created`` webhook."""
    comment_id = argo.fake_github.add_thread_reply(OWNER, REPO, NUMBER, in_reply_to, body, author=login,
                                                   association=association)  # fmt: skip
    payload = copy.deepcopy(load_payload("pull_request_review_comment.created"))
    _retarget(payload, argo)
    payload["pull_request"].update(number=NUMBER, state="open")
    payload["comment"].update(
        id=comment_id, body=body, author_association=association, in_reply_to_id=in_reply_to
    )
    payload["comment"]["user"] = {**payload["comment"]["user"], "login": login, "type": "User"}
    payload["sender"] = {**payload["sender"], "login": login, "type": "User"}
    return comment_id, payload


def check_run_rerequested(argo: ArgoSystem, run_id: int, head: str) -> dict[str, Any]:
    """The ``check_run.rerequested`` webhook of our run ``run_id`` on ``head`` of PR 7 (GitHub's shape)."""
    payload = pull_request_payload(
        "opened", number=NUMBER, head=head, base=BASE, installation_id=argo.installation_id
    )
    pr = payload["pull_request"]
    app = {
        "id": argo.app_id,
        "slug": "argoai",
        "name": "ArgoAI",
        "owner": {"login": OWNER, "type": "Organization"},
    }
    pull = {
        "url": pr["url"], "id": pr["id"], "number": NUMBER,
        "head": {"ref": pr["head"]["ref"], "sha": head}, "base": {"ref": "main", "sha": BASE},
    }  # fmt: skip
    return {
        "action": "rerequested",
        "check_run": {
            "id": run_id, "name": "ArgoAI", "head_sha": head, "status": "completed", "conclusion": "failure",
            "app": app, "pull_requests": [pull], "check_suite": {"id": 1, "head_sha": head, "app": app},
        },
        "repository": payload["repository"],
        "sender": {"login": "maintainer", "type": "User"},
        "installation": {"id": argo.installation_id},
    }  # fmt: skip


def reviews(argo: ArgoSystem) -> list[Any]:
    """Reviews posted on PR 7."""
    return argo.fake_github.reviews_posted(OWNER, REPO, NUMBER)


def bot_comments(argo: ArgoSystem) -> list[Any]:
    """The bot's conversation comments on PR 7."""
    return [c for c in argo.fake_github.comments_posted(OWNER, REPO, NUMBER) if c.author == "argoai[bot]"]


def summary(argo: ArgoSystem) -> Any:
    """The one summary comment of PR 7."""
    [found] = [c for c in bot_comments(argo) if "argoai:summary" in c.body]
    return found


def summary_body(argo: ArgoSystem) -> str:
    """The body of PR 7's summary comment ("" before there is one)."""
    return next((c.body for c in bot_comments(argo) if "argoai:summary" in c.body), "")


def thread_comments(argo: ArgoSystem) -> list[Any]:
    """Every diff comment of PR 7."""
    return argo.fake_github.review_comments(OWNER, REPO, NUMBER)


def settled(argo: ArgoSystem) -> None:
    """Wait until every webhook and job has been consumed and settled."""

    async def pending() -> int:
        nc = await nats.connect(argo.nats_url)
        try:
            js = nc.jetstream()
            total = 0
            for stream, consumer in (("WEBHOOKS", "INTAKE"), ("JOBS", "REVIEWERS")):
                info = await js.consumer_info(f"{argo.prefix}_{stream}", f"{argo.prefix}_{consumer}")
                total += info.num_pending + info.num_ack_pending
            return total
        finally:
            await nc.close()

    wait_until(lambda: asyncio.run(pending()) == 0, 60, "the reviewer to settle", interval=0.2)
