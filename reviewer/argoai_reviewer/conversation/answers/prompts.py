"""The prompts of a question, rendered from the Jinja2 templates in ``templates/``.

The same discipline as a review's prompts (:mod:`argoai_reviewer.analysis.prompts`): everything from the
pull request (code, diff, comments, the question, title and description) is redacted and placed in data blocks
whose boundary is a random token drawn again until no piece of data contains it, and the system prompt says
nothing inside a block is to be obeyed. Paths shown outside a block are flattened to one line.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from argoai_core.redact import redact, redact_keeping_lines
from argoai_reviewer.analysis.prompts import MAX_BODY_CHARS, MAX_TITLE_CHARS, new_boundary
from argoai_reviewer.conversation.answers.context import (
    MAX_QUESTION_CHARS,
    AnchoredCode,
    DiffContext,
    Message,
    clip,
)
from argoai_reviewer.domain import PullRequest

TEMPLATES = Path(__file__).parent / "templates"
MAX_COMMENT_CHARS = 6000
MAX_PATH_CHARS = 300


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    # Autoescape off: the output is a prompt, not HTML; untrusted text is fenced instead of escaped.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _token() -> str:
    return f"DATA-{secrets.token_hex(12)}"


def _one_line(path: str) -> str:
    return " ".join(redact(path).split())[:MAX_PATH_CHARS]


def render_answer_system() -> str:
    """The system prompt of every answer (it does not depend on the pull request: providers can cache it)."""
    return _environment().get_template("system.j2").render()


@dataclass(frozen=True)
class ThreadQuestion:
    """A question in the thread of a review comment, and what the prompt shows with it."""

    number: int
    asker: str
    question: str
    path: str
    comment: str
    comment_author: str
    ours: bool
    category: str
    severity: str
    head_sha: str
    anchored: AnchoredCode | None
    code_note: str
    messages: Sequence[Message]
    related: str = ""


def render_thread_prompt(question: ThreadQuestion, token: Callable[[], str] = _token) -> str:
    """The user prompt of a question in a thread."""
    text = redact(clip(question.question, MAX_QUESTION_CHARS))
    comment = redact(clip(question.comment, MAX_COMMENT_CHARS))
    code = redact_keeping_lines(question.anchored.rows) if question.anchored else ""
    related = redact_keeping_lines(question.related)
    data = [text, comment, code, related, *(m.text for m in question.messages)]
    return (
        _environment()
        .get_template("thread.j2")
        .render(
            number=question.number,
            boundary=new_boundary(data, token),
            ours=question.ours,
            category=question.category,
            severity=question.severity,
            path=_one_line(question.path),
            comment_author=f"@{question.comment_author}",
            comment=comment,
            head=question.head_sha[:12],
            code=code,
            start=question.anchored.start if question.anchored else 0,
            end=question.anchored.end if question.anchored else 0,
            code_note=question.code_note,
            messages=question.messages,
            related=related,
            asker=f"@{question.asker}",
            question=text,
        )
    )


@dataclass(frozen=True)
class ConversationQuestion:
    """An ``ask`` in the pull request's conversation, and what the prompt shows with it."""

    pr: PullRequest
    asker: str
    question: str
    diff: DiffContext


def render_conversation_prompt(question: ConversationQuestion, token: Callable[[], str] = _token) -> str:
    """The user prompt of an ``ask`` in the conversation: the pull request, its diff, the question."""
    pr = question.pr
    title = redact(clip(pr.title, MAX_TITLE_CHARS))
    body = redact(clip(pr.body or "(no description)", MAX_BODY_CHARS))
    diff = redact_keeping_lines(question.diff.text)
    text = redact(clip(question.question, MAX_QUESTION_CHARS))
    return (
        _environment()
        .get_template("conversation.j2")
        .render(
            number=pr.number,
            boundary=new_boundary([title, body, diff, text], token),
            title=title,
            body=body,
            base=pr.base_sha[:12],
            head=pr.head_sha[:12],
            diff=diff,
            left_out=[_one_line(path) for path in question.diff.left_out[:50]],
            asker=f"@{question.asker}",
            question=text,
        )
    )
