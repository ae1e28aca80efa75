"""What each kind of target is sent: Slack Block Kit, Discord embeds, or signed JSON (the ``webhook`` kind).

Slack and Discord messages link the pull request with a URL ArgoAI builds from the repository and number;
every other piece of text is untrusted and goes through :mod:`~argoai_reviewer.notify.text`. The ``webhook``
kind is signed the way GitHub signs its webhooks: ``X-ArgoAI-Signature-256: sha256=<hex HMAC-SHA256 of the
raw body>``, keyed with the target's secret; ``X-ArgoAI-Delivery`` (the notification id, the same on a
retry) lets a receiver drop a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import orjson

from argoai_core.models.notification import Notification
from argoai_reviewer.notify import text

SIGNATURE_HEADER = "X-ArgoAI-Signature-256"
EVENT_HEADER = "X-ArgoAI-Event"
DELIVERY_HEADER = "X-ArgoAI-Delivery"
USER_AGENT = "ArgoAI-Notifications/1"

# Discord embed colours, by event.
_COLOURS = {
    "critical_findings": 0xD73A49,
    "review_failed": 0xE36209,
    "token_budget_exhausted": 0xDBAB09,
    "dead_lettered": 0x6A737D,
}
_ICONS = {
    "critical_findings": "🔴",
    "review_failed": "⚠️",
    "token_budget_exhausted": "💸",
    "dead_lettered": "📮",
}
# Slack: a header holds 150 characters, a section 3000; Discord: title 256, description 4096, field 1024.
_SLACK_SECTION = 2900


@dataclass(frozen=True)
class Request:
    """One HTTP POST to a target (its URL is added by the sender, from the target's settings)."""

    body: bytes
    headers: dict[str, str]


def pull_request_label(note: Notification) -> str:
    """``owner/repo#7``, or the repository alone."""
    return f"{note.repository}#{note.number}" if note.number else note.repository


def headline(note: Notification) -> str:
    """One line saying what happened (trusted parts only: event, repository, number, counts)."""
    where = pull_request_label(note) or "a job"
    if note.event == "critical_findings":
        count = note.findings_total or len(note.findings)
        return f"{count} critical finding{'s' if count != 1 else ''} posted on {where}"
    if note.event == "review_failed":
        return f"The review of {where} failed for good"
    if note.event == "token_budget_exhausted":
        return f"The daily LLM token budget of {note.repository} is spent"
    return f"A job of {where} was dead-lettered"


def _details(note: Notification) -> str:
    """What follows the headline, untrusted parts included (to be sanitized by the caller's platform)."""
    if note.event == "token_budget_exhausted":
        return "Reviews run the built-in checks only until the budget resets (UTC midnight)."
    return note.reason


def _finding_line(severity: str, path: str, line: int | None) -> str:
    where = f"{path}:{line}" if path and line else path
    return f"{severity} · {where}" if where else severity


def _footer(note: Notification) -> str:
    parts = ["ArgoAI"]
    if note.head_sha:
        parts.append(f"head {note.head_sha[:12]}")
    if note.variant:
        parts.append(f"experiment {note.experiment} / variant {note.variant}")
    return " · ".join(parts)


def slack_message(note: Notification) -> dict[str, object]:
    """The Slack incoming-webhook message: Block Kit, with a plain-text fallback; no unfurling."""
    title = text.plain(headline(note), limit=140)
    blocks: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{_ICONS[note.event]} {title}"}}
    ]
    lines = []
    if note.url:
        label = pull_request_label(note)
        lines.append(f"*<{text.link_safe(note.url)}|{text.slack(label, limit=220)}>*")
    if note.title:
        lines.append(text.slack(note.title, limit=300))
    details = _details(note)
    if details:
        lines.append(text.slack(details, limit=1000))
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    if note.findings:
        items = [
            f"• *{text.slack(_finding_line(f.severity, f.path, f.line), limit=300)}* — "
            f"{text.slack(f.title, limit=300)}"
            for f in note.findings
        ]
        more = (note.findings_total or len(note.findings)) - len(note.findings)
        if more > 0:
            items.append(f"… and {more} more")
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(items)[:_SLACK_SECTION]}}
        )
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": text.slack(_footer(note), limit=300)}]}
    )
    return {"text": title, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def discord_message(note: Notification) -> dict[str, object]:
    """The Discord webhook message: one embed linking the pull request; mentions of any kind turned off."""
    embed: dict[str, object] = {
        "title": text.plain(f"{_ICONS[note.event]} {headline(note)}", limit=250),
        "color": _COLOURS[note.event],
        "timestamp": note.occurred_at.isoformat(),
        "footer": {"text": text.plain(_footer(note), limit=300)},
    }
    if note.url:
        embed["url"] = text.link_safe(note.url)
    description = [text.discord(note.title, limit=300)] if note.title else []
    details = _details(note)
    if details:
        description.append(text.discord(details, limit=1000))
    if description:
        embed["description"] = "\n".join(description)
    if note.findings:
        embed["fields"] = [
            {
                "name": text.plain(_finding_line(f.severity, f.path, f.line), limit=250),
                "value": text.discord(f.title, limit=1000) or "—",
            }
            for f in note.findings
        ]
    return {"content": "", "embeds": [embed], "allowed_mentions": {"parse": []}}


def webhook_document(note: Notification) -> dict[str, object]:
    """The JSON a ``webhook`` target receives: the notification, its text redacted and cleaned."""
    document = note.model_dump(mode="json", exclude={"target"})
    document["title"] = text.plain(note.title, limit=1000)
    document["reason"] = text.plain(note.reason, limit=2000)
    document["summary"] = headline(note)
    document["findings"] = [
        {**f.model_dump(mode="json"), "title": text.plain(f.title, limit=500)} for f in note.findings
    ]
    return document


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>``, GitHub's webhook signature scheme."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def render(note: Notification, kind: str, secret: str | None = None) -> Request:
    """The request for a target of ``kind`` (``secret`` signs a ``webhook`` target's body)."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if kind == "slack":
        return Request(orjson.dumps(slack_message(note)), headers)
    if kind == "discord":
        return Request(orjson.dumps(discord_message(note)), headers)
    body = orjson.dumps(webhook_document(note))
    headers[EVENT_HEADER] = note.event
    headers[DELIVERY_HEADER] = note.id
    if secret is not None:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    return Request(body, headers)
