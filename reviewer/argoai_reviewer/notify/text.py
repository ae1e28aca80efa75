"""Untrusted text (pull request titles, model-written finding titles, failure reasons) made inert for each
notification platform.

Everywhere: credentials are redacted (:func:`argoai_core.redact.redact`), control and bidirectional
characters removed (as for a terminal), lengths capped, and ``@here``, ``@channel``, ``@everyone`` (and any
``@name``) get a zero-width joiner after the ``@`` so that no client reads them as a mention.

Slack (mrkdwn): ``&``, ``<`` and ``>`` are escaped as Slack documents, so no ``<!here>``, ``<!channel>``,
``<@U123>``, ``<#C123>`` or ``<https://…|innocent text>`` link can form; bare URLs go inside inline code
(shown, never linked or unfurled). Discord (markdown): ``<`` gets a zero-width joiner after it (no
``<@123>``, ``<@&role>``, ``<#channel>`` or ``</command:id>``), ``[``, ``]``, ``|`` and the other markdown
characters are backslash-escaped (no masked ``[text](url)`` links, no spoilers hiding text), bare URLs go
inside inline code. The messages themselves also turn pings off (Discord ``allowed_mentions: {parse: []}``,
Slack ``unfurl_links``/``unfurl_media`` false): this module is the second line.
"""

from __future__ import annotations

import re

from argoai_core.redact import redact
from argoai_core.sanitize import ZWJ, sanitize_terminal

_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>`\[\]|]+", re.IGNORECASE)
_AT = re.compile(r"@(?=[A-Za-z0-9])")
_DISCORD_ESCAPE = re.compile(r"([\\*_~`|\[\]()>])")
_SPACES = re.compile(r"[ \t]+")


def _common(text: str, limit: int) -> str:
    text = sanitize_terminal(redact(text))
    text = _SPACES.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return _AT.sub("@" + ZWJ, text)


def _code(url: str) -> str:
    return f"`{url.replace('`', '')}`"


def plain(text: str, *, limit: int = 2000) -> str:
    """``text`` for JSON (the webhook kind) or Slack ``plain_text``: redacted, no control characters."""
    return _common(text, limit)


def slack(text: str, *, limit: int = 2000) -> str:
    """``text`` for a Slack mrkdwn field."""
    text = _common(text, limit)
    pieces: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        pieces.append(_slack_escape(text[last : match.start()]))
        pieces.append(_code(_slack_escape(match.group(0))))
        last = match.end()
    pieces.append(_slack_escape(text[last:]))
    return "".join(pieces)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discord(text: str, *, limit: int = 1000) -> str:
    """``text`` for Discord markdown (an embed's description or a field)."""
    text = _common(text, limit)
    pieces: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        pieces.append(_discord_escape(text[last : match.start()]))
        pieces.append(_code(match.group(0)))
        last = match.end()
    pieces.append(_discord_escape(text[last:]))
    return "".join(pieces)


def _discord_escape(text: str) -> str:
    return _DISCORD_ESCAPE.sub(r"\\\1", text).replace("<", "<" + ZWJ)


def link_safe(url: str) -> str:
    """A URL ArgoAI built itself (the pull request's page), with the characters that would end a Slack
    ``<url|label>`` or a markdown link removed."""
    return re.sub(r"[\s<>|()\[\]`\"']", "", url)
