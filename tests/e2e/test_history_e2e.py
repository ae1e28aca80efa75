"""End to end: the audit history and the dead letters through the real processes (gateway, reviewer,
``argoai history``, ``argoai api``, ``argoai dlq``) on real NATS and a private Redis, with the fake GitHub."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from argoai_cli.local_services import LocalProcess, free_port, port_open
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM
from support.system import OWNER, REPO, ArgoSystem, argo_system, pull_request_payload, wait_until

BASE = "b" * 40
HEAD7, HEAD8, HEAD9, HEAD9_NEW = "7" * 40, "8" * 40, "9" * 40, "a" * 40
APP = "def average(items):\n    return sum(items) / len(items)  # FIXME-BUG empty list\n"
PATCH = "@@ -0,0 +1,2 @@\n" + "".join(f"+{line}" for line in APP.splitlines(keepends=True))
TOKEN = "e2e-api-token-0123456789abcdef"


@pytest.fixture
def argo(
    nats_server: LocalProcess, own_redis: LocalProcess, fake_llm: FakeLLM, tmp_path: Path
) -> Iterator[ArgoSystem]:
    """Gateway, reviewer on a private Redis (flushed by the test); jobs dead-lettered after 2 deliveries."""
    with (
        FakeGitHub().serving() as github,
        argo_system(
            github, fake_llm, f"nats://127.0.0.1:{nats_server.port}", f"redis://127.0.0.1:{own_redis.port}/0",
            tmp_path,
        ) as system,
    ):  # fmt: skip
        system.extra_env.update(
            {
                "ARGOAI_REVIEWER_MAX_DELIVER": "2",
                "ARGOAI_REVIEWER_ACK_WAIT_SECONDS": "2",
                "ARGOAI_HISTORY_STORE": str(tmp_path / "history.sqlite3"),
                "ARGOAI_API_TOKENS": TOKEN,
            }
        )
        system.start_gateway()
        system.start_reviewer()
        yield system


def _cli(argo: ArgoSystem, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argoai_cli", *args], env=argo.env(**env), capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def _history(argo: ArgoSystem, *args: str, **env: str) -> list[dict[str, Any]]:
    done = _cli(argo, "history", "--json", "--limit", "500", *args, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _outcomes(records: list[dict[str, Any]], number: int) -> list[str]:
    return sorted(r["outcome"] for r in records if r.get("number") == number)


def _start_api(argo: ArgoSystem, name: str, **env: str) -> str:
    port = free_port()
    argo.start(name, "api", "--host", "127.0.0.1", "--port", str(port), **env)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if argo.processes[name].poll() is not None:
            raise AssertionError(argo.log_path(name).read_text()[-3000:])
        return port_open("127.0.0.1", port) and httpx.get(f"{url}/readyz", timeout=2).status_code == 200

    wait_until(ready, 30, "argoai api to be ready")
    return url


def _get(url: str, path: str, token: str | None = TOKEN, **params: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{url}{path}", headers=headers, params=params, timeout=10)


def test_history_api_and_dead_letters_through_the_processes(
    argo: ArgoSystem, own_redis: LocalProcess
) -> None:
    """A review, a skip, a failure and a dead letter reach `argoai history` and /api/v1/reviews (401 without a
    token); the job dead-lettered by a GitHub outage is listed, shown, replayed and reviewed once at the pull
    request's current head; Redis flushed and every process restarted, the history is intact."""
    gh = argo.fake_github
    for number, head, draft in ((7, HEAD7, False), (8, HEAD8, True), (9, HEAD9, False)):
        gh.add_pull_request(OWNER, REPO, number, head, BASE, [("app.py", PATCH, APP)],
                            installation_id=argo.installation_id, draft=draft)  # fmt: skip
    # GitHub is down for pull request 9 (every call about it fails) until the outage ends below.
    gh.fail_next(10_000, status=502, path_contains="/pulls/9")
    for number, head, draft in ((7, HEAD7, False), (8, HEAD8, True), (9, HEAD9, False)):
        payload = pull_request_payload(
            "opened", number=number, head=head, base=BASE, installation_id=argo.installation_id, draft=draft
        )
        assert argo.send("pull_request", payload).status_code == 202

    def recorded() -> bool:
        records = _history(argo)
        return (
            "posted" in _outcomes(records, 7)
            and "skipped" in _outcomes(records, 8)
            and {"failed", "dead_lettered"} <= set(_outcomes(records, 9))
        )

    wait_until(recorded, 120, "the review, the skip, the failure and the dead letter in argoai history", 1.0)
    records = _history(argo, "--repo", f"{OWNER}/{REPO}")
    [posted] = [r for r in records if r["number"] == 7 and r["outcome"] == "posted"]
    assert posted["usage"]["findings"]
    assert posted["usage"]["model"] == "gpt-4o-mini"
    assert posted["head_sha"] == HEAD7
    assert posted["duration_seconds"] > 0
    [skip] = [r for r in records if r["number"] == 8]
    assert "draft" in skip["reason"]
    table = _cli(argo, "history", "--pr", "9", "--repo", f"{OWNER}/{REPO}")
    assert "dead_lettered" in table.stdout
    assert f"{OWNER}/{REPO}#9" in table.stdout

    # The API: 401 without (or with a wrong) token, the same records with one; the token never logged.
    api = _start_api(argo, "api")
    assert _get(api, "/api/v1/reviews", token=None).status_code == 401
    assert _get(api, "/api/v1/reviews", token="wrong-token-0123456789").status_code == 401
    assert _get(api, "/api/v1/dead-letters", token=None).status_code == 401
    assert httpx.get(f"{api}/openapi.json", timeout=5).json()["paths"]["/api/v1/reviews"]
    items = _get(api, "/api/v1/reviews", repo=f"{OWNER}/{REPO}", limit=500).json()["items"]
    assert {"posted", "skipped", "failed", "dead_lettered"} <= {item["outcome"] for item in items}
    first = _get(api, "/api/v1/reviews", repo=f"{OWNER}/{REPO}", limit=1).json()
    second = _get(api, "/api/v1/reviews", repo=f"{OWNER}/{REPO}", limit=1, cursor=first["next_cursor"]).json()
    assert first["items"][0]["id"] != second["items"][0]["id"]
    assert _get(api, f"/api/v1/reviews/{posted['id']}").json()["outcome"] == "posted"
    stats = _get(api, f"/api/v1/repos/{OWNER}/{REPO}/stats").json()
    assert stats["outcomes"]["posted"] == 1
    assert stats["findings_by_severity"]
    assert _get(api, "/api/v1/repos").json()["items"][0]["repo"] == f"{OWNER}/{REPO}"
    [letter] = _get(api, "/api/v1/dead-letters").json()["items"]
    assert letter["pr"] == 9
    assert letter["repo"] == f"{OWNER}/{REPO}"

    # argoai dlq: listed, shown; the outage ends, the PR moved on meanwhile, the replay reviews its new head.
    listed = json.loads(_cli(argo, "dlq", "list", "--json").stdout)
    assert [(item["id"], item["pr"], item["deliveries"]) for item in listed] == [(letter["id"], 9, 2)]
    shown = json.loads(_cli(argo, "dlq", "show", str(letter["id"])).stdout)
    assert shown["job"]["head_sha"] == HEAD9
    assert shown["failures"][0]["reason"] == "max_deliver"
    with gh.lock:
        gh.faults.clear()
    gh.push(OWNER, REPO, 9, HEAD9_NEW)
    replayed = _cli(argo, "dlq", "replay", str(letter["id"]))
    assert replayed.returncode == 0, replayed.stderr
    wait_until(lambda: len(gh.reviews_posted(OWNER, REPO, 9)) == 1, 60, "the replayed job's review")
    [review] = gh.reviews_posted(OWNER, REPO, 9)
    assert review.commit_id == HEAD9_NEW
    assert json.loads(_cli(argo, "dlq", "list", "--json").stdout) == []
    wait_until(lambda: {"replayed", "posted"} <= set(_outcomes(_history(argo), 9)), 30, "the replay recorded")

    # Redis flushed, every process restarted, the query store deleted: the history is rebuilt from the stream.
    before = {r["id"] for r in _history(argo)}
    argo.stop_all()
    redis.Redis.from_url(f"redis://127.0.0.1:{own_redis.port}/0").flushdb()
    fresh_store = str(argo.workdir / "fresh.sqlite3")
    argo.start_gateway()
    argo.start_reviewer()
    assert {r["id"] for r in _history(argo, ARGOAI_HISTORY_STORE=fresh_store)} == before
    api = _start_api(argo, "api-restarted", ARGOAI_HISTORY_STORE=fresh_store)
    items = _get(api, "/api/v1/reviews", limit=500).json()["items"]
    assert {item["id"] for item in items} == before
    assert len(gh.reviews_posted(OWNER, REPO, 9)) == 1
    assert len(gh.reviews_posted(OWNER, REPO, 7)) == 1
    assert TOKEN not in argo.logs()
