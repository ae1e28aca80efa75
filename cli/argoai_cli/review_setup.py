"""Build what ``argoai review`` needs from the environment: policy, LLM (if configured), token counter."""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import typer

from argoai_core.errors import ArgoAIError, ConfigError, InvalidInputError
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import load_policy_file
from argoai_core.sanitize import sanitize_terminal as clean
from argoai_core.settings import CommonSettings, LLMSettings, load
from argoai_reviewer.analysis.analyzers import AnalyzerLimits, AnalyzerRunner
from argoai_reviewer.analysis.review import AnalysisOptions, within_configured_llm
from argoai_reviewer.analysis.tokens import counter_for
from argoai_reviewer.local.review import LocalReview, review_local
from argoai_reviewer.settings import ReviewerSettings
from argoai_reviewer.wiring import build_model, snapshot_limits


@dataclass(frozen=True)
class LocalResult:
    """A local review and how it was made."""

    review: LocalReview
    policy: PolicySpec
    llm: str | None  # "provider/model", or None when only the built-in checks ran


def progress_line(message: str) -> None:
    """One line of progress on stderr (sanitised; grey on a terminal)."""
    # Progress goes to stderr: stdout carries the report alone.
    message = clean(message)
    if sys.stderr.isatty():
        typer.secho(f"… {message}", err=True, fg=typer.colors.BRIGHT_BLACK)
    else:
        typer.echo(f"... {message}", err=True)


def _policy(common: CommonSettings, repo: Path) -> PolicySpec:
    if common.policy_file is None:
        return PolicySpec()
    # A local repository has no GitHub owner: policies scoped to "local/<folder>" or to every repo apply.
    return load_policy_file(common.policy_file).resolve("local", repo.resolve().name)


def analysis_options(common: CommonSettings, reviewer: ReviewerSettings) -> AnalysisOptions:
    """How a local review runs (shared by ``argoai review`` and ``argoai eval``, so both review alike)."""
    return AnalysisOptions(
        input_tokens_per_call=reviewer.max_input_tokens_per_call,
        llm_concurrency=reviewer.llm_concurrency,
        bot_name=common.bot_name,
        analyzers=AnalyzerRunner(AnalyzerLimits.from_settings(reviewer)),
    )


async def run_local_review(repo: Path, base: str, head: str) -> LocalResult:
    """Review ``base...head`` in ``repo``; exits with a clear message on a bad range or failed LLM."""
    common = load(CommonSettings)
    llm = load(LLMSettings)
    reviewer = load(ReviewerSettings)
    policy, provider_note = within_configured_llm(_policy(common, repo), llm.provider)
    if provider_note and llm.configured:
        progress_line(provider_note)
    options = analysis_options(common, reviewer)
    provider, model_name = policy.provider or llm.provider, policy.model or llm.model
    async with AsyncExitStack() as stack:
        model = None
        if llm.configured:
            client = build_model(llm)
            stack.push_async_callback(client.aclose)
            model = client
        try:
            review = await review_local(
                repo,
                base,
                head,
                policy=policy,
                model=model,
                counter=counter_for(provider, model_name),
                options=options,
                progress=progress_line,
                snapshot=snapshot_limits(reviewer),
            )
        except ConfigError:
            raise
        except InvalidInputError as exc:
            typer.echo(f"argoai review: {clean(str(exc))}", err=True)
            raise typer.Exit(2) from None
        except ArgoAIError as exc:
            typer.echo(f"argoai review: the review failed: {clean(str(exc))}", err=True)
            raise typer.Exit(3) from None
    return LocalResult(review=review, policy=policy, llm=f"{provider}/{model_name}" if model else None)
