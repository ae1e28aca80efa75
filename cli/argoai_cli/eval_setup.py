"""Build what ``argoai eval`` needs from the environment and its flags, and run the dataset.

Bad input (no dataset directory, a malformed ``case.yaml``, a ref that is not a commit, a bad ``--variant``)
is one line on stderr and exit status 2; a review that fails for another reason is exit status 3.
"""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from pathlib import Path

import typer

from argoai_cli.review_setup import analysis_options
from argoai_cli.review_setup import progress_line as progress
from argoai_core.errors import ArgoAIError, ConfigError, InvalidInputError
from argoai_core.models.policy import PolicySpec
from argoai_core.policy_set import load_policy_file
from argoai_core.sanitize import sanitize_terminal as clean
from argoai_core.settings import CommonSettings, LLMSettings, load
from argoai_reviewer.analysis.review import within_configured_llm
from argoai_reviewer.analysis.tokens import counter_for
from argoai_reviewer.evaluation.dataset import load_dataset
from argoai_reviewer.evaluation.judge import LLMJudge
from argoai_reviewer.evaluation.runner import EvalReport, EvalSetup, Variant, run_eval
from argoai_reviewer.evaluation.settings import EvalSettings
from argoai_reviewer.settings import ReviewerSettings
from argoai_reviewer.wiring import build_model, snapshot_limits

_PARTS = ("policy", "model", "prompts")


def _policy(file: Path | None) -> PolicySpec:
    if file is None:
        return PolicySpec()
    # Cases have no GitHub owner: policies scoped to "local/<name>" or to every repository apply.
    return load_policy_file(file).resolve("local", "eval")


def parse_variant(text: str, provider: str | None) -> Variant:
    """``NAME:policy=FILE,model=MODEL,prompts=DIR`` (parts optional) as a :class:`Variant`."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise typer.BadParameter(f"{text!r}: a variant starts with its name (NAME:…)", param_hint="--variant")
    parts: dict[str, str] = {}
    for item in filter(None, (piece.strip() for piece in rest.split(","))):
        key, equals, value = item.partition("=")
        if not equals or key not in _PARTS or not value:
            raise typer.BadParameter(
                f"{text!r}: {item!r} is not one of policy=FILE, model=MODEL, prompts=DIR",
                param_hint="--variant",
            )
        parts[key] = value
    policy_file = Path(parts["policy"]) if "policy" in parts else None
    prompts = Path(parts["prompts"]) if "prompts" in parts else None
    if policy_file is not None and not policy_file.is_file():
        raise typer.BadParameter(
            f"{text!r}: policy file {policy_file} does not exist", param_hint="--variant"
        )
    if prompts is not None and not prompts.is_dir():
        raise typer.BadParameter(
            f"{text!r}: prompt directory {prompts} does not exist", param_hint="--variant"
        )
    policy, note = within_configured_llm(_policy(policy_file), provider)
    if note:
        progress(f"variant {name}: {note}")
    return Variant(
        name=name, policy=policy, model=parts.get("model"), prompts=prompts, policy_file=policy_file
    )


async def run_dataset(dataset: Path, variants: list[str], cases: list[str], line_window: int) -> EvalReport:
    """Run ``dataset`` under ``variants`` (none: one from the environment); exits 2 on bad input."""
    common = load(CommonSettings)
    llm = load(LLMSettings)
    reviewer = load(ReviewerSettings)
    settings = load(EvalSettings)
    if variants:
        chosen = [parse_variant(text, llm.provider) for text in variants]
        if len({v.name for v in chosen}) != len(chosen):
            raise typer.BadParameter("two variants have the same name", param_hint="--variant")
    else:
        policy, note = within_configured_llm(_policy(common.policy_file), llm.provider)
        if note:
            progress(note)
        chosen = [Variant(name="default", policy=policy, policy_file=common.policy_file)]
    if not llm.configured:
        progress(
            "no LLM is configured (ARGOAI_LLM_PROVIDER, ARGOAI_LLM_MODEL…): only the built-in checks run"
        )
    options = analysis_options(common, reviewer)
    try:
        loaded = load_dataset(dataset, cases)
        async with AsyncExitStack() as stack:
            model = judge = None
            if llm.configured:
                client = build_model(llm)
                stack.push_async_callback(client.aclose)
                model = client
                if settings.judge:
                    judge = LLMJudge(client, settings.judge_model)
            setup = EvalSetup(
                model=model,
                counter_for=lambda name: counter_for(llm.provider, name or llm.model),
                options=options,
                cost=llm.estimate_cost,
                snapshot=snapshot_limits(reviewer),
                judge=judge,
                line_window=line_window,
            )
            report = await run_eval(dataset, loaded, chosen, setup, progress)
            if judge is not None:
                report = report.model_copy(
                    update={
                        "judge_model": settings.judge_model or llm.model,
                        "judge_calls": judge.calls,
                        "judge_input_tokens": judge.input_tokens,
                        "judge_output_tokens": judge.output_tokens,
                        "judge_cost_usd": llm.estimate_cost(judge.input_tokens, judge.output_tokens),
                    }
                )
            return report
    except ConfigError:
        raise
    except InvalidInputError as exc:
        typer.echo(f"argoai eval: {clean(str(exc))}", err=True)
        raise typer.Exit(2) from None
    except ArgoAIError as exc:
        typer.echo(f"argoai eval: a review failed: {clean(str(exc))}", err=True)
        sys.exit(3)
