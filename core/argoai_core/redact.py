"""Patterns of credentials, used to keep them out of logs, prompts and comments.

One list serves the log scrubber, the prompt redactor and the built-in secret check, so that a token format
added here is covered everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretPattern:
    """A recognisable credential format.

    ``hints``: literal strings one of which every match contains (compared case-insensitively when the regex
    ignores case). A text with none of them is skipped without running the regex: scanning every position of
    a megabyte of code with a dozen ``\\b…`` patterns is what makes redaction slow, a substring test is not.
    """

    name: str
    regex: re.Pattern[str]
    hints: tuple[str, ...] = ()

    def may_occur(self, text: str, lowered: str | None = None) -> bool:
        """False when ``text`` certainly holds no match; ``lowered`` is ``text.lower()`` when known."""
        if not self.hints:
            return True
        if self.regex.flags & re.IGNORECASE:
            haystack = text.lower() if lowered is None else lowered
            return any(hint.lower() in haystack for hint in self.hints)
        return any(hint in text for hint in self.hints)


SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "private key block",
        re.compile(
            # A whole block, or the start of one whose end is outside the text (a diff hunk, a log line).
            r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?P<secret>[\s\S]*?-----END (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s]{16,})"
        ),
        ("PRIVATE KEY",),
    ),
    SecretPattern(
        "GitHub token",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    SecretPattern("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), ("AKIA", "ASIA")),
    SecretPattern(
        "AWS secret access key",
        re.compile(r"(?i)aws_?secret_?access_?key['\"]?\s*[:=]\s*['\"]?(?P<secret>[A-Za-z0-9/+=]{40})"),
        ("secret",),
    ),
    SecretPattern(
        "OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}\b"), ("sk-",)
    ),
    SecretPattern("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}\b"), ("sk-ant-",)),
    SecretPattern("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), ("xox",)),
    SecretPattern("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), ("AIza",)),
    SecretPattern("Stripe key", re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b"), ("_live_",)),
    SecretPattern(
        "JSON web token",
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        ("eyJ",),
    ),
    SecretPattern("webhook signature", re.compile(r"\bsha(?:1|256)=[0-9a-f]{40,64}\b"), ("sha1=", "sha256=")),
    SecretPattern(
        "bearer credential",
        re.compile(r"(?i)\b(?:bearer|token)\s+(?P<secret>[A-Za-z0-9._~+/=-]{20,})"),
        ("bearer", "token"),
    ),
    SecretPattern(
        "password assignment",
        re.compile(
            r"(?i)\b(?:[\w-]*[_-])?(?:password|passwd|secret|api_?key)['\"]?\s*[:=]\s*['\"](?P<secret>[^'\"\s]{8,})['\"]"
        ),
        ("password", "passwd", "secret", "api_key", "apikey"),
    ),
)


def redact(text: str, replacement: str = "[REDACTED]") -> str:
    """``text`` with every recognisable credential replaced."""
    lowered = text.lower()
    for pattern in SECRET_PATTERNS:
        if pattern.may_occur(text, lowered):
            text = pattern.regex.sub(replacement, text)
    return text


def find_secrets(text: str) -> list[SecretPattern]:
    """The credential formats present in ``text`` (each at most once)."""
    lowered = text.lower()
    return [
        pattern
        for pattern in SECRET_PATTERNS
        if pattern.may_occur(text, lowered) and pattern.regex.search(text)
    ]


@dataclass(frozen=True)
class SecretMatch:
    """Where a credential sits in a text: ``start``..``end`` covers the secret value only.

    Patterns that match a key name with its value (``password = "…"``) mark the value with a ``secret``
    group, so a caller can show the key name without the value.
    """

    pattern: SecretPattern
    start: int
    end: int


def find_secret_spans(text: str) -> list[SecretMatch]:
    """Every credential in ``text`` with the span of its value, in order of position."""
    found: list[SecretMatch] = []
    lowered = text.lower()
    for pattern in SECRET_PATTERNS:
        if not pattern.may_occur(text, lowered):
            continue
        for match in pattern.regex.finditer(text):
            group = "secret" if "secret" in pattern.regex.groupindex else 0
            found.append(SecretMatch(pattern, match.start(group), match.end(group)))
    return sorted(found, key=lambda item: (item.start, item.end))


def redact_keeping_lines(text: str, replacement: str = "[REDACTED]") -> str:
    """Like :func:`redact`, but a credential spanning lines (a key block) keeps its line breaks.

    Code shown with line numbers must keep its line count after redaction, or every later number is wrong.
    """

    def _sub(match: re.Match[str]) -> str:
        return "\n".join(replacement if part else "" for part in match.group(0).split("\n"))

    lowered = text.lower()
    for pattern in SECRET_PATTERNS:
        if pattern.may_occur(text, lowered):
            text = pattern.regex.sub(_sub, text)
    return text
