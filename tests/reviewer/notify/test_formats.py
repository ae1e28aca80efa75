"""What Slack, Discord and webhook targets are sent, and that untrusted text cannot ping, link or leak."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson

from argoai_core.models.notification import Notification, NotifiedFinding
from argoai_reviewer.notify import formats, text

HOSTILE = (
    "Fix <!channel> now @here @everyone <@U123ABC> <#C999> <https://evil.example/x|innocent> "
    "[click](https://evil.example/y) see https://evil.example/z "
    "token ghp_abcdefghijklmnopqrstuvwxyz0123456789"
)
PR_URL = "https://github.com/octo-org/hello/pull/7"


def _note(**overrides: object) -> Notification:
    fields: dict[str, object] = {
        "id": "team:critical:x",
        "event": "critical_findings",
        "target": "team",
        "occurred_at": datetime(2026, 12, 5, tzinfo=UTC),
        "host": "api.github.com",
        "repository": "octo-org/hello",
        "number": 7,
        "head_sha": "a" * 40,
        "url": PR_URL,
        "title": HOSTILE,
        "findings": [NotifiedFinding(severity="critical", title=HOSTILE, path="app/db.py", line=12)],
        "findings_total": 1,
    }
    fields.update(overrides)
    return Notification.model_validate(fields)


def _all_text(value: object) -> str:
    return orjson.dumps(value).decode()


def test_slack_message_is_block_kit_linking_the_pull_request_without_unfurling() -> None:
    """A Slack message has a header, a section linking the PR, the findings and a context line; no unfurl."""
    message = formats.slack_message(_note())
    assert message["unfurl_links"] is False
    assert message["unfurl_media"] is False
    blocks = message["blocks"]
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["header", "section", "section", "context"]
    assert blocks[0]["text"]["type"] == "plain_text"
    assert "1 critical finding posted on octo-org/hello#7" in blocks[0]["text"]["text"]
    assert f"<{PR_URL}|octo-org/hello#7>" in blocks[1]["text"]["text"]
    assert "app/db.py:12" in blocks[2]["text"]["text"]


def test_slack_text_cannot_ping_or_hide_links() -> None:
    """Model text in a Slack message has no <!…>, <@…>, <#…> or <url|label> and no live @here/@everyone."""
    rendered = _all_text(formats.slack_message(_note()))
    for forbidden in ("<!channel>", "<@U123ABC>", "<#C999>", "<https://evil", "@here", "@everyone"):
        assert forbidden not in rendered
    assert "&lt;!channel&gt;" in rendered
    # Bare URLs are shown as code, never as links.
    assert "`https://evil.example/z`" in rendered
    assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in rendered


def test_discord_message_is_an_embed_with_mentions_off() -> None:
    """A Discord message is one embed linking the PR, with allowed_mentions parsing nothing."""
    message = formats.discord_message(_note())
    assert message["allowed_mentions"] == {"parse": []}
    [embed] = message["embeds"]  # type: ignore[misc]
    assert embed["url"] == PR_URL
    assert embed["fields"][0]["name"] == "critical · app/db.py:12"
    rendered = _all_text(message)
    for forbidden in ("@here", "@everyone", "<@U123ABC>", "<#C999>", "[click](", "ghp_abcdefghij"):
        assert forbidden not in rendered
    assert "\\\\[click\\\\]" in rendered  # the brackets are escaped: no masked link


def test_webhook_body_is_signed_like_github() -> None:
    """The webhook kind's body carries the event, and its signature is GitHub's sha256 HMAC scheme."""
    request = formats.render(_note(), "webhook", "s3cr3t-signing-key")
    wanted = "sha256=" + hmac.new(b"s3cr3t-signing-key", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-ArgoAI-Signature-256"] == wanted
    assert request.headers["X-ArgoAI-Event"] == "critical_findings"
    document = orjson.loads(request.body)
    assert document["summary"] == "1 critical finding posted on octo-org/hello#7"
    assert "target" not in document
    assert "ghp_abcdefghij" not in request.body.decode()


def test_signature_matches_githubs_test_vector() -> None:
    """The signature function gives GitHub's documented test vector."""
    assert formats.signature("It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_plain_text_removes_control_characters_and_caps_length() -> None:
    """Plain text loses terminal escapes and bidi controls and is cut to its limit."""
    assert text.plain("a\x1b[31mred\u202eb", limit=100) == "a[31mred\ufffdb"
    assert len(text.plain("x" * 500, limit=50)) == 50


def test_every_event_has_a_headline() -> None:
    """Each event kind renders on all three platforms."""
    for event in ("critical_findings", "review_failed", "token_budget_exhausted", "dead_lettered"):
        note = _note(event=event, findings=[], reason="GitHub answered 500")
        for kind in ("slack", "discord", "webhook"):
            assert formats.render(note, kind, "k").body
