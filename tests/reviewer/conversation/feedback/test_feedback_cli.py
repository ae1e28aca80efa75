"""``argoai feedback`` run as a process with only its settings: lists a repository's rejected findings (text
from pull requests printed inert), clears one or all; one line and exit 2 on a bad argument."""

from __future__ import annotations

import os
import subprocess
import sys

from argoai_core.models.job import RepoRef
from argoai_core.settings import RedisSettings
from argoai_reviewer.adapters.redis_state import RedisConnection, RedisRepositoryFeedback
from argoai_reviewer.conversation.feedback.rejections import Rejection

HOST = "ghe.example.com"


def feedback(redis: RedisSettings, *args: str) -> subprocess.CompletedProcess[str]:
    """``argoai feedback ARGS`` with the environment a user would set."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "ARGOAI_GITHUB_API_URL": f"https://{HOST}/api/v3",
        "ARGOAI_REDIS_URL": redis.url,
        "ARGOAI_REDIS_KEY_PREFIX": redis.key_prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "argoai_cli", "feedback", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_list_and_clear_rejections(redis_settings: RedisSettings) -> None:
    """Two rejections are listed (a title with a terminal escape and a newline printed inert) with the
    counts; one is cleared by its id's prefix, then the rest at once."""
    repo = RepoRef(host=HOST, owner="acme", name="api")
    connection = RedisConnection.from_settings(redis_settings)
    store = RedisRepositoryFeedback(connection)
    try:
        for fingerprint, title in (
            ("a1" * 16, "Possible division\nby zero \x1b[31mred"),
            ("b2" * 16, "Unused import"),
        ):
            rejection = Rejection(
                id=fingerprint, category="bug", title=title, path="src/x.py", source="dismiss", by="lead",
                pull_request=7,
            )  # fmt: skip
            await store.reject(repo, rejection.id, rejection.model_dump_json())
        await store.add_counts(repo, {"posted": 5, "thumbs_up": 2, "addressed": 1})
    finally:
        await connection.aclose()

    listed = feedback(redis_settings, "acme/api")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == (
        "acme/api: 2 rejected finding(s); comments: posted 5, thumbs up 2, thumbs down 0, dismissed 0, "
        "addressed 1"
    )
    assert len(lines) == 3
    assert "\x1b" not in listed.stdout
    assert any("Possible division by zero \\u001b[31mred" in line for line in lines)
    assert any(line.startswith("a1a1a1a1a1a1  bug") and "dismiss by lead (#7" in line for line in lines)

    cleared = feedback(redis_settings, "acme/api", "--clear", "a1a1")
    assert (cleared.returncode, cleared.stdout.strip()) == (0, "acme/api: rejection a1a1 cleared")
    missing = feedback(redis_settings, "acme/api", "--clear", "ffff")
    assert missing.returncode == 1
    everything = feedback(redis_settings, "acme/api", "--clear-all")
    assert everything.stdout.strip() == "acme/api: 1 rejection(s) cleared"
    assert feedback(redis_settings, "acme/api").stdout.splitlines()[0].startswith("acme/api: 0 rejected")


def test_a_bad_repository_argument_is_one_line(redis_settings: RedisSettings) -> None:
    """Not owner/name: one configuration-error line, exit 2, no traceback."""
    result = feedback(redis_settings, "not a repo")
    assert result.returncode == 2
    assert result.stderr.strip() == "argoai: configuration error: REPO: 'not a repo' is not owner/name"
