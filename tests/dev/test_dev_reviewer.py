"""``argoai dev`` with the reviewer: reviews via the (fake) GitHub App, local Redis, what is missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from argoai_cli.local_services import port_open
from argoai_core.settings import RedisSettings
from support.devprocess import DevProcess, alive, children, processes_using
from support.fake_github.server import FakeGitHub
from support.system import OWNER, REPO, pull_request_payload, wait_until

SECRET = "dev-reviewer-test-webhook-secret"
AWS_KEY = "AKIA" + "Z7QK3M5N8P2R4T6V"
BASE, HEAD = "b" * 40, "c" * 40
CONFIG_PY = f'REGION = "eu-west-1"\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n'
CONFIG_PATCH = "@@ -0,0 +1,2 @@\n" + "".join(f"+{line}" for line in CONFIG_PY.splitlines(keepends=True))

StartDev = Callable[[dict[str, str]], DevProcess]


def _app_env(fake_github: FakeGitHub) -> tuple[dict[str, str], int]:
    app = fake_github.install_app()
    env = {"ARGOAI_GITHUB_APP_ID": str(app.app_id), "ARGOAI_GITHUB_PRIVATE_KEY": app.key.pkcs1}
    return env, app.installation_id


def _open_pr(fake_github: FakeGitHub, installation_id: int, files: list[tuple[str, str, str]]) -> dict:  # type: ignore[type-arg]
    fake_github.add_pull_request(OWNER, REPO, 7, HEAD, BASE, files, installation_id=installation_id)
    return pull_request_payload("opened", number=7, head=HEAD, base=BASE, installation_id=installation_id)


def _critical_comments(fake_github: FakeGitHub) -> list[tuple[str, int]]:
    [review] = fake_github.reviews_posted(OWNER, REPO, 7)
    assert review.commit_id == HEAD
    return [(c["path"], c["line"]) for c in review.comments if "Critical" in c["body"]]


def test_app_configured_reviews_with_builtin_checks_on_local_redis_and_stops_all(
    base_env: dict[str, str], fake_github: FakeGitHub, dev_processes: StartDev, tmp_path: Path
) -> None:
    """App set, no LLM, no Redis/NATS answering: local servers start; an AWS key gets a critical comment."""
    app_env, installation_id = _app_env(fake_github)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: argoai.dev/v1alpha1\nkind: ReviewPolicy\nmetadata:\n  name: local\n"
        'spec:\n  exclude: ["vendor/**"]\n'
    )
    env = {**base_env, **app_env, "ARGOAI_GITHUB_WEBHOOK_SECRET": SECRET, "ARGOAI_POLICY_FILE": str(policy)}
    dev = dev_processes(env)
    redis_url = dev.wait_for_line(r"started a local redis-server at (redis://127\.0\.0\.1:\d+/0)").group(1)
    dev.wait_for_line(r"LLM not configured .*built-in checks only")
    dev.wait_for_line(rf"^  reviewer  metrics http://127\.0\.0\.1:{dev.metrics_port}/metrics$")
    dev.wait_for_line(r"^  reviews   built-in checks only")
    dev.wait_for_line(rf"^  policy    ARGOAI_POLICY_FILE {policy} \(1 ReviewPolicy document\)")
    dev.wait_for_line(r"^  NATS      nats://127\.0\.0\.1:\d+ \(embedded")
    dev.wait_ready()
    dev.wait_ready("/readyz", port=dev.metrics_port)
    assert "argoai_" in httpx.get(f"http://127.0.0.1:{dev.metrics_port}/metrics", timeout=5).text

    # The same secret in a file the policy excludes: only the reviewed file gets a comment.
    payload = _open_pr(
        fake_github, installation_id,
        [("app/config.py", CONFIG_PATCH, CONFIG_PY), ("vendor/config.py", CONFIG_PATCH, CONFIG_PY)],
    )  # fmt: skip
    assert dev.send("pull_request", payload, SECRET).status_code == 202
    wait_until(lambda: len(fake_github.reviews_posted(OWNER, REPO, 7)) == 1, 30, "the review")
    assert _critical_comments(fake_github) == [("app/config.py", 2)]
    assert not fake_github.requests_to("/chat/completions")

    started = children(dev.process.pid)
    assert sorted(started.values()) == ["nats-server", "redis-server"]
    assert dev.interrupt() == 0
    assert not any(alive(pid) for pid in started)
    assert not port_open("127.0.0.1", int(redis_url.rsplit(":", 1)[1].split("/")[0]))
    assert not port_open("127.0.0.1", dev.port)
    assert not port_open("127.0.0.1", dev.metrics_port)
    assert "Traceback" not in dev.output
    dev.wait_for_line(r"local redis-server stopped", within=1)
    dev.wait_for_line(r"embedded nats-server stopped", within=1)


def test_without_app_deliveries_wait_and_are_reviewed_after_restart_with_app(
    base_env: dict[str, str],
    fake_github: FakeGitHub,
    dev_processes: StartDev,
    redis_settings: RedisSettings,
) -> None:
    """No App: reviewer not started, the webhook is kept; restarted with the App, the PR gets its review."""
    redis = {"ARGOAI_REDIS_URL": redis_settings.url, "ARGOAI_REDIS_KEY_PREFIX": redis_settings.key_prefix}
    env = {**base_env, **redis, "ARGOAI_GITHUB_WEBHOOK_SECRET": SECRET}
    app_env, installation_id = _app_env(fake_github)
    payload = _open_pr(fake_github, installation_id, [("app/config.py", CONFIG_PATCH, CONFIG_PY)])

    first = dev_processes(env)
    first.wait_for_line(r"GitHub App not configured \(ARGOAI_GITHUB_APP_ID, ARGOAI_GITHUB_PRIVATE_KEY")
    first.wait_for_line(r"^  reviewer  not started: the GitHub App is not configured$")
    first.wait_for_line(r"^  Redis     not used")
    first.wait_ready()
    assert first.send("pull_request", payload, SECRET).status_code == 202
    assert first.interrupt() == 0
    assert fake_github.requests == []
    assert processes_using(first.state_dir) == []

    second = dev_processes({**env, **app_env})
    second.wait_for_line(r"using Redis at redis://127\.0\.0\.1:\d+/0")
    second.wait_for_line(r"^  Redis     redis://127\.0\.0\.1:\d+/0 \(external\)$")
    wait_until(lambda: len(fake_github.reviews_posted(OWNER, REPO, 7)) == 1, 30, "the review after restart")
    assert _critical_comments(fake_github) == [("app/config.py", 2)]
    started = children(second.process.pid)
    assert sorted(started.values()) == ["nats-server"]
    assert second.interrupt() == 0
    assert not any(alive(pid) for pid in started)


def test_missing_redis_server_is_named_with_how_to_install_and_the_gateway_still_runs(
    base_env: dict[str, str], fake_github: FakeGitHub, dev_processes: StartDev, tmp_path: Path
) -> None:
    """App set, no Redis answering, no redis-server installed: one message saying what to install."""
    app_env, _ = _app_env(fake_github)
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    dev = dev_processes(
        {**base_env, **app_env, "PATH": str(empty_bin), "ARGOAI_GITHUB_WEBHOOK_SECRET": SECRET}
    )
    dev.wait_for_line(
        r"the reviewer is not started: no Redis answers at redis://127\.0\.0\.1:\d+/0, and redis-server "
        r"not found: install it \(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis\)"
    )
    dev.wait_for_line(r"^  reviewer  not started: no Redis answers")
    dev.wait_ready()
    body = {"zen": "Keep it logically awesome."}
    assert dev.send("ping", body, SECRET).status_code == 200
    assert dev.interrupt() == 0
    assert "Traceback" not in dev.output
    assert processes_using(dev.state_dir) == []


def test_invalid_policy_file_is_one_configuration_error_before_anything_starts(
    base_env: dict[str, str], dev_processes: StartDev, tmp_path: Path
) -> None:
    """A broken ARGOAI_POLICY_FILE: exit 2 with one line naming it; no server is started."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: argoai.dev/v1alpha1\nkind: ReviewPolicy\nmetadata: {name: x}\nspec: {maxComments: -1}\n"
    )
    dev = dev_processes({**base_env, "ARGOAI_POLICY_FILE": str(policy)})
    assert dev.process.wait(timeout=30) == 2
    wait_until(lambda: any("configuration error" in line for line in dev.lines), 5, "the error line")
    [line] = [line for line in dev.lines if "configuration error" in line]
    assert line.startswith(f"argoai: configuration error: ARGOAI_POLICY_FILE {policy} document 1")
    assert "maxComments" in line or "max_comments" in line
    assert "Traceback" not in dev.output
    assert not (dev.state_dir / "nats").exists()
