"""Make untrusted model output safe to post on GitHub.

Everything the model writes (summary, titles, bodies, suggestions) is attacker-influenced: the pull request
being reviewed can contain prompt injections. Text is rewritten so that posting it can never notify
anyone, trigger another bot, load a remote resource, or break the layout of the comment around it.

Rules, outside code (prose and inline code spans are found with a small CommonMark-faithful scanner):

* ``@name`` and ``@org/team`` get a zero-width joiner after the ``@`` (shown the same, never a mention);
  ``#123`` and ``GH-123`` likewise (no cross-reference notifications).
* Every ``<`` becomes ``&lt;``: no raw HTML at all (no ``<img>``, ``<details>``, ``<!-- -->`` comments that
  could fake our hidden marker, no ``<https://…>`` autolinks).
* Markdown links ``[text](url)`` become ``text (`url`)`` and images ``![alt](url)`` become
  ``[image: alt] (`url`)``; every other ``[`` and ``]`` is backslash-escaped, so no link, image, footnote
  or reference definition can form. Bare ``http(s)://``, ``ftp://`` and ``www.`` URLs are wrapped in
  inline code, so GitHub does not turn them into links: the URL stays readable, never clickable or loaded.
* Inline code spans are kept verbatim (GitHub renders them inert and does not notify mentions in them).
  A span must close on the same line; anything else is prose.

Fenced code blocks opening at column 0 are kept verbatim (only a top-level fence is certainly a fence for
GitHub too; an indented one may sit in a list item that ends early, so it is treated as prose, which is
always the safer reading). Their info string is reduced to a plain language name, and ``suggestion``,
``mermaid``, ``geojson``, ``topojson``, ``stl`` and ``math`` are removed (only ArgoAI's renderer writes
suggestion blocks; the others render active content). A fence left open is closed.

Everywhere, including code: a line that would start (after whitespace) with ``/word`` (a slash command) or
with the bot's handle gets a zero-width space in front of it, so no bot reading raw lines sees a command.
CR and CRLF become LF; U+2028/U+2029 become LF; other control characters are removed; bidirectional
controls (Trojan Source) become U+FFFD. Lengths are capped by truncating the *input* and sanitizing again,
so truncation never leaves a half-open fence or span; a note saying so is appended outside any block.
"""

from __future__ import annotations

import re

ZWJ = "\u200d"
ZWSP = "\u200b"

TITLE_MAX = 200
"""Longest title (characters, after sanitizing)."""
BODY_MAX = 6000
"""Longest finding body in an inline comment."""
SUMMARY_MAX = 10_000
"""Longest model summary in the review body."""
COMMENT_MAX = 16_000
"""Longest inline comment."""
REVIEW_BODY_MAX = 60_000
"""Longest review body (GitHub rejects more than 65,536 characters)."""

TRUNCATION_NOTE = "\n\n… (truncated)"

_BIDI = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"), "\ufffd"
)
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])
_ACTIVE_LANGUAGES = frozenset({"suggestion", "mermaid", "geojson", "topojson", "stl", "math"})
_FENCE_OPEN = re.compile(r"^(`{3,}|~{3,})(.*)$")
_INFO_WORD = re.compile(r"^[A-Za-z0-9_+#.-]{1,40}$")
_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_LITERAL_AFTER_BACKSLASH = frozenset("`[]\\")
_LINK = re.compile(
    r"(!?)\[([^\[\]\n]*)\]\(\s*<?([^\s()<>`]*)>?(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)",
)
_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<>`\[\]]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)'\"*_~"
_MENTION = re.compile(r"@[A-Za-z0-9]")
_ISSUE = re.compile(r"(?:#|GH-)\d", re.IGNORECASE)
_SPACE_RUN = re.compile(r"\s+")
# A run of characters no rule of ``_inline`` applies to, copied in one step: not a rule's first character,
# and not h/f/w/g (http, ftp, www., GH-) unless an ASCII letter or digit precedes it (URLs and GH-123 are
# only recognized at a word start).
_PLAIN = re.compile(r"(?:[^\\`!\[\]<@#*_hfwgHFWG]|(?<=[A-Za-z0-9])[hfwgHFWG])+")


def _clean_chars(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return text.translate(_BIDI).translate(_CONTROLS)


def _handle(bot_handle: str) -> str:
    return bot_handle.strip().lstrip("@").removesuffix("[bot]")


def _trigger_re(bot_handle: str) -> re.Pattern[str]:
    handle = re.escape(_handle(bot_handle))
    return re.compile(rf"^([^\S\n]*)(?=/\w|@?{handle}(?![\w-]))", re.IGNORECASE | re.MULTILINE)


def neutralize_triggers(text: str, *, bot_handle: str) -> str:
    """Put a zero-width space before any line start that is a slash command or the bot's handle."""
    return _trigger_re(bot_handle).sub(lambda m: m.group(1) + ZWSP, text)


def has_trigger_line(text: str, *, bot_handle: str) -> bool:
    """True when some line of ``text`` starts (after whitespace) with ``/word`` or the bot's handle."""
    return _trigger_re(bot_handle).search(_clean_chars(text)) is not None


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _code_span_end(text: str, start: int, size: int) -> int | None:
    """End of the inline code span opened by ``size`` backticks at ``start``, on the same line, or None."""
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    closer = re.compile(rf"(?<!`)`{{{size}}}(?!`)")
    found = closer.search(text, start + size, line_end)
    return found.end() if found else None


def _url_at(text: str, i: int) -> str | None:
    if i > 0 and _is_word(text[i - 1]):
        return None
    found = _URL.match(text, i)
    if not found:
        return None
    url = found.group(0).rstrip(_URL_TRAILING)
    return url if len(url) > len("www.") else None


def _inline(text: str, *, emphasis: bool = False) -> str:
    """Sanitize prose (no fenced blocks) by the module's rules; ``emphasis`` also escapes ``*`` and ``_``."""
    out: list[str] = []
    i, size = 0, len(text)
    while i < size:
        plain = _PLAIN.match(text, i)
        if plain is not None:
            out.append(plain.group(0))
            i = plain.end()
            continue
        char = text[i]
        prev = text[i - 1] if i else ""
        if char == "\\" and i + 1 < size and text[i + 1] in _ESCAPABLE:
            if text[i + 1] == "<":
                out.append("&lt;")
                i += 2
            elif text[i + 1] in _LITERAL_AFTER_BACKSLASH:
                out.append(text[i : i + 2])
                i += 2
            else:  # the escaped character still gets its own rule (e.g. \@user)
                out.append("\\")
                i += 1
            continue
        if char == "`":
            run = len(text[i:]) - len(text[i:].lstrip("`"))
            end = _code_span_end(text, i, run)
            out.append(text[i:end] if end is not None else "`" * run)
            i = end if end is not None else i + run
            continue
        link = _LINK.match(text, i) if char in "![" else None
        if link is not None:
            image, label, url = link.groups()
            shown = _inline(label, emphasis=emphasis)
            out.append(f"\\[image: {shown}\\]" if image else shown)
            if url:
                out.append(f" (`{url}`)")
            i = link.end()
            continue
        url = _url_at(text, i)
        if url is not None:
            out.append(f"`{url}`")
            i += len(url)
            continue
        if char in "[]":
            out.append("\\" + char)
        elif char == "<":
            out.append("&lt;")
        elif char == "@" and not _is_word(prev) and _MENTION.match(text, i):
            out.append("@" + ZWJ)
        elif _ISSUE.match(text, i) and (prev != "&" if char == "#" else not _is_word(prev)):
            head = "#" if char == "#" else text[i : i + 3]
            out.append(head + ZWJ)
            i += len(head)
            continue
        elif emphasis and char in "*_":
            out.append("\\" + char)
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _fence_info(info: str) -> str:
    word = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    if not _INFO_WORD.match(word) or word.lower() in _ACTIVE_LANGUAGES:
        return ""
    return word


def _closes(line: str, fence: str) -> bool:
    stripped = line.rstrip()
    indent = len(stripped) - len(stripped.lstrip(" "))
    body = stripped[indent:]
    return indent <= 3 and len(body) >= len(fence) and set(body) == {fence[0]}


def _blocks(text: str) -> str:
    """Sanitize a whole document: fenced code blocks verbatim, everything else as prose."""
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is not None:
            out.append(line)
            if _closes(line, fence):
                fence = None
            continue
        opening = _FENCE_OPEN.match(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            if prose:
                out.append(_inline("\n".join(prose)))
                prose = []
            fence = opening.group(1)
            out.append(fence + _fence_info(opening.group(2)))
            continue
        prose.append(line)
    if prose:
        out.append(_inline("\n".join(prose)))
    if fence is not None:
        out.append(fence)
    return "\n".join(out)


def _capped(text: str, limit: int, render: _Renderer) -> str:
    """``render(text)``, or a rendering of a prefix of ``text`` plus a note when that is over ``limit``."""
    result = render(text)
    note = "…" if render.one_line else TRUNCATION_NOTE
    cut = len(text)
    while len(result) > limit and cut > 0:
        # Sanitizing can expand text (``<`` → ``&lt;``): shrink the input in proportion, at least by one.
        cut = min(cut - 1, int(cut * (limit - len(note)) / len(result)))
        result = render(text[: max(cut, 0)]).rstrip() + note
    return result[:limit]


class _Renderer:
    def __init__(self, bot_handle: str, *, one_line: bool) -> None:
        self.bot_handle = bot_handle
        self.one_line = one_line

    def __call__(self, text: str) -> str:
        text = _clean_chars(text)
        if self.one_line:
            return _inline(_SPACE_RUN.sub(" ", text).strip(), emphasis=True)
        return neutralize_triggers(_blocks(text), bot_handle=self.bot_handle).strip("\n")


def sanitize_markdown(text: str, *, bot_handle: str, limit: int = BODY_MAX) -> str:
    """Model-written markdown made safe to post, at most ``limit`` characters (see the module rules)."""
    return _capped(text, limit, _Renderer(bot_handle, one_line=False))


def sanitize_title(text: str, *, bot_handle: str, limit: int = TITLE_MAX) -> str:
    """A one-line, sanitized title (newlines collapsed; ``*`` and ``_`` escaped for use inside bold)."""
    return _capped(text, limit, _Renderer(bot_handle, one_line=True))


def sanitize_path(path: str) -> str:
    """A file path to show inside inline code: one line, no control characters, no backticks."""
    return _SPACE_RUN.sub(" ", _clean_chars(path)).replace("`", "'").strip()[:300]


def sanitize_terminal(text: str) -> str:
    """Text made safe to print in a terminal: no escape (ANSI, OSC) or other control sequence, line breaks
    as LF, bidirectional controls shown as U+FFFD; tabs and newlines kept, markdown left as written."""
    return _clean_chars(text)


def safe_suggestion(code: str, *, bot_handle: str) -> bool:
    """True when ``code`` may be posted verbatim in a suggestion block.

    Suggestions are applied to the file as is, so they cannot be neutralized; one that contains a line
    that would trigger a bot, a control or bidirectional character, is rejected instead.
    """
    if _clean_chars(code) != code.replace("\r\n", "\n"):
        return False
    return not has_trigger_line(code, bot_handle=bot_handle)


def code_fence(code: str) -> str:
    """A backtick fence longer than any backtick run in ``code`` (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    return "`" * max(3, longest + 1)
