"""The fake GitHub behaves like GitHub: JWT and token checks, 422 for off-diff comments, paging, limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from githubkit.compat import type_validate_python
from githubkit_schemas.latest import models

from support.fake_github import AppCredentials, FakeFile, FakeGitHub, RemoteFakeGitHub
from support.fake_github.hunks import parse_patch
from support.keys import new_app_key

OWNER, REPO = "octo-org", "demo"
HEAD, BASE = "a" * 40, "b" * 40
# Hunk 1: new lines 1-4 (2 and 3 added, old line 2 deleted); hunk 2: new lines 20-22 (21 added).
PATCH = "@@ -1,3 +1,4 @@\n one\n-two\n+TWO\n+three\n four\n@@ -20,2 +20,3 @@\n twenty\n+inserted\n more"


def make_jwt(app: AppCredentials, *, iss: Any = None, lifetime: int = 540, key: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": str(app.app_id) if iss is None else iss, "iat": now - 60, "exp": now + lifetime}
    return jwt.encode(claims, key or app.key.pkcs1, algorithm="RS256")


def token(fake: FakeGitHub, app: AppCredentials) -> str:
    response = httpx.post(
        f"{fake.url}/app/installations/{app.installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {make_jwt(app)}"},
    )
    assert response.status_code == 201, response.text
    value: str = response.json()["token"]
    return value


def with_pull(fake: FakeGitHub, app: AppCredentials, files: list[Any] | None = None) -> None:
    fake.add_pull_request(
        OWNER,
        REPO,
        7,
        HEAD,
        BASE,
        files or [("src/app.py", PATCH, "one\nTWO\nthree\nfour\n")],
        installation_id=app.installation_id,
    )


def review_body(*comments: dict[str, Any], commit_id: str = HEAD) -> dict[str, Any]:
    return {"commit_id": commit_id, "body": "Review", "event": "COMMENT", "comments": list(comments)}


def post_review(fake: FakeGitHub, auth: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7/reviews",
        json=body,
        headers={"Authorization": f"token {auth}"},
    )


def test_hunk_parser_knows_commentable_lines() -> None:
    """The fake's own patch parser: RIGHT = added + context lines, LEFT = deleted + context, per hunk."""
    lines = parse_patch(PATCH)
    assert [sorted(h.right) for h in lines.hunks] == [[1, 2, 3, 4], [20, 21, 22]]
    assert [sorted(h.left) for h in lines.hunks] == [[1, 2, 3], [20, 21]]
    assert lines.hunk_of(21, "RIGHT") == 1
    assert lines.hunk_of(5, "RIGHT") is None


def test_repo_endpoint_without_token_is_401(fake: FakeGitHub, app: AppCredentials) -> None:
    """A repository call without credentials, or with an unknown token, is refused with 401."""
    with_pull(fake, app)
    url = f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7"
    assert httpx.get(url).status_code == 401
    response = httpx.get(url, headers={"Authorization": "token ghs_" + "x" * 36})
    assert response.status_code == 401
    assert response.json()["message"] == "Bad credentials"


def test_valid_jwt_gets_an_installation_token(fake: FakeGitHub, app: AppCredentials) -> None:
    """A correctly signed App JWT buys a ghs_ token that expires in an hour and opens the repository."""
    with_pull(fake, app)
    response = httpx.post(
        f"{fake.url}/app/installations/{app.installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {make_jwt(app)}"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("ghs_")
    assert len(body["token"]) == 40
    assert body["expires_at"].endswith("Z")
    pr = httpx.get(
        f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7", headers={"Authorization": f"token {body['token']}"}
    )
    assert pr.status_code == 200
    assert pr.json()["head"]["sha"] == HEAD


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("other_key", "could not be decoded"),
        ("too_long", "too far in the future"),
        ("expired", "Expiration time"),
        ("unknown_app", "Integration not found"),
        ("garbage", "could not be decoded"),
    ],
)
def test_invalid_jwt_is_401(fake: FakeGitHub, app: AppCredentials, case: str, message: str) -> None:
    """JWTs signed with another key, living over 10 minutes, expired, or for another App are refused."""
    jwts = {
        "other_key": lambda: make_jwt(app, key=new_app_key().pkcs1),
        "too_long": lambda: make_jwt(app, lifetime=3600),
        "expired": lambda: make_jwt(app, lifetime=-5),
        "unknown_app": lambda: make_jwt(app, iss="999"),
        "garbage": lambda: "not.a.jwt",
    }
    response = httpx.post(
        f"{fake.url}/app/installations/{app.installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {jwts[case]()}"},
    )
    assert response.status_code == 401
    assert message in response.json()["message"]
    assert not fake.tokens


def test_expired_token_is_401(fake: FakeGitHub, app: AppCredentials) -> None:
    """A token past its expiry (forced) is refused with 401 Bad credentials."""
    with_pull(fake, app)
    value = token(fake, app)
    assert fake.expire_tokens(app.installation_id) == 1
    response = httpx.get(
        f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7", headers={"Authorization": f"token {value}"}
    )
    assert response.status_code == 401


def test_token_of_another_installation_sees_404(fake: FakeGitHub, app: AppCredentials) -> None:
    """A valid token of an installation that does not cover the repository gets 404, as on GitHub."""
    with_pull(fake, app)
    fake.add_installation(88, app.app_id, "someone-else")
    response = httpx.post(
        f"{fake.url}/app/installations/88/access_tokens", headers={"Authorization": f"Bearer {make_jwt(app)}"}
    )
    other = response.json()["token"]
    pr = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7", headers={"Authorization": f"token {other}"})
    assert pr.status_code == 404


def test_review_with_one_bad_comment_is_rejected_whole(fake: FakeGitHub, app: AppCredentials) -> None:
    """One comment off the diff makes GitHub answer 422 without naming it, and nothing is recorded."""
    with_pull(fake, app)
    auth = token(fake, app)
    good = {"path": "src/app.py", "line": 2, "side": "RIGHT", "body": "ok"}
    bad = {"path": "src/app.py", "line": 10, "side": "RIGHT", "body": "not on the diff"}
    response = post_review(fake, auth, review_body(good, bad))
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Unprocessable Entity"
    assert isinstance(body["errors"], list)
    assert body["errors"]
    assert "documentation_url" in body
    assert fake.reviews_posted(OWNER, REPO, 7) == []


@pytest.mark.parametrize(
    ("comment", "accepted"),
    [
        ({"line": 3}, True),  # added line
        ({"line": 4}, True),  # context line
        ({"line": 21}, True),  # added line of the second hunk
        ({"line": 5}, False),  # between hunks
        ({"line": 2, "start_line": 1, "start_side": "RIGHT"}, True),  # range within hunk 1
        ({"line": 21, "start_line": 3, "start_side": "RIGHT"}, False),  # range across two hunks
        ({"line": 2, "start_line": 2, "start_side": "RIGHT"}, False),  # start must precede the end
        ({"line": 2, "side": "LEFT"}, True),  # the deleted line, on the old side
        ({"line": 4, "side": "LEFT"}, False),  # old line 4 is not in hunk 1
        ({"path": "src/other.py", "line": 1}, False),  # file not in the pull request
    ],
)
def test_review_comment_must_be_on_the_diff(
    fake: FakeGitHub, app: AppCredentials, comment: dict[str, Any], accepted: bool
) -> None:
    """Only added/context lines (RIGHT) or deleted/context lines (LEFT), and ranges within one hunk, pass."""
    with_pull(fake, app)
    full = {"path": "src/app.py", "side": "RIGHT", "body": "note", **comment}
    response = post_review(fake, token(fake, app), review_body(full))
    assert (response.status_code == 200) is accepted, response.text
    assert len(fake.reviews_posted(OWNER, REPO, 7)) == (1 if accepted else 0)


def test_review_recorded_as_sent(fake: FakeGitHub, app: AppCredentials) -> None:
    """An accepted review is recorded with its event, body, commit and comments, authored by the App's bot."""
    with_pull(fake, app)
    comment = {
        "path": "src/app.py",
        "line": 3,
        "side": "RIGHT",
        "start_line": 2,
        "start_side": "RIGHT",
        "body": "x",
    }
    response = post_review(fake, token(fake, app), review_body(comment))
    assert response.status_code == 200
    [review] = fake.reviews_posted(OWNER, REPO, 7)
    assert response.json()["id"] == review.id
    assert (review.event, review.state, review.commit_id, review.body) == (
        "COMMENT",
        "COMMENTED",
        HEAD,
        "Review",
    )
    assert review.comments == [comment]
    assert review.author == "argoai[bot]"
    assert review.author_type == "Bot"


def test_review_for_stale_head_is_rejected(fake: FakeGitHub, app: AppCredentials) -> None:
    """A review whose commit_id is no longer the head is refused (stricter than GitHub, on purpose)."""
    with_pull(fake, app)
    fake.push(OWNER, REPO, 7, "c" * 40)
    response = post_review(fake, token(fake, app), review_body(commit_id=HEAD))
    assert response.status_code == 422


def test_pull_files_paginate_with_link_and_cap_at_3000(fake: FakeGitHub, app: AppCredentials) -> None:
    """Files come 30 per page by default with rel="next" links, and never more than 3,000 in all."""
    files = [FakeFile(f"f{i}.txt", "@@ -0,0 +1 @@\n+x", "x\n") for i in range(3050)]
    with_pull(fake, app, files)
    headers = {"Authorization": f"token {token(fake, app)}"}
    first = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7/files", headers=headers)
    assert len(first.json()) == 30
    assert 'rel="next"' in first.headers["link"]
    last = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7/files?per_page=100&page=30", headers=headers)
    assert len(last.json()) == 100
    assert 'rel="next"' not in last.headers["link"]
    beyond = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7/files?per_page=100&page=31", headers=headers)
    assert beyond.json() == []


def test_binary_file_has_no_patch(fake: FakeGitHub, app: AppCredentials) -> None:
    """A file whose patch GitHub omits (binary, huge) is listed without a patch key."""
    with_pull(fake, app, [FakeFile("logo.png", None, b"\x89PNG\x00", status="added")])
    headers = {"Authorization": f"token {token(fake, app)}"}
    [entry] = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7/files", headers=headers).json()
    assert "patch" not in entry
    assert entry["status"] == "added"


def test_rate_limit_headers_on_every_answer(fake: FakeGitHub, app: AppCredentials) -> None:
    """Every authenticated answer carries the primary rate-limit headers, counting down."""
    with_pull(fake, app)
    headers = {"Authorization": f"token {token(fake, app)}"}
    one = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7", headers=headers)
    two = httpx.get(f"{fake.url}/repos/{OWNER}/{REPO}/pulls/7", headers=headers)
    assert int(one.headers["x-ratelimit-remaining"]) == int(two.headers["x-ratelimit-remaining"]) + 1
    assert int(one.headers["x-ratelimit-reset"]) > time.time()


def test_content_creation_limit_enforced(app: AppCredentials) -> None:
    """With a per-minute content limit, the write beyond it gets 403 secondary rate limit with retry-after."""
    with FakeGitHub(content_limit_per_minute=2).serving() as fake:
        fake.install_app(key=app.key)
        with_pull(fake, app)
        auth = token(fake, app)
        url = f"{fake.url}/repos/{OWNER}/{REPO}/issues/7/comments"
        statuses = [
            httpx.post(url, json={"body": f"c{i}"}, headers={"Authorization": f"token {auth}"})
            for i in range(3)
        ]
        assert [r.status_code for r in statuses] == [201, 201, 403]
        assert statuses[2].headers["retry-after"] == "60"
        assert "secondary rate limit" in statuses[2].json()["message"]
        assert [c.body for c in fake.comments_posted(OWNER, REPO, 7)] == ["c0", "c1"]


def test_hook_deliveries_cursor_pagination_and_redelivery(fake: FakeGitHub, app: AppCredentials) -> None:
    """Deliveries are listed newest first with a cursor Link; a redelivery request is recorded."""
    ids = [
        fake.add_delivery(f"guid-{i}", "pull_request", app_id=app.app_id, status_code=500) for i in range(5)
    ]
    headers = {"Authorization": f"Bearer {make_jwt(app)}"}
    page = httpx.get(f"{fake.url}/app/hook/deliveries?per_page=3", headers=headers)
    assert [d["id"] for d in page.json()] == ids[::-1][:3]
    next_url = page.links["next"]["url"]
    assert "cursor=" in next_url
    rest = httpx.get(next_url, headers=headers)
    assert [d["id"] for d in rest.json()] == ids[::-1][3:]
    assert "next" not in rest.links
    assert httpx.post(f"{fake.url}/app/hook/deliveries/{ids[0]}/attempts", headers=headers).status_code == 202
    assert fake.redelivery_requests == [ids[0]]
    assert fake.deliveries[-1].guid == "guid-0"
    assert fake.deliveries[-1].redelivery


def test_fake_json_parses_with_githubkit_models(fake: FakeGitHub, app: AppCredentials) -> None:
    """The fake's documents satisfy githubkit's strict models (so .parsed_data works against it)."""
    with_pull(fake, app)
    fake.add_review(OWNER, REPO, 7, "earlier", HEAD)
    fake.add_delivery("g", "pull_request", app_id=app.app_id, action="opened")
    auth = {"Authorization": f"token {token(fake, app)}"}
    app_auth = {"Authorization": f"Bearer {make_jwt(app)}"}
    base = f"{fake.url}/repos/{OWNER}/{REPO}"
    checks: list[tuple[Any, str, dict[str, str]]] = [
        (models.PullRequest, f"{base}/pulls/7", auth),
        (list[models.DiffEntry], f"{base}/pulls/7/files", auth),
        (list[models.PullRequestReview], f"{base}/pulls/7/reviews", auth),
        (models.CommitComparison, f"{base}/compare/{BASE}...{HEAD}", auth),
        (models.ContentFile, f"{base}/contents/src/app.py?ref={HEAD}", auth),
        (list[models.ContentDirectoryItems], f"{base}/contents/src?ref={HEAD}", auth),
        (models.Installation, f"{base}/installation", app_auth),
        (list[models.HookDeliveryItem], f"{fake.url}/app/hook/deliveries", app_auth),
    ]
    for model, url, headers in checks:
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200, url
        type_validate_python(model, response.json())
    posted = httpx.post(f"{base}/issues/7/comments", json={"body": "hi"}, headers=auth)
    type_validate_python(models.IssueComment, posted.json())


def test_fake_runs_as_its_own_process(tmp_path: Path) -> None:
    """`python -m support.fake_github` serves on a free port and can be set up over HTTP from elsewhere."""
    key_file = tmp_path / "app.pem"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "support.fake_github", "--key-out", str(key_file)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["private_key_file"] == str(key_file)
        assert key_file.read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")
        remote = RemoteFakeGitHub(info["url"])
        remote.call(
            "add_pull_request",
            owner=OWNER,
            repo=REPO,
            number=3,
            head_sha=HEAD,
            base_sha=BASE,
            files=[["a.py", "@@ -0,0 +1 @@\n+x", "x\n"]],
            installation_id=info["installation_id"],
        )
        assert remote.call("reviews_posted", owner=OWNER, repo=REPO, number=3) == []
        # The repository exists now: without a token it is 401, as on GitHub.
        assert httpx.get(f"{info['url']}/repos/{OWNER}/{REPO}/pulls/3").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
