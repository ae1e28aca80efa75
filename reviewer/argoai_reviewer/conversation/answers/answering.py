"""A question, from its job to one sanitized answer: gates, context, the model, the budget.

In order, each before anything that costs:

1. already answered (the reply ledger of :class:`~argoai_reviewer.conversation.replies.Replies`: a
   redelivered or retried question is answered once, and the model is not asked again);
2. no LLM configured, the pull request's questions this hour past the policy's ``questionsPerHour``, or the
   repository's daily token budget (``tokenBudgetPerDay``) spent: a one-line answer says so;
3. the context (:mod:`.context`): for a question in a diff thread, the comment the thread is about, the code
   it is on as it is at the pull request's current head (from the head's snapshot, or the single file), the
   thread's earlier messages and related code from the head's code index; for ``ask`` in the conversation,
   the pull request and its diff;
4. one structured-output call (:class:`~.model.ThreadAnswer`), its tokens charged to the repository's daily
   budget like a review's;
   a model that gives no valid answer (or refuses the request for good) gets one line saying so;
5. the answer sanitized (:func:`argoai_core.sanitize.sanitize_markdown`: no mentions, no HTML, so no forged
   hidden marker, no links, no slash commands) before the runner posts it, once.

Whether a ``question`` (a mention) is about one of ArgoAI's comments at all is :meth:`Answers.about_ours`,
asked before the 👀: a mention in someone else's thread is not answered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.job import CommandJob
from argoai_core.models.policy import PolicySpec
from argoai_core.sanitize import sanitize_markdown
from argoai_core.settings import LLMSettings
from argoai_reviewer import metrics
from argoai_reviewer.analysis.context import Batch, FileBlock
from argoai_reviewer.analysis.related import RelatedLimits, find_related
from argoai_reviewer.analysis.review import within_configured_llm
from argoai_reviewer.analysis.tokens import TokenCounter, counter_for
from argoai_reviewer.conversation.answers.context import (
    AnchoredCode,
    anchor_lines,
    diff_context,
    render_window,
    strip_markers,
    thread_messages,
)
from argoai_reviewer.conversation.answers.model import AnswerModel, ThreadAnswer
from argoai_reviewer.conversation.answers.prompts import (
    ConversationQuestion,
    ThreadQuestion,
    render_answer_system,
    render_conversation_prompt,
    render_thread_prompt,
)
from argoai_reviewer.conversation.commands.grammar import question_text
from argoai_reviewer.conversation.markers import find_finding_marker
from argoai_reviewer.conversation.ports import ConversationKeys, GitHubInstallation, TokenBudget
from argoai_reviewer.conversation.replies import Replies
from argoai_reviewer.conversation.sources import SourceOptions, review_sources
from argoai_reviewer.conversation.state import Conversation
from argoai_reviewer.index.code_index import CodeIndex
from argoai_reviewer.outcome import ReviewOutcome

log = get_logger(__name__)

ANSWER_MAX = 6000
"""Longest answer posted (characters, after sanitizing; a longer one is cut and says so)."""

Answer = tuple[ReviewOutcome, str | None]


@dataclass(frozen=True)
class AnswerOptions:
    """The configured LLM (its provider, prices), the pod's snapshots, and the diff budget of ``ask``."""

    llm: LLMSettings = field(default_factory=lambda: LLMSettings.model_construct())
    sources: SourceOptions = field(default_factory=SourceOptions)
    diff_tokens: int = 24_000


def _related(index: CodeIndex, path: str, lines: range, counter: TokenCounter, policy: PolicySpec) -> str:
    """Related code of the commented lines (definitions they use, code using what they define)."""
    wanted = policy.related_context
    limits = RelatedLimits(
        enabled=wanted.enabled and wanted.max_tokens_per_call > 0 and wanted.max_tokens_per_review > 0,
        tokens_per_call=wanted.max_tokens_per_call,
        tokens_per_review=wanted.max_tokens_per_call,
    )
    block = FileBlock(
        path=path, old_path=None, status="modified", part=2, parts=2, text="", changed_lines=0, tokens=0,
        added=frozenset(lines),
    )  # fmt: skip
    return find_related(index, [Batch(0, (block,), counter)], {}, counter, limits).texts[0]


class Answers:
    """Answers ``ask`` and ``question`` jobs (see the module docstring)."""

    def __init__(
        self,
        *,
        model: AnswerModel | None,
        budget: TokenBudget,
        keys: ConversationKeys,
        replies: Replies,
        conversation: Conversation,
        options: AnswerOptions,
    ) -> None:
        self._model = model
        self._budget = budget
        self._keys = keys
        self._replies = replies
        self._conversation = conversation
        self._options = options

    @property
    def _bot(self) -> str:
        return self._conversation.bot_name

    async def about_ours(self, gh: GitHubInstallation, job: CommandJob) -> bool:
        """Whether the thread of ``job``'s comment starts with one of ArgoAI's inline comments (a finding)."""
        if job.comment_kind != "review" or job.in_reply_to is None:
            return False
        first = await gh.review_comment(job.repo, job.in_reply_to)
        return (
            first is not None
            and self._replies.is_ours(first.author, first.author_is_bot)
            and find_finding_marker(first.body) is not None
        )

    async def answer(self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec) -> Answer:
        """The answer to ``job``'s question (sanitized), or a line saying why there is none."""
        if await self._replies.settled(
            gh, job.repo, job.number, kind=job.comment_kind, target=job.comment_id, purpose=job.command
        ):
            return ReviewOutcome.duplicate("this question is already answered"), None
        if self._model is None:
            return ReviewOutcome.skipped("no LLM configured"), (
                "ArgoAI cannot answer questions here: no LLM is configured (only the built-in checks run)."
            )
        if await self._asked(job) > policy.questions_per_hour:
            metrics.COMMANDS.labels(command=job.command, result="rate_limited").inc()
            return ReviewOutcome.skipped("question rate limit"), (
                f"ArgoAI answers at most {policy.questions_per_hour} questions per hour on a pull request; "
                "ask again later."
            )
        policy, _ = within_configured_llm(policy, self._options.llm.provider)
        scope = f"{job.repo.host}/{job.repo.full_name}"
        limit = policy.token_budget_per_day
        if limit is not None and await self._budget.spent_today(scope) >= limit:
            metrics.TOKEN_BUDGET_EXHAUSTED.labels(repository=job.repo.full_name).inc()
            return ReviewOutcome.skipped("daily token budget spent"), (
                f"The repository's daily LLM token budget ({limit:,} tokens) is spent: ArgoAI answers "
                "questions again tomorrow (UTC)."
            )
        counter = counter_for(
            policy.provider or self._options.llm.provider, policy.model or self._options.llm.model
        )
        if job.comment_kind == "issue":
            prompt = await self._conversation_prompt(gh, job, counter)
        else:
            prompt = await self._thread_prompt(gh, job, policy, counter)
        if prompt is None:
            return ReviewOutcome.skipped("the question's comment is gone"), None
        if not prompt:
            return ReviewOutcome.skipped("no question"), (
                f"Ask a question after the command, e.g. `@{self._bot} ask why is this lock needed?`"
            )
        try:
            reply = await self._model.ask(
                system=render_answer_system(), prompt=prompt, output=ThreadAnswer, model=policy.model
            )
        except PermanentError as exc:
            # Asking again cannot help (no valid answer after the re-asks, a refused request): say so once.
            # The error's text may quote the model or the provider: it goes to the logs, not to GitHub.
            log.warning("question not answered", pr=job.pr_key, comment=job.comment_id, error=str(exc))
            metrics.COMMANDS.labels(command=job.command, result="failed").inc()
            return ReviewOutcome.skipped("the model gave no answer"), (
                "ArgoAI could not answer this question: the model gave no usable answer."
            )
        await self._budget.spend(scope, reply.input_tokens + reply.output_tokens)
        log.info(
            "question answered",
            pr=job.pr_key,
            comment=job.comment_id,
            model=reply.model,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
        )
        text = sanitize_markdown(reply.output.answer, bot_handle=self._bot, limit=ANSWER_MAX)
        return ReviewOutcome.skipped("question answered"), text or "(ArgoAI had no answer.)"

    async def _asked(self, job: CommandJob) -> int:
        """The pull request's questions this hour, this one counted once however often its job runs."""
        counted = f"question-counted:{job.pr_key}:{job.comment_id}"
        if (seen := await self._keys.get(counted)) is not None:
            return int(seen)
        number = await self._keys.count(f"questions:{job.pr_key}", 3600)
        await self._keys.put(counted, str(number), 3600)
        return number

    async def _conversation_prompt(
        self, gh: GitHubInstallation, job: CommandJob, counter: TokenCounter
    ) -> str | None:
        """The prompt of an ``ask`` in the conversation ("" when it asks nothing, None when it is gone)."""
        found = next(
            (c for c in await gh.issue_comments(job.repo, job.number) if c.id == job.comment_id), None
        )
        if found is None:
            return None
        question = question_text(found.body, self._bot)
        if not question:
            return ""
        pr = await gh.pull_request(job.repo, job.number)
        diff = diff_context(await gh.files(job.repo, job.number), counter, self._options.diff_tokens)
        return render_conversation_prompt(
            ConversationQuestion(pr=pr, asker=job.commenter, question=question, diff=diff)
        )

    async def _thread_prompt(
        self, gh: GitHubInstallation, job: CommandJob, policy: PolicySpec, counter: TokenCounter
    ) -> str | None:
        """The prompt of a question in a diff thread ("" when it asks nothing, None when it is gone)."""
        root_id = job.in_reply_to or job.comment_id
        comments = await gh.review_comments(job.repo, job.number)
        by_id = {c.id: c for c in comments}
        asked = by_id.get(job.comment_id) or await gh.review_comment(job.repo, job.comment_id)
        root = by_id.get(root_id) or await gh.review_comment(job.repo, root_id)
        if asked is None or root is None:
            return None
        question = question_text(asked.body, self._bot) if job.command == "ask" else asked.body.strip()
        if not question:
            return ""
        ours = self._replies.is_ours(root.author, root.author_is_bot)
        marked = find_finding_marker(root.body) if ours else None
        quote = ""
        if marked is not None:
            record = await self._conversation.stored(job.pr_key)
            tracked = record.findings.get(marked[0]) if record is not None else None
            quote = tracked.quote if tracked is not None else ""
        pr = await gh.pull_request(job.repo, job.number)
        anchored: AnchoredCode | None = None
        related = ""
        async with review_sources(gh, job.repo, pr.head_sha, self._options.sources) as sources:
            text = await sources.head_text(root.path)
            note = ""
            if text is None:
                note = (
                    "The file is not in the pull request at its current head (deleted, renamed, binary "
                    "or too large to read)."
                )
            elif (where := anchor_lines(text, quote, root)) is None:
                note = "The lines this comment was written on are no longer in the file at the current head."
            else:
                start, end, note = where
                anchored = AnchoredCode(
                    root.path, pr.head_sha, start, end, render_window(text, start, end), note
                )
                if sources.code is not None:
                    related = await asyncio.to_thread(
                        _related, sources.code, root.path, range(start, end + 1), counter, policy
                    )
        return render_thread_prompt(
            ThreadQuestion(
                number=job.number,
                asker=job.commenter,
                question=question,
                path=root.path,
                comment=strip_markers(root.body),
                comment_author=root.author,
                ours=ours,
                category=marked[1] if marked else "",
                severity=marked[2] if marked else "",
                head_sha=pr.head_sha,
                anchored=anchored,
                code_note=note,
                messages=thread_messages(comments, root_id, job.comment_id, is_ours=self._replies.is_ours),
                related=related,
            )
        )
