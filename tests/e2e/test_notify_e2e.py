"""End to end, notifications: real gateway and reviewer processes, configured only through the settings a
user gives (a targets Secret as a file, a policy routing events), post to fake Slack, Discord and webhook
servers through JetStream; an outage of Slack neither blocks nor fails the review."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from argoai_cli.local_services import LocalProcess
from argoai_core.models.findings import Severity
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM, MarkerResponder
from support.fake_notify import FakeDiscord, FakeSlack, FakeWebhook
from support.system import (
    LLM_KEY,
    OWNER,
    REPO,
    WEBHOOK_SECRET,
    ArgoSystem,
    argo_system,
    pull_request_payload,
    wait_until,
)

BASE = "b" * 40
CODE = "total = price * quantity  # FIXME-BUG <!channel> @everyone\n"
PATCH = "@@ -0,0 +1 @@\n+" + CODE
SIGNING_KEY = "e2e-notify-signing-key-0123456789"
POLICY = """\
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: default}
spec:
  # The model's finding alone (an analyzer's finding on the same line would take its place).
  analyzers: {enabled: false}
  notifications:
    - events: [critical_findings]
      targets: [team-slack, team-discord, audit]
"""


@pytest.fixture
def notified(
    nats_server: LocalProcess, redis_server: str, tmp_path: Path
) -> Iterator[tuple[ArgoSystem, FakeSlack, FakeDiscord, FakeWebhook]]:
    """A running ArgoAI whose policy sends critical findings to three fake targets (fast retries)."""
    slack, discord, hook = FakeSlack(), FakeDiscord(), FakeWebhook(SIGNING_KEY)
    targets = tmp_path / "targets.json"
    targets.write_text(
        json.dumps(
            {
                "team-slack": {"kind": "slack", "url": slack.url},
                "team-discord": {"kind": "discord", "url": discord.url},
                "audit": {"kind": "webhook", "url": hook.url, "secret": SIGNING_KEY},
            }
        )
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    responder = MarkerResponder(severity=Severity.CRITICAL)
    with (
        slack.serving(), discord.serving(), hook.serving(),
        FakeLLM(api_key=LLM_KEY, responder=responder) as llm,
        FakeGitHub().serving() as github,
        argo_system(github, llm, f"nats://127.0.0.1:{nats_server.port}", redis_server, tmp_path) as argo,
    ):  # fmt: skip
        argo.extra_env.update(
            ARGOAI_POLICY_FILE=str(policy),
            ARGOAI_NOTIFY_TARGETS_FILE=str(targets),
            ARGOAI_NOTIFY_BACKOFF_SECONDS="1",
            ARGOAI_NOTIFY_BACKOFF_MAX_SECONDS="2",
        )
        argo.start_gateway()
        argo.start_reviewer()
        yield argo, slack, discord, hook


def _open(argo: ArgoSystem, number: int) -> None:
    argo.fake_github.add_pull_request(
        OWNER, REPO, number, f"{number:040x}", BASE, [("app/users.py", PATCH, CODE)],
        installation_id=argo.installation_id,
    )  # fmt: skip
    opened = pull_request_payload(
        "opened", number=number, head=f"{number:040x}", base=BASE, installation_id=argo.installation_id
    )
    assert argo.send("pull_request", opened).status_code == 202


def _secrets(*fakes: FakeSlack | FakeDiscord | FakeWebhook) -> list[str]:
    return [*(fake.path for fake in fakes), SIGNING_KEY, LLM_KEY, WEBHOOK_SECRET]


def test_a_critical_finding_reaches_slack_and_discord_once_each(
    notified: tuple[ArgoSystem, FakeSlack, FakeDiscord, FakeWebhook],
) -> None:
    """The review posting a critical finding sends one Block Kit message to Slack, one embed to Discord and
    one signed JSON to the webhook, each linking the PR, with the pings neutralized; no secret in any message
    or any process log."""
    argo, slack, discord, hook = notified
    _open(argo, 21)
    wait_until(lambda: bool(slack.received and discord.received and hook.received), 60, "notifications")
    assert argo.fake_github.reviews_posted(OWNER, REPO, 21)
    pr_link = f"/{OWNER}/{REPO}/pull/21"
    [to_slack], [to_discord], [to_hook] = slack.received, discord.received, hook.received
    message = to_slack.json
    assert message["unfurl_links"] is False
    assert pr_link in message["blocks"][1]["text"]["text"]
    assert "critical" in message["blocks"][2]["text"]["text"]
    [embed] = to_discord.json["embeds"]
    assert embed["url"].endswith(pr_link)
    assert to_discord.json["allowed_mentions"] == {"parse": []}
    assert to_hook.json["number"] == 21
    for body in (to_slack.body.decode(), to_discord.body.decode()):
        assert "<!channel>" not in body
        assert "@everyone" not in body
    logs = argo.logs()
    for secret in _secrets(slack, discord, hook):
        assert secret not in logs
        for received in (to_slack, to_discord, to_hook):
            assert secret not in received.body.decode()
    assert not slack.refused
    assert not discord.refused
    assert not hook.refused


def test_slack_down_for_a_while_gets_the_message_after_it_returns(
    notified: tuple[ArgoSystem, FakeSlack, FakeDiscord, FakeWebhook],
) -> None:
    """With Slack answering 503, the review is posted as usual and Discord is told; Slack is retried with
    backoff and gets the message, once, when it is back."""
    argo, slack, discord, _ = notified
    slack.down()
    _open(argo, 22)
    wait_until(lambda: bool(argo.fake_github.reviews_posted(OWNER, REPO, 22)), 60, "the review")
    wait_until(lambda: bool(discord.received), 30, "Discord")
    wait_until(lambda: slack.failed_while_down >= 3, 30, "Slack to be retried")
    assert not slack.received
    slack.up()
    wait_until(lambda: bool(slack.received), 30, "Slack after the outage")
    assert len(slack.received) == 1
    assert len(argo.fake_github.reviews_posted(OWNER, REPO, 22)) == 1
    assert "notification not delivered; retrying" in argo.logs()
