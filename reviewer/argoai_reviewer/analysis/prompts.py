"""The prompts sent to the LLM, rendered from the Jinja2 templates in ``prompts/``.

Everything that comes from the pull request (title, description, paths, code) is untrusted: it is redacted
(:mod:`argoai_core.redact`) and placed inside data blocks whose boundary is a token no piece of the data
contains (drawn again until none does), so data can never close its block and pose as instructions; the
system prompt says that nothing inside a block is to be obeyed. Only the review policy (set by the
repository's administrators, never read from the pull request) is rendered outside.

**Caching.** The boundary is derived from the pull request's title and description (a hash, then a counter
while the data contains it), not drawn at random: safety comes from the containment check, and a prompt
rendered twice from the same pull request text is byte-identical, which the LLM response cache
(:mod:`argoai_reviewer.llm.cache`) and the providers' prefix caches need. For the latter the user prompt puts
what changes least first: the pull request text, the policy's instructions, the related unchanged code,
then the changed files and which call of the review this is. The system prompt does not depend on the pull
request at all, so providers cache it across reviews.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import jinja2

from argoai_core.models.findings import Finding
from argoai_core.models.policy import PolicySpec
from argoai_core.redact import redact, redact_keeping_lines
from argoai_reviewer.analysis.context import Batch
from argoai_reviewer.analysis.selection import matches
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.domain import PullRequest

TEMPLATES = Path(__file__).parent / "templates"
MAX_TITLE_CHARS = 300
MAX_BODY_CHARS = 8000
DEFAULT_MAX_FINDINGS = 20


def _token() -> str:
    return f"DATA-{secrets.token_hex(12)}"


def derived_tokens(*seed: str) -> Callable[[], str]:
    """Boundary candidates derived from ``seed``: the same sequence for the same seed (see the docstring)."""
    counter = itertools.count()

    def token() -> str:
        text = "\0".join((*seed, str(next(counter))))
        return f"DATA-{hashlib.sha256(text.encode()).hexdigest()[:24]}"

    return token


@lru_cache(maxsize=8)
def _environment(directory: Path | None = None) -> jinja2.Environment:
    # A prompt directory (``argoai eval --variant …,prompts=DIR``) overrides the templates it holds; the
    # others come from the built-in ones.
    search = [directory, TEMPLATES] if directory is not None else [TEMPLATES]
    # Autoescape off: the output is a prompt, not HTML; untrusted text is fenced instead of escaped.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def new_boundary(data: Iterable[str], token: Callable[[], str] = _token) -> str:
    """A boundary token that occurs in none of ``data`` (drawn again until it does not)."""
    pieces = list(data)
    while True:
        candidate = token()
        if not any(candidate in piece for piece in pieces):
            return candidate


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[… {len(text) - limit} more characters not shown]"


def path_instructions_for(policy: PolicySpec, paths: Sequence[str]) -> list[tuple[str, str]]:
    """The policy's ``(glob, instructions)`` entries whose glob matches at least one of ``paths``."""
    return [
        (entry.path, entry.instructions)
        for entry in policy.path_instructions
        if any(matches(path, [entry.path]) for path in paths)
    ]


def render_system(
    *, max_findings: int = DEFAULT_MAX_FINDINGS, prompts: Path | None = None, agent: bool = False
) -> str:
    """The system prompt: role, how code is shown, untrusted data rules, severities, answer format; in agent
    mode also the tools and their rules (``agent.j2``).

    ``prompts``: a directory whose templates replace the built-in ones of the same name.
    """
    environment = _environment(prompts)
    text = environment.get_template("system.j2").render(max_findings=max_findings)
    if agent:
        text = f"{text.rstrip()}\n\n{environment.get_template('agent.j2').render()}"
    return text


def render_batch_prompt(
    *,
    pr: PullRequest,
    policy: PolicySpec,
    batch: Batch,
    calls: int = 1,
    related: str = "",
    token: Callable[[], str] | None = None,
    prompts: Path | None = None,
) -> str:
    """The user prompt of one LLM call: the pull request, the policy's instructions, the related unchanged
    code chosen for it (already redacted and trimmed) and the batch's files; ``token`` overrides the
    boundary candidates (derived from the pull request's text by default)."""
    return _render(
        prompts=prompts,
        pr=pr,
        policy=policy,
        files=batch.text,
        related=related,
        path_instructions=path_instructions_for(policy, batch.paths),
        call=batch.index + 1,
        calls=calls,
        token=token,
    )


def prompt_overhead(
    counter: TokenCounter,
    *,
    pr: PullRequest,
    policy: PolicySpec,
    max_findings: int,
    prompts: Path | None = None,
) -> int:
    """Tokens of the system prompt plus a user prompt without files (every path instruction counted).

    The room left for files in one call is the call's input budget minus this.
    """
    boundary = _token()
    user = _render(
        prompts=prompts,
        pr=pr,
        policy=policy,
        files="",
        related="",
        path_instructions=[(entry.path, entry.instructions) for entry in policy.path_instructions],
        call=999,
        calls=999,
        token=lambda: boundary,
    )
    # Random boundaries tokenize differently from prompt to prompt: charge each one its worst case, a
    # token per character, on top of this rendering's count.
    margin = user.count(boundary) * len(boundary)
    system = render_system(max_findings=max_findings, prompts=prompts)
    return counter.count(system) + counter.count(user) + margin


def _render(
    *,
    prompts: Path | None,
    pr: PullRequest,
    policy: PolicySpec,
    files: str,
    related: str,
    path_instructions: list[tuple[str, str]],
    call: int,
    calls: int,
    token: Callable[[], str] | None,
) -> str:
    title = redact(_clip(pr.title, MAX_TITLE_CHARS))
    body = redact(_clip(pr.body or "(no description)", MAX_BODY_CHARS))
    if token is None:
        token = derived_tokens(str(pr.number), title, body)
    # The files are already redacted by the context builder; redacting again is cheap insurance.
    files = redact_keeping_lines(files)
    related = redact_keeping_lines(related)
    return (
        _environment(prompts)
        .get_template("batch.j2")
        .render(
            number=pr.number,
            call=call,
            calls=calls,
            boundary=new_boundary([title, body, files, related], token),
            title=title,
            body=body,
            files=files,
            related=related,
            instructions=policy.instructions.strip(),
            path_instructions=path_instructions,
        )
    )


def render_verify_system() -> str:
    """The system prompt of a verification call (keep or drop one finding)."""
    return _environment().get_template("verify_system.j2").render()


def render_verify_prompt(
    *, finding: Finding, code: str, related: str, token: Callable[[], str] = _token
) -> str:
    """The prompt of one verification call: the finding (the model's text, untrusted too), the code at its
    anchor and its related code, each redacted and fenced."""
    title, body = redact(finding.title), redact(finding.body)
    code, related = redact_keeping_lines(code), redact_keeping_lines(related)
    return (
        _environment()
        .get_template("verify.j2")
        .render(
            boundary=new_boundary([title, body, code, related, finding.path], token),
            severity=finding.severity.value,
            category=finding.category.value,
            path=redact(finding.path),
            start=finding.start_line,
            end=finding.end_line,
            title=title,
            body=body,
            code=code,
            related=related,
        )
    )
