"""Helpers of the redelivery job tests: settings for the fake GitHub and delivery log entries."""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import SecretStr

from argoai_core.settings import GitHubSettings
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.redeliver_state import RedisRedeliveryState
from argoai_reviewer.redeliver.job import Redeliverer, RedeliverLimits
from support.fake_github import AppCredentials, FakeGitHub

# Short backoffs; rate limits with retry-after 60 s are not slept (they end the run).
POLICY = GitHubPolicy(backoff_seconds=0.01, max_sleep_seconds=0.5)
TEST_LIMITS = RedeliverLimits(spacing_seconds=0.0)

JobFactory = Callable[..., Redeliverer]


def github_settings(fake: FakeGitHub, app: AppCredentials) -> GitHubSettings:
    """Settings pointing at the fake GitHub, as the entrypoint builds them from the environment."""
    return GitHubSettings(
        api_url=fake.url, app_id=app.app_id, private_key=SecretStr(app.key.pkcs1), timeout_seconds=5.0
    )


def add(
    fake: FakeGitHub,
    app: AppCredentials,
    guid: str,
    status_code: int,
    *,
    age: float,
    redelivery: bool = False,
) -> int:
    """A delivery attempt of ``guid`` made ``age`` seconds ago with ``status_code``; returns its id."""
    return fake.add_delivery(
        guid,
        "pull_request",
        app_id=app.app_id,
        action="opened",
        status_code=status_code,
        delivered_at=time.time() - age,
        redelivery=redelivery,
        installation_id=app.installation_id,
    )


async def checkpoint_id(state: RedisRedeliveryState) -> int | None:
    """The delivery id of the stored checkpoint (None when there is none)."""
    checkpoint = await state.checkpoint()
    return None if checkpoint is None else checkpoint.delivery_id
