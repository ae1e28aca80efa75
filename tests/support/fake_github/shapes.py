"""GitHub-shaped JSON for the fake: every field githubkit's strict models require, with plausible values.

A test in tests/reviewer/github checks these documents against githubkit's models, so a client that uses
``.parsed_data`` works against the fake as it does against GitHub.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

API = "https://api.github.com"
WEB = "https://github.com"

Json = dict[str, Any]


# The time the fake started: timestamps it does not track are stable, as GitHub's are (a representation that
# changed every second would never be answered 304).
STARTED = datetime.now(UTC)


def iso(moment: datetime | None = None) -> str:
    """GitHub's timestamp format: ``2026-11-02T10:00:00Z`` (unknown moments: when the fake started)."""
    return (moment or STARTED).strftime("%Y-%m-%dT%H:%M:%SZ")


def stable_id(*parts: object) -> int:
    """A stable positive id derived from names, for objects whose id tests do not care about."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:4], "big") + 1


def user(login: str, kind: str = "User") -> Json:
    """A SimpleUser (``kind`` is ``User``, ``Bot`` or ``Organization``)."""
    base = f"{API}/users/{login}"
    return {
        "login": login,
        "id": stable_id("user", login),
        "node_id": f"U_{login}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{stable_id('user', login)}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": kind,
        "user_view_type": "public",
        "site_admin": False,
    }


_REPO_URL_FIELDS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
    "hooks_url": "/hooks",
}


def repository(owner: str, name: str, default_branch: str = "main") -> Json:
    """A Repository."""
    full = f"{owner}/{name}"
    base = f"{API}/repos/{full}"
    doc: Json = {
        "id": stable_id("repo", full),
        "node_id": f"R_{full}",
        "name": name,
        "full_name": full,
        "private": False,
        "owner": user(owner, "Organization"),
        "html_url": f"{WEB}/{full}",
        "description": None,
        "fork": False,
        "url": base,
        "git_url": f"git://github.com/{full}.git",
        "ssh_url": f"git@github.com:{full}.git",
        "clone_url": f"{WEB}/{full}.git",
        "svn_url": f"{WEB}/{full}",
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "license": None,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 1,
        "default_branch": default_branch,
        "open_issues_count": 1,
        "open_issues": 1,
        "has_pages": False,
        "disabled": False,
        "archived": False,
        "visibility": "public",
        "pushed_at": iso(),
        "created_at": iso(),
        "updated_at": iso(),
    }
    for field, suffix in _REPO_URL_FIELDS.items():
        doc[field] = base + suffix
    return doc


def pull_request(
    *,
    owner: str,
    repo: str,
    number: int,
    title: str,
    body: str | None,
    state: str,
    draft: bool,
    author: str,
    author_type: str,
    head_sha: str,
    head_ref: str,
    base_sha: str,
    base_ref: str,
    changed_files: int,
    additions: int,
    deletions: int,
) -> Json:
    """A PullRequest as ``GET /repos/{o}/{r}/pulls/{n}`` returns it."""
    full = f"{owner}/{repo}"
    base = f"{API}/repos/{full}"
    url = f"{base}/pulls/{number}"
    html = f"{WEB}/{full}/pull/{number}"
    repo_doc = repository(owner, repo, base_ref)
    links = {
        "self": url,
        "html": html,
        "issue": f"{base}/issues/{number}",
        "comments": f"{base}/issues/{number}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{base}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{base}/statuses/{head_sha}",
    }
    return {
        "url": url,
        "id": stable_id("pull", full, number),
        "node_id": f"PR_{full}_{number}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": links["issue"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": user(author, author_type),
        "body": body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": iso(),
        "updated_at": iso(),
        "closed_at": None if state == "open" else iso(),
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{owner}:{head_ref}",
            "ref": head_ref,
            "sha": head_sha,
            "user": user(owner, "Organization"),
            "repo": repo_doc,
        },
        "base": {
            "label": f"{owner}:{base_ref}",
            "ref": base_ref,
            "sha": base_sha,
            "user": user(owner, "Organization"),
            "repo": repo_doc,
        },
        "_links": {key: {"href": value} for key, value in links.items()},
        "author_association": "CONTRIBUTOR",
        "auto_merge": None,
        "draft": draft,
        "merged": False,
        "mergeable": True,
        "rebaseable": True,
        "mergeable_state": "clean",
        "merged_by": None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": 1,
        "additions": additions,
        "deletions": deletions,
        "changed_files": changed_files,
    }


def diff_entry(
    *,
    owner: str,
    repo: str,
    ref: str,
    path: str,
    status: str,
    additions: int,
    deletions: int,
    patch: str | None,
    previous_path: str | None,
) -> Json:
    """A DiffEntry (one file of ``/pulls/{n}/files`` or of a comparison); no ``patch`` key when omitted."""
    full = f"{owner}/{repo}"
    doc: Json = {
        "sha": hashlib.sha1(f"{ref}:{path}".encode(), usedforsecurity=False).hexdigest(),
        "filename": path,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "changes": additions + deletions,
        "blob_url": f"{WEB}/{full}/blob/{ref}/{path}",
        "raw_url": f"{WEB}/{full}/raw/{ref}/{path}",
        "contents_url": f"{API}/repos/{full}/contents/{path}?ref={ref}",
    }
    if patch is not None:
        doc["patch"] = patch
    if previous_path is not None:
        doc["previous_filename"] = previous_path
    return doc


def commit(owner: str, repo: str, sha: str, parents: list[str]) -> Json:
    """A Commit, as inside a comparison."""
    full = f"{owner}/{repo}"
    person = {"name": "Octo Cat", "email": "octocat@example.com", "date": iso()}
    return {
        "url": f"{API}/repos/{full}/commits/{sha}",
        "sha": sha,
        "node_id": f"C_{sha}",
        "html_url": f"{WEB}/{full}/commit/{sha}",
        "comments_url": f"{API}/repos/{full}/commits/{sha}/comments",
        "commit": {
            "url": f"{API}/repos/{full}/git/commits/{sha}",
            "author": person,
            "committer": person,
            "message": f"commit {sha[:7]}",
            "comment_count": 0,
            "tree": {"sha": sha, "url": f"{API}/repos/{full}/git/trees/{sha}"},
        },
        "author": None,
        "committer": None,
        "parents": [{"sha": p, "url": f"{API}/repos/{full}/commits/{p}"} for p in parents],
    }


def comparison(
    *,
    owner: str,
    repo: str,
    base: str,
    head: str,
    status: str,
    files: list[Json],
    ahead_by: int,
    behind_by: int,
) -> Json:
    """A CommitComparison (``GET /repos/{o}/{r}/compare/{base}...{head}``)."""
    full = f"{owner}/{repo}"
    return {
        "url": f"{API}/repos/{full}/compare/{base}...{head}",
        "html_url": f"{WEB}/{full}/compare/{base}...{head}",
        "permalink_url": f"{WEB}/{full}/compare/{full}:{base}...{full}:{head}",
        "diff_url": f"{WEB}/{full}/compare/{base}...{head}.diff",
        "patch_url": f"{WEB}/{full}/compare/{base}...{head}.patch",
        "base_commit": commit(owner, repo, base, []),
        "merge_base_commit": commit(owner, repo, base, []),
        "status": status,
        "ahead_by": ahead_by,
        "behind_by": behind_by,
        "total_commits": ahead_by,
        "commits": [commit(owner, repo, head, [base])] if ahead_by else [],
        "files": files,
    }


def content_file(
    *, owner: str, repo: str, ref: str, path: str, size: int, encoded: str, encoding: str
) -> Json:
    """A ContentFile (``GET /repos/{o}/{r}/contents/{path}``, default media type)."""
    full = f"{owner}/{repo}"
    self_url = f"{API}/repos/{full}/contents/{path}?ref={ref}"
    git_url = f"{API}/repos/{full}/git/blobs/{stable_id(ref, path)}"
    html = f"{WEB}/{full}/blob/{ref}/{path}"
    return {
        "type": "file",
        "encoding": encoding,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": encoded,
        "sha": hashlib.sha1(f"{ref}:{path}".encode(), usedforsecurity=False).hexdigest(),
        "url": self_url,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"https://raw.githubusercontent.com/{full}/{ref}/{path}",
        "_links": {"self": self_url, "git": git_url, "html": html},
    }


def directory_item(*, owner: str, repo: str, ref: str, path: str, kind: str) -> Json:
    """One entry of a directory listing (``kind`` is ``file`` or ``dir``)."""
    doc = content_file(owner=owner, repo=repo, ref=ref, path=path, size=0, encoded="", encoding="none")
    doc["type"] = kind
    del doc["content"], doc["encoding"]
    return doc


def review(
    *,
    owner: str,
    repo: str,
    number: int,
    review_id: int,
    author: str,
    author_type: str,
    body: str,
    state: str,
    commit_id: str | None,
) -> Json:
    """A PullRequestReview."""
    full = f"{owner}/{repo}"
    html = f"{WEB}/{full}/pull/{number}#pullrequestreview-{review_id}"
    pr_url = f"{API}/repos/{full}/pulls/{number}"
    return {
        "id": review_id,
        "node_id": f"PRR_{review_id}",
        "user": user(author, author_type),
        "body": body,
        "state": state,
        "html_url": html,
        "pull_request_url": pr_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "submitted_at": None if state == "PENDING" else iso(),
        "commit_id": commit_id,
        "author_association": "NONE",
    }


def issue_comment(
    *, owner: str, repo: str, number: int, comment_id: int, author: str, author_type: str, body: str
) -> Json:
    """An IssueComment."""
    full = f"{owner}/{repo}"
    return {
        "id": comment_id,
        "node_id": f"IC_{comment_id}",
        "url": f"{API}/repos/{full}/issues/comments/{comment_id}",
        "html_url": f"{WEB}/{full}/pull/{number}#issuecomment-{comment_id}",
        "body": body,
        "user": user(author, author_type),
        "created_at": iso(),
        "updated_at": iso(),
        "issue_url": f"{API}/repos/{full}/issues/{number}",
        "author_association": "NONE",
    }


def installation(*, installation_id: int, app_id: int, app_slug: str, account: str) -> Json:
    """An Installation (``GET /repos/{o}/{r}/installation``)."""
    return {
        "id": installation_id,
        "account": user(account, "Organization"),
        "repository_selection": "all",
        "access_tokens_url": f"{API}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{API}/installation/repositories",
        "html_url": f"{WEB}/organizations/{account}/settings/installations/{installation_id}",
        "app_id": app_id,
        "target_id": stable_id("user", account),
        "target_type": "Organization",
        "permissions": {
            "contents": "read",
            "pull_requests": "write",
            "issues": "write",
            "checks": "write",
            "metadata": "read",
        },
        "events": ["pull_request", "issue_comment", "pull_request_review_comment", "check_run"],
        "created_at": iso(),
        "updated_at": iso(),
        "single_file_name": None,
        "app_slug": app_slug,
        "suspended_by": None,
        "suspended_at": None,
    }


def error(message: str, *, status: int, errors: list[Any] | None = None, doc: str = "") -> Json:
    """GitHub's error body: ``{"message", "documentation_url", "status"}`` and ``errors`` for 422."""
    body: Json = {
        "message": message,
        "documentation_url": doc or "https://docs.github.com/rest",
        "status": str(status),
    }
    if errors is not None:
        body["errors"] = errors
    return body


def reaction_rollup(url: str, contents: list[str]) -> Json:
    """The ``reactions`` roll-up GitHub adds to a comment."""
    counts = {
        name: contents.count(name)
        for name in ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
    }
    return {"url": url, "total_count": len(contents), **counts}


def review_comment(
    *,
    owner: str,
    repo: str,
    number: int,
    comment_id: int,
    review_id: int | None,
    author: str,
    author_type: str,
    association: str,
    path: str,
    line: int | None,
    start_line: int | None,
    side: str,
    body: str,
    commit_id: str,
    in_reply_to: int | None,
    reactions: list[str],
) -> Json:
    """A PullRequestReviewComment (``in_reply_to_id`` only on replies, as GitHub sends it)."""
    full = f"{owner}/{repo}"
    url = f"{API}/repos/{full}/pulls/comments/{comment_id}"
    html = f"{WEB}/{full}/pull/{number}#discussion_r{comment_id}"
    doc: Json = {
        "url": url,
        "pull_request_review_id": review_id,
        "id": comment_id,
        "node_id": f"PRRC_{comment_id}",
        "diff_hunk": "@@",
        "path": path,
        "commit_id": commit_id,
        "original_commit_id": commit_id,
        "user": user(author, author_type),
        "body": body,
        "created_at": iso(),
        "updated_at": iso(),
        "html_url": html,
        "pull_request_url": f"{API}/repos/{full}/pulls/{number}",
        "author_association": association,
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "pull_request": {"href": f"{API}/repos/{full}/pulls/{number}"},
        },
        "start_line": start_line,
        "original_start_line": start_line,
        "start_side": side if start_line is not None else None,
        "line": line,
        "original_line": line,
        "side": side,
        "subject_type": "line",
        "reactions": reaction_rollup(f"{url}/reactions", reactions),
    }
    if in_reply_to is not None:
        doc["in_reply_to_id"] = in_reply_to
    return doc


def reaction(*, reaction_id: int, content: str, login: str, user_type: str) -> Json:
    """A Reaction."""
    return {
        "id": reaction_id,
        "node_id": f"REA_{reaction_id}",
        "user": user(login, user_type),
        "content": content,
        "created_at": iso(),
    }


def collaborator_permission(login: str, role: str) -> Json:
    """``GET /repos/{o}/{r}/collaborators/{user}/permission``: ``permission`` is the role's legacy name."""
    legacy = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}.get(
        role, "none"
    )
    return {"permission": legacy, "role_name": role, "user": {**user(login), "role_name": role}}


def app(*, app_id: int, slug: str, owner: str) -> Json:
    """An Integration (a GitHub App), as embedded in a check run."""
    return {
        "id": app_id,
        "slug": slug,
        "node_id": f"A_{app_id}",
        "client_id": f"Iv1.{app_id:016x}",
        "owner": user(owner, "Organization"),
        "name": slug.title(),
        "description": "",
        "external_url": "https://example.com",
        "html_url": f"{WEB}/apps/{slug}",
        "created_at": iso(),
        "updated_at": iso(),
        "permissions": {"checks": "write", "pull_requests": "write", "issues": "write", "metadata": "read"},
        "events": ["pull_request", "issue_comment", "pull_request_review_comment", "check_run"],
    }


def check_run(
    *,
    owner: str,
    repo: str,
    run_id: int,
    name: str,
    head_sha: str,
    status: str,
    conclusion: str | None,
    external_id: str | None,
    output: Json,
    annotations_count: int,
    started_at: datetime,
    completed_at: datetime | None,
    app_doc: Json,
) -> Json:
    """A CheckRun."""
    full = f"{owner}/{repo}"
    url = f"{API}/repos/{full}/check-runs/{run_id}"
    return {
        "id": run_id,
        "head_sha": head_sha,
        "node_id": f"CR_{run_id}",
        "external_id": external_id,
        "url": url,
        "html_url": f"{WEB}/{full}/runs/{run_id}",
        "details_url": None,
        "status": status,
        "conclusion": conclusion,
        "started_at": iso(started_at),
        "completed_at": iso(completed_at) if completed_at else None,
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": annotations_count,
            "annotations_url": f"{url}/annotations",
        },
        "name": name,
        "check_suite": {"id": stable_id("suite", full, head_sha)},
        "app": app_doc,
        "pull_requests": [],
    }
