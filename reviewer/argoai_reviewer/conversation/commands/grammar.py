"""Comment commands (``@<bot> review``, ``@<bot> pause``…): strict parsing, who may give them, help. Pure.

A comment body is untrusted text, so the grammar is deliberately tiny:

* a command is a line that starts (column 0: not quoted, not indented, not inside a code fence) with
  ``@<bot_name>`` (or ``@<bot_name>[bot]``), whitespace, then the command's words; the words must be exactly
  one of :data:`GRAMMAR` (any letter case) and end at whitespace or the end of the line;
* words after the command are ignored; only the first command line of a comment counts;
* there are no arguments and no settings: nothing naming a URL, key, model, provider or secret can be
  changed from a comment, because no command takes a value. The one command followed by text, ``ask``,
  takes a question, never a setting: the text after ``ask`` (the rest of that line and the lines after it)
  is what the model is asked (:func:`question_text`), as untrusted data;
* in a reply in a diff thread, any other mention of the bot (``@<bot_name>`` as a word anywhere in prose:
  not in code, not in a quoted line) is a question about the thread's comment (:func:`mentions`): the
  intake makes it a ``question`` job, which is answered only in a thread on one of ArgoAI's inline comments.

Who may give commands: people GitHub reports as the repository's ``OWNER``, ``MEMBER`` (of its organization)
or ``COLLABORATOR`` in the comment's ``author_association``, or who have at least write permission on the
repository (GitHub's collaborator-permission endpoint, checked by
:mod:`.trust`: members whose membership is private show as ``CONTRIBUTOR``).
Bots never can (our own comments included). Whether a command is enabled is the effective policy's business
(``PolicySpec.commands``), checked where the policy is known.

``dismiss`` is only meaningful in a reply in a thread on one of ArgoAI's inline comments.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from typing import get_args

from argoai_core.models.job import JobCommand

COMMANDS: frozenset[str] = frozenset(get_args(JobCommand))
TRUSTED_ASSOCIATIONS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
WRITE_ROLES = frozenset({"admin", "maintain", "write"})

# The words of each command as written after the mention (lower case).
GRAMMAR: dict[tuple[str, ...], JobCommand] = {
    ("help",): "help",
    ("review",): "review",
    ("full", "review"): "full-review",
    ("full-review",): "full-review",
    ("pause",): "pause",
    ("resume",): "resume",
    ("ignore",): "ignore",
    ("summary",): "summary",
    ("dismiss",): "dismiss",
    ("ask",): "ask",
}

# What each command does, for ``help`` and the README (the order ``help`` lists them in).
HELP: dict[JobCommand, tuple[str, str]] = {
    "review": ("review", "review the changes since the last reviewed commit (even while paused)"),
    "full-review": ("full review", "review the whole pull request again"),
    "pause": ("pause", "no automatic reviews of later pushes until `resume`"),
    "resume": ("resume", "review pushes again, starting with the current commit"),
    "ignore": ("ignore", "no automatic reviews until the next `review`"),
    "summary": ("summary", "rebuild the summary comment (walkthrough, findings, coverage)"),
    "dismiss": (
        "dismiss",
        "in a thread on an ArgoAI comment: a false positive; like ones are not posted again",
    ),
    "ask": (
        "ask <question>",
        "ask about this pull request (its diff is the context); in a thread on an ArgoAI comment, any "
        "mention of ArgoAI is a question about that finding, answered in the thread",
    ),
    "help": ("help", "this list"),
}
# The policy's command that enables each job command (a mention in a thread is an ``ask``).
POLICY_COMMAND: dict[JobCommand, str] = {"question": "ask"}

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


class Untrusted(StrEnum):
    """Why a commenter may not give commands."""

    BOT = "bot"
    ASSOCIATION = "association"


def parse_command(body: str | None, bot_name: str) -> JobCommand | None:
    """The command a comment gives ``@<bot_name>``, or None when it gives none (see the module rules)."""
    mention = re.compile(rf"@{re.escape(bot_name)}(?:\[bot\])?[ \t]+(\S+)(?:[ \t]+(\S+))?", re.IGNORECASE)
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
        first = found.group(1).lower()
        second = (found.group(2) or "").lower()
        command = GRAMMAR.get((first, second)) or GRAMMAR.get((first,))
        if command is not None:
            return command
        # A mention with anything else is not a command, and does not hide a later one.
    return None


def _outside_fences(body: str | None) -> list[str]:
    """The lines of ``body`` that are not inside a fenced code block (fence lines dropped)."""
    fence: str | None = None
    kept: list[str] = []
    for line in (body or "").splitlines():
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        kept.append(line)
    return kept


_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_QUOTED = re.compile(r"^ {0,3}>")


def mentions(body: str | None, bot_name: str) -> bool:
    """Whether ``body`` mentions ``@<bot_name>`` in prose: a word of its own (not part of an e-mail address
    or a longer name), outside code blocks, inline code and quoted lines (``> …``: GitHub's quote reply)."""
    handle = re.compile(rf"(?<![\w@/.-])@{re.escape(bot_name)}(?:\[bot\])?(?![\w-])", re.IGNORECASE)
    return any(
        handle.search(_INLINE_CODE.sub("", line)) for line in _outside_fences(body) if not _QUOTED.match(line)
    )


def question_text(body: str | None, bot_name: str) -> str:
    """The question of an ``@<bot> ask <question>`` comment: the text after ``ask`` on its line and every
    line after it; "" when the comment holds no ``ask`` command or it asks nothing."""
    ask = re.compile(rf"@{re.escape(bot_name)}(?:\[bot\])?[ \t]+ask(?:[ \t]+(.*))?$", re.IGNORECASE)
    fence: str | None = None
    lines = (body or "").splitlines()
    for number, line in enumerate(lines):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        found = ask.match(line)
        if found is not None:
            return "\n".join([found.group(1) or "", *lines[number + 1 :]]).strip()
        if parse_command(line, bot_name) is not None:
            return ""
    return ""


def untrusted(login: str, user_type: str, association: str | None) -> Untrusted | None:
    """Why this commenter may not give commands on their association alone, or None when they may.

    ``association`` is the comment's ``author_association`` as GitHub computed it (not something the
    commenter can write). ``ASSOCIATION`` is not final: write permission on the repository also qualifies.
    """
    # Every App's bot (ours included) is a Bot named ``<slug>[bot]``.
    if user_type == "Bot" or login.lower().endswith("[bot]"):
        return Untrusted.BOT
    if (association or "").upper() not in TRUSTED_ASSOCIATIONS:
        return Untrusted.ASSOCIATION
    return None


def help_text(enabled: Collection[str], bot_name: str) -> str:
    """The answer to ``help``: the commands the policy enables, in the documented order."""
    enabled = {*enabled, *(job for job, policy in POLICY_COMMAND.items() if policy in enabled)}
    rows = [
        f"| `@{bot_name} {words}` | {what} |" for command, (words, what) in HELP.items() if command in enabled
    ]
    return "\n".join(
        [
            "**ArgoAI commands** (people with write access to this repository):",
            "",
            "| Command | What it does |",
            "|---|---|",
            *rows,
        ]
    )


REFUSAL = (
    "Only people with write access to this repository (or its owners, members and collaborators) can give "
    "ArgoAI commands."
)
