"""The part of a review shared by GitHub reviews and local reviews: from changed files to placed findings.

selection (policy) → context batches within token budgets → analyzers (built-in checks and static-analysis
tools, :mod:`~argoai_reviewer.analysis.analyzers`) running while the LLM calls run (concurrent, bounded) →
merged findings → anchoring on the diff where comments can go → suggestions parse-checked. Posting (or
printing) is the caller's job.

In agent mode (policy ``agent.enabled``, a snapshot at head) each call offers the model the read-only tools of
:mod:`argoai_reviewer.agent` instead of the related-code section, within one budget for the whole review. A
server without tool calling gets the related-code prompt instead (its refusal is remembered per base URL by
the adapter, so it is asked once), and the summary says so.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from opentelemetry import trace

from argoai_core.errors import PermanentError
from argoai_core.logs import get_logger
from argoai_core.models.findings import Finding
from argoai_core.models.policy import PolicySpec
from argoai_reviewer.agent.budget import AgentBudget, AgentLimits
from argoai_reviewer.agent.toolbox import SnapshotToolbox
from argoai_reviewer.agent.tools import SnapshotTools
from argoai_reviewer.analysis.analyzers import (
    AnalyzerResult,
    AnalyzerRunner,
    HeadTree,
    TempCopy,
    merge_findings,
)
from argoai_reviewer.analysis.analyzers.syntax import check_suggestions
from argoai_reviewer.analysis.anchoring import Anchored, Placement, anchor, anchor_at_lines
from argoai_reviewer.analysis.context import Batch, ContextLimits, ContextPlan, build_batches
from argoai_reviewer.analysis.coverage import Coverage
from argoai_reviewer.analysis.diff import FileDiff, by_path, from_changed_file
from argoai_reviewer.analysis.model import ModelReply, ReviewModel, StructuredModel, ToolsUnsupportedError
from argoai_reviewer.analysis.prompts import (
    DEFAULT_MAX_FINDINGS,
    prompt_overhead,
    render_batch_prompt,
    render_system,
)
from argoai_reviewer.analysis.related import RelatedLimits, RelatedPlan, find_related
from argoai_reviewer.analysis.selection import Selection, select_files
from argoai_reviewer.analysis.tokens import TokenCounter
from argoai_reviewer.analysis.verify import DroppedFinding, verify
from argoai_reviewer.domain import ChangedFile, PullRequest
from argoai_reviewer.index.code_index import CodeIndex
from argoai_reviewer.metrics import AGENT_FALLBACKS, INDEX_SECONDS, RELATED_SNIPPETS
from argoai_reviewer.workspace.snapshot import Snapshot

log = get_logger(__name__)
tracer = trace.get_tracer(__name__)

HeadText = Callable[[str], Awaitable[str | None]]
Progress = Callable[[str], None]
Heartbeat = Callable[[], Awaitable[None]]

# Below this a call could not hold a useful piece of a file; such a policy is a misconfiguration.
MIN_FILE_TOKENS = 2_000
# Reading files at head is I/O bound; a few at a time keeps GitHub's concurrency limit far away.
HEAD_TEXT_CONCURRENCY = 8


@dataclass(frozen=True)
class ChangeRequest:
    """What to review: the files whose changes the model sees, and the diff where comments may go.

    For a full review both are the pull request's files; for an incremental review ``files`` holds only
    what changed since the last reviewed head, while comments still go on the pull request's diff.
    ``code`` indexes the repository at head (a snapshot) for related code; ``notes`` go to the coverage
    section (e.g. why there is no snapshot).
    """

    pr: PullRequest
    files: Sequence[ChangedFile]
    anchor_files: Sequence[ChangedFile]
    head_text: HeadText
    code: CodeIndex | None = None
    notes: tuple[str, ...] = ()
    # Where analyzers read the files at head; None: a temporary copy of the changed files made through
    # ``head_text`` (which reads the snapshot when there is one), so tools only ever see plain files.
    head_tree: HeadTree | None = None


@dataclass
class Analysis:
    """What a review found, and what it covered and cost."""

    selection: Selection
    coverage: Coverage
    placements: list[Placement]
    summaries: list[str]
    llm_used: bool
    models: set[str] = field(default_factory=set)
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    # One line per file from the model (path → description), for the pull request's walkthrough.
    file_notes: dict[str, str] = field(default_factory=dict)
    analyzers: AnalyzerResult = field(default_factory=AnalyzerResult)
    # Agent mode: tool calls and rounds the review's calls made (0 when it was off or fell back).
    tool_calls: int = 0
    tool_rounds: int = 0
    # Findings of the model that verification dropped, with the verifier's reasons.
    dropped: list[DroppedFinding] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The model's summary (one per call, joined; empty without an LLM), then the analyzers' notes."""
        parts = [part.strip() for part in self.summaries if part.strip()]
        return "\n\n".join([*parts, *self.analyzers.notes])


@dataclass(frozen=True)
class AnalysisOptions:
    """How much to send and how many LLM calls to run at once."""

    limits: ContextLimits = field(default_factory=ContextLimits)
    # The whole prompt of one call (system prompt, PR text, instructions and files) stays within this.
    input_tokens_per_call: int = 16_000
    llm_concurrency: int = 4
    bot_name: str = "argoai"
    # Shared by every review of the process: its bound on analyzer processes is process-wide.
    analyzers: AnalyzerRunner = field(default_factory=AnalyzerRunner)
    # A directory of prompt templates replacing the built-in ones of the same name (``argoai eval`` A/B).
    prompts: Path | None = None


def within_configured_llm(policy: PolicySpec, configured_provider: str | None) -> tuple[PolicySpec, str]:
    """``policy`` without a provider/model choice this installation cannot honour, and a note saying so.

    A policy may pick the model; it cannot conjure a provider whose credentials are not configured, so a
    policy naming another provider falls back to the configured one, visibly.
    """
    if policy.provider is None or policy.provider == configured_provider:
        return policy, ""
    note = (
        f"The review policy asks for {policy.provider} ({policy.model or 'default model'}), which this "
        f"installation is not configured for; the configured {configured_provider or 'LLM'} reviewed it."
    )
    return policy.model_copy(update={"provider": None, "model": None}), note


async def _head_texts(paths: Sequence[str], head_text: HeadText) -> dict[str, str | None]:
    gate = asyncio.Semaphore(HEAD_TEXT_CONCURRENCY)

    async def one(path: str) -> str | None:
        async with gate:
            return await head_text(path)

    texts = await asyncio.gather(*(one(path) for path in paths))
    return dict(zip(paths, texts, strict=True))


def _diffs(files: Sequence[ChangedFile]) -> list[FileDiff]:
    return [from_changed_file(changed) for changed in files]


@dataclass(frozen=True)
class _Call:
    """One LLM call of a review: its prompt, and in agent mode the tools and the related-code fallback."""

    prompt: str
    tools: SnapshotToolbox | None = None
    fallback_system: str = ""
    fallback_prompt: str = ""


async def _ask_model(
    model: ReviewModel,
    calls: Sequence[_Call],
    system: str,
    policy: PolicySpec,
    concurrency: int,
    heartbeat: Heartbeat,
    progress: Progress,
    fell_back: list[str],
) -> list[ModelReply | PermanentError]:
    """Every call's reply, or the PermanentError that ended it (the other calls still count).

    A retryable failure of one call stops the others and is raised: the whole job is retried later. An agent
    call the server cannot take (no tool calling) is asked again as its related-code prompt; ``fell_back``
    collects why.
    """
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(call: _Call) -> ModelReply | PermanentError:
        nonlocal done
        try:
            async with gate:
                if call.tools is None:
                    reply = await model.review(system=system, prompt=call.prompt, model=policy.model)
                else:
                    try:
                        reply = await model.review(
                            system=system, prompt=call.prompt, model=policy.model, tools=call.tools
                        )
                    except ToolsUnsupportedError as exc:
                        AGENT_FALLBACKS.inc()
                        fell_back.append(str(exc))
                        reply = await model.review(
                            system=call.fallback_system, prompt=call.fallback_prompt, model=policy.model
                        )
        except PermanentError as exc:
            log.warning("an LLM call failed for good; the other calls' findings still count", error=str(exc))
            return exc
        done += 1
        progress(f"LLM call {done}/{len(calls)} done")
        # A long review keeps its job alive: each finished call is proof of progress.
        await heartbeat()
        return reply

    tasks = [asyncio.create_task(one(call)) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _toolbox(request: ChangeRequest, policy: PolicySpec) -> SnapshotToolbox | None:
    """The review's tools when agent mode is on and the head is a snapshot (one budget per review)."""
    agent = policy.agent
    if not agent.enabled or request.code is None or not isinstance(request.code.tree, Snapshot):
        return None
    limits = AgentLimits(
        max_rounds=agent.max_rounds,
        max_tool_calls=agent.max_tool_calls,
        max_tokens=agent.max_tokens,
        max_seconds=float(agent.max_seconds),
    )
    return SnapshotToolbox(SnapshotTools(request.code.tree, request.code), AgentBudget(limits))


async def analyze(
    request: ChangeRequest,
    policy: PolicySpec,
    model: ReviewModel | None,
    counter: TokenCounter,
    options: AnalysisOptions,
    *,
    heartbeat: Heartbeat,
    progress: Progress = lambda _: None,
) -> Analysis:
    """Review ``request`` under ``policy``: the analyzers always, the LLM when one is configured."""
    selection = select_files(request.files, policy)
    diffs = _diffs(selection.reviewed)
    progress(f"{len(diffs)} files to review, {len(selection.skipped)} skipped")
    texts = await _head_texts([diff.path for diff in diffs], request.head_text)
    wanted = _related_limits(policy)
    with_related = model is not None and request.code is not None and wanted.enabled
    reserve = wanted.tokens_per_call if with_related else 0
    limits = _limits(request.pr, policy, counter, options, reserve=reserve)
    plan = build_batches(diffs, texts, counter=counter, limits=limits)
    # Analyzers run while the model thinks: they add nothing to a review's time unless they take longer.
    analyzing = asyncio.create_task(_analyzers(request, diffs, texts, policy, options))
    try:
        return await _review(
            request,
            policy,
            model,
            counter,
            options,
            selection,
            diffs,
            texts,
            plan,
            analyzing,
            heartbeat,
            progress,
        )
    finally:
        await _cancel(analyzing)


async def _review(
    request: ChangeRequest,
    policy: PolicySpec,
    model: ReviewModel | None,
    counter: TokenCounter,
    options: AnalysisOptions,
    selection: Selection,
    diffs: list[FileDiff],
    texts: Mapping[str, str | None],
    plan: ContextPlan,
    analyzing: asyncio.Task[AnalyzerResult],
    heartbeat: Heartbeat,
    progress: Progress,
) -> Analysis:
    """The rest of :func:`analyze`: related code, LLM calls, then analyzer findings merged and placed."""
    wanted = _related_limits(policy)
    with_related = model is not None and request.code is not None and wanted.enabled
    findings: list[Finding] = []
    related = RelatedPlan(texts=["" for _ in plan.batches])
    if with_related and request.code is not None and plan.batches:
        progress("looking up related code")
        with INDEX_SECONDS.time():
            related = await asyncio.to_thread(
                find_related, request.code, plan.batches, by_path(diffs), counter, wanted
            )
        for snippet in related.snippets:
            RELATED_SNIPPETS.labels(kind=snippet.kind).inc()
    coverage = replace(
        plan.coverage.with_selection(selection.skipped, llm_used=model is not None),
        related_snippets=len(related.snippets),
        related_files=related.files,
        notes=request.notes,
    )
    analysis = Analysis(
        selection=selection, coverage=coverage, placements=[], summaries=[], llm_used=model is not None
    )
    if model is not None and plan.batches:
        system = render_system(prompts=options.prompts)
        prompts = [
            render_batch_prompt(
                pr=request.pr,
                policy=policy,
                batch=batch,
                calls=len(plan.batches),
                related=related.texts[index],
                prompts=options.prompts,
            )
            for index, batch in enumerate(plan.batches)
        ]
        tools = _toolbox(request, policy)
        calls = [_Call(prompt) for prompt in prompts]
        if tools is not None:
            agent_system = render_system(prompts=options.prompts, agent=True)
            calls = [
                _Call(
                    render_batch_prompt(
                        pr=request.pr,
                        policy=policy,
                        batch=batch,
                        calls=len(plan.batches),
                        prompts=options.prompts,
                    ),
                    tools=tools,
                    fallback_system=system,
                    fallback_prompt=prompts[index],
                )
                for index, batch in enumerate(plan.batches)
            ]
            system = agent_system
        fell_back: list[str] = []
        progress(f"asking the LLM: {len(calls)} call(s){' (agent mode)' if tools else ''}")
        with tracer.start_as_current_span("llm.review", attributes={"llm.calls": len(calls)}):
            replies = await _ask_model(
                model, calls, system, policy, options.llm_concurrency, heartbeat, progress, fell_back
            )
        if tools is not None:
            analysis.tool_calls = tools.budget.tool_calls
            analysis.tool_rounds = tools.budget.rounds
            analysis.coverage = _agent_coverage(analysis.coverage, tools, fell_back)
        failed = [
            (batch, out)
            for batch, out in zip(plan.batches, replies, strict=True)
            if isinstance(out, PermanentError)
        ]
        if len(failed) == len(replies):
            raise failed[0][1]
        if failed:
            analysis.coverage = _without_failed(analysis.coverage, plan.batches, failed)
        for reply in replies:
            if isinstance(reply, PermanentError):
                continue
            analysis.summaries.append(reply.output.summary)
            analysis.file_notes.update((note.path, note.description) for note in reply.output.files)
            analysis.models.add(reply.model)
            analysis.input_tokens += reply.input_tokens
            analysis.output_tokens += reply.output_tokens
            analysis.calls += 1
        answered = [reply for reply in replies if not isinstance(reply, PermanentError)]
        said = tuple(dict.fromkeys(reply.note for reply in answered if reply.note))
        if said:
            analysis.coverage = replace(analysis.coverage, notes=(*analysis.coverage.notes, *said))
        findings = [f for reply in answered for f in reply.output.findings]
    analysis.analyzers = await analyzing
    checked = analysis.analyzers.checked
    analysis.coverage = replace(analysis.coverage, analyzers=tuple(name for name in checked if checked[name]))
    builtin = analysis.analyzers.findings
    findings = merge_findings(builtin, findings)
    same_files = request.anchor_files is request.files
    anchor_diffs: Mapping[str, FileDiff] = by_path(diffs if same_files else _diffs(request.anchor_files))
    # Analyzer findings have exact line numbers; the model's are located by the code they quote.
    exact = {id(finding) for finding in builtin}
    placements = [
        anchor_at_lines(f, anchor_diffs) if id(f) in exact else anchor(f, anchor_diffs) for f in findings
    ]
    if model is not None and policy.verification.mode != "off" and isinstance(model, StructuredModel):
        placements = await _verified(
            placements, exact, model, analysis, plan, related, texts, policy, options
        )
    analysis.placements = check_suggestions(placements, texts)
    return analysis


async def _verified(
    placements: list[Placement],
    exact: set[int],
    model: StructuredModel,
    analysis: Analysis,
    plan: ContextPlan,
    related: RelatedPlan,
    texts: Mapping[str, str | None],
    policy: PolicySpec,
    options: AnalysisOptions,
) -> list[Placement]:
    """``placements`` without the model's findings verification dropped (analyzer findings untouched)."""
    candidates = [p for p in placements if id(p.finding) not in exact]
    if not candidates:
        return placements
    by_file = {path: related.texts[index] for index, batch in enumerate(plan.batches) for path in batch.paths}
    result = await verify(
        model,
        candidates,
        texts=texts,
        related=by_file,
        policy=policy,
        concurrency=options.llm_concurrency,
    )
    analysis.input_tokens += result.input_tokens
    analysis.output_tokens += result.output_tokens
    analysis.models |= result.models
    analysis.dropped = result.dropped
    dropped = {id(d.placement) for d in result.dropped}
    if result.dropped:
        analysis.coverage = replace(
            analysis.coverage,
            dropped=tuple(
                (d.placement.path, _line_of(d.placement), d.placement.finding.title, d.reason)
                for d in result.dropped
            ),
        )
    return [p for p in placements if id(p) not in dropped]


def _line_of(placement: Placement) -> int | None:
    return placement.start if isinstance(placement, Anchored) else None


async def _analyzers(
    request: ChangeRequest,
    diffs: Sequence[FileDiff],
    texts: Mapping[str, str | None],
    policy: PolicySpec,
    options: AnalysisOptions,
) -> AnalyzerResult:
    """The analyzers' findings on the changed lines, reading a snapshot or a temporary copy of the files."""
    tree = request.head_tree or TempCopy(request.head_text, texts)
    return await options.analyzers.run(diffs, texts, policy.analyzers, tree)


async def _cancel(task: asyncio.Task[AnalyzerResult]) -> None:
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _without_failed(
    coverage: Coverage, batches: Sequence[Batch], failed: Sequence[tuple[Batch, PermanentError]]
) -> Coverage:
    """The coverage once the files of failed calls are known not to have been reviewed by the model."""
    still_sent = {path for batch in batches if batch not in {b for b, _ in failed} for path in batch.paths}
    for batch, error in failed:
        lines: dict[str, int] = {}
        for block in batch.files:
            lines[block.path] = lines.get(block.path, 0) + block.changed_lines
        # The error says what went wrong (invalid output after the re-asks, context too long), not the code.
        reason = f"not reviewed by the model: {str(error)[:200]}"
        coverage = coverage.without_calls(lines, still_sent, reason)
    return coverage


def _agent_coverage(coverage: Coverage, tools: SnapshotToolbox, fell_back: Sequence[str]) -> Coverage:
    """The coverage of an agent-mode review: what the tools read, or why the related-code prompt was used."""
    budget = tools.budget
    notes = list(coverage.notes)
    if fell_back:
        notes.append(
            f"Agent mode is on, but {fell_back[0]}: the related-code prompt was used instead "
            f"({len(fell_back)} call(s))."
        )
    if budget.tool_calls or budget.refused_calls:
        stopped = f"; stopped: {budget.closed_because}" if budget.closed_because else ""
        made = f"{budget.tool_calls} tool call(s) in {budget.rounds} round(s)"
        notes.append(f"Agent mode: the model made {made}{stopped}.")
    if not fell_back:
        # The related-code section was not sent: the model read what it needed through the tools.
        coverage = replace(coverage, related_snippets=0, related_files=0)
    return replace(coverage, notes=tuple(notes))


def _related_limits(policy: PolicySpec) -> RelatedLimits:
    wanted = policy.related_context
    return RelatedLimits(
        enabled=wanted.enabled and wanted.max_tokens_per_call > 0 and wanted.max_tokens_per_review > 0,
        tokens_per_call=wanted.max_tokens_per_call,
        tokens_per_review=wanted.max_tokens_per_review,
    )


def _limits(
    pr: PullRequest, policy: PolicySpec, counter: TokenCounter, options: AnalysisOptions, *, reserve: int = 0
) -> ContextLimits:
    """The files' share of each call: the call's budget (``ARGOAI_REVIEWER_MAX_INPUT_TOKENS_PER_CALL``) less
    the system prompt, PR text, instructions and the ``reserve`` kept for related code."""
    overhead = prompt_overhead(
        counter, pr=pr, policy=policy, max_findings=DEFAULT_MAX_FINDINGS, prompts=options.prompts
    )
    room = max(MIN_FILE_TOKENS, options.input_tokens_per_call - overhead - reserve)
    return replace(options.limits, file_tokens=room)
