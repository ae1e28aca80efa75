"""Comment commands (``@<bot> review``, ``@<bot> ignore``): strict parsing and who may give them. Pure.

A comment body is untrusted text, so the grammar is deliberately tiny:

* a command is a line that starts (column 0: not quoted, not indented, not inside a code fence) with
  ``@<bot_name>`` (or ``@<bot_name>[bot]``), whitespace, then the command word; the word must be exactly
  one of :data:`COMMANDS` (any letter case) and end at whitespace or the end of the line;
* words after the command are ignored; only the first command line of a comment counts;
* there are no arguments and no settings: nothing naming a URL, key, model, provider or secret can be
  changed from a comment, because no command takes a value.

Only people GitHub reports as the repository's ``OWNER``, ``MEMBER`` (of its organization) or
``COLLABORATOR`` may give commands; bots never can (our own comments included). Whether a command is enabled
is the effective policy's business (``PolicySpec.commands``), checked where the policy is known.

A review posted for a command carries a second hidden marker naming the comment
(:mod:`argoai_reviewer.conversation.markers`), so one command posts at most one review.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import get_args

from argoai_core.models.job import JobCommand

COMMANDS: frozenset[str] = frozenset(get_args(JobCommand))
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class Untrusted(StrEnum):
    """Why a commenter may not give commands."""

    BOT = "bot"
    ASSOCIATION = "association"


def parse_command(body: str | None, bot_name: str) -> JobCommand | None:
    """The command a comment gives ``@<bot_name>``, or None when it gives none (see the module rules)."""
    mention = re.compile(rf"@{re.escape(bot_name)}(?:\[bot\])?[ \t]+(\S+)", re.IGNORECASE)
    fence: str | None = None
    for line in (body or "").splitlines():
        opened = _FENCE.match(line)
        if fence is not None:
            # Inside a fenced block until a fence of the same kind, at least as long, closes it.
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        found = mention.match(line)
        if found is None:
            continue
        word = found.group(1).lower()
        if word == "review":
            return "review"
        if word == "ignore":
            return "ignore"
        # A mention with anything else is not a command, and does not hide a later one.
    return None


def untrusted(login: str, user_type: str, association: str | None) -> Untrusted | None:
    """Why this commenter may not give commands, or None when they may.

    ``association`` is the comment's ``author_association`` as GitHub computed it (not something the
    commenter can write).
    """
    # Every App's bot (ours included) is a Bot named ``<slug>[bot]``.
    if user_type == "Bot" or login.lower().endswith("[bot]"):
        return Untrusted.BOT
    if (association or "").upper() not in TRUSTED_ASSOCIATIONS:
        return Untrusted.ASSOCIATION
    return None
