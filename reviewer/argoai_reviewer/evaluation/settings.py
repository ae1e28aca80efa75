"""Settings of ``argoai eval`` (``ARGOAI_EVAL_*``), read once by the command and passed down."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class EvalSettings(BaseSettings):
    """The judge of golden comments without a place."""

    model_config = SettingsConfigDict(
        env_prefix="ARGOAI_EVAL_", extra="ignore", frozen=True, validate_default=True
    )

    # The judge's model, on the configured provider and key (ARGOAI_LLM_*); unset: ARGOAI_LLM_MODEL. A model
    # other than the reviewing one keeps a model from grading its own findings.
    judge_model: str | None = None
    # Off: golden comments without a place are not judged and count as not found.
    judge: bool = True
