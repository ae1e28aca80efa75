"""The LLM response cache: an identical question is never paid for twice.

A :class:`CachedReviewModel` wraps any :class:`~argoai_reviewer.analysis.model.ReviewModel` (it implements
the same Protocol, outside the adapters' retry and validation loop) and keeps each validated answer in a
:class:`ReplyStore` (Redis in production), keyed by a hash of everything that decides the answer:

* the provider, the base URL and the model asked for (two deployments of one model are different models);
* the exact system and user prompts;
* :func:`schema_version`, a hash of the JSON schema the model answers with (a review, a verification
  verdict…; a changed schema is a new key).

Calls with tools (agent mode) are passed through uncached: their answer also depends on what the tools
read.

Keys are scoped to the installation (GitHub host and installation id): an answer about one customer's code is
never served to another, even for byte-identical prompts. A hit costs no tokens and is reported as
``input_tokens = output_tokens = 0`` (so the daily budget and the review history do not count it); the tokens
it saved go to ``argoai_llm_cache_saved_tokens_total``.

So a ``full review`` of an unchanged head, or the retry of a review whose pod died just before posting,
asks the provider nothing. The cache is best effort: a store that fails is a miss (logged, counted), never a
failed review. The policy's ``llmCacheTtlHours`` sets how long answers live (0 turns the cache off).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from argoai_core.errors import UnavailableError
from argoai_core.logs import get_logger
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import LLMSettings
from argoai_reviewer.analysis.model import ModelReply, Reply, ReviewModel, StructuredModel, Toolbox
from argoai_reviewer.llm.schema import review_schema
from argoai_reviewer.metrics import LLM_CACHE, LLM_CACHE_SAVED_TOKENS

log = get_logger(__name__)
T = TypeVar("T", bound=BaseModel)


@cache
def schema_version(output: type[BaseModel] = ReviewOutput) -> str:
    """A short hash of an answer type's JSON schema: part of every key, so a schema change starts afresh."""
    schema = review_schema() if output is ReviewOutput else output.model_json_schema()
    text = json.dumps([output.__name__, schema], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ReplyStore(Protocol):
    """Where cached answers live; owned here, implemented by ``adapters.caching.llm_replies``."""

    async def get(self, scope: str, key: str) -> str | None:
        """The entry stored under ``key`` for ``scope``, or None."""
        ...

    async def put(self, scope: str, key: str, value: str, ttl_seconds: float) -> None:
        """Store ``value`` under ``key`` for ``scope`` for ``ttl_seconds``."""
        ...


class CachedReply(BaseModel):
    """One cached answer as stored (versioned: an entry of another version is a miss)."""

    version: Literal[2] = 2
    output: dict[str, Any]
    model: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ReplyKey:
    """What identifies an answer, apart from the prompts."""

    provider: str
    base_url: str
    model: str

    def digest(self, system: str, prompt: str, output: type[BaseModel] = ReviewOutput) -> str:
        """The cache key: a SHA-256 of the provider, base URL, model, answer schema and both prompts."""
        parts = [self.provider, self.base_url, self.model, schema_version(output), system, prompt]
        text = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


class CachedReviewModel:
    """A :class:`ReviewModel` answering identical questions from ``store`` for ``ttl_seconds``.

    Calls with ``tools`` (agent mode) are not cached: their answer also depends on what the tools read.
    """

    def __init__(
        self,
        inner: ReviewModel,
        store: ReplyStore,
        *,
        settings: LLMSettings,
        scope: str,
        ttl_seconds: float,
    ) -> None:
        self._inner = inner
        self._store = store
        self._provider = settings.provider or ""
        self._base_url = settings.base_url or ""
        self._default_model = settings.model or ""
        self._scope = scope
        self._ttl = ttl_seconds

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: Toolbox | None = None
    ) -> ModelReply:
        """The cached answer to this exact question, else the wrapped model's (then stored)."""
        if tools is not None:
            return await self._inner.review(system=system, prompt=prompt, model=model, tools=tools)

        async def ask() -> ModelReply:
            return await self._inner.review(system=system, prompt=prompt, model=model)

        return await self._cached(system, prompt, model, ReviewOutput, ask)

    async def _cached(
        self,
        system: str,
        prompt: str,
        model: str | None,
        output: type[T],
        call: Callable[[], Awaitable[Reply[T]]],
    ) -> Reply[T]:
        chosen = model or self._default_model
        key = ReplyKey(self._provider, self._base_url, chosen).digest(system, prompt, output)
        cached = await self._lookup(key, chosen, output)
        if cached is not None:
            return cached
        reply = await call()
        LLM_CACHE.labels(model=chosen, result="miss").inc()
        entry = CachedReply(
            output=reply.output.model_dump(mode="json"),
            model=reply.model,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
        )
        try:
            await self._store.put(self._scope, key, entry.model_dump_json(), self._ttl)
        except UnavailableError as exc:
            LLM_CACHE.labels(model=chosen, result="error").inc()
            log.warning("could not store an LLM answer in the cache", error=str(exc))
        return reply

    async def _lookup(self, key: str, chosen: str, output: type[T]) -> Reply[T] | None:
        try:
            text = await self._store.get(self._scope, key)
        except UnavailableError as exc:
            LLM_CACHE.labels(model=chosen, result="error").inc()
            log.warning("LLM cache unavailable: asking the model", error=str(exc))
            return None
        if text is None:
            return None
        try:
            entry = CachedReply.model_validate_json(text)
            value = output.model_validate(entry.output)
        except ValidationError:
            # Written by another version of ArgoAI: ask again (the new answer replaces it).
            return None
        LLM_CACHE.labels(model=chosen, result="hit").inc()
        LLM_CACHE_SAVED_TOKENS.labels(model=chosen, direction="input").inc(entry.input_tokens)
        LLM_CACHE_SAVED_TOKENS.labels(model=chosen, direction="output").inc(entry.output_tokens)
        return Reply(output=value, model=entry.model, input_tokens=0, output_tokens=0)


class CachedStructuredModel(CachedReviewModel):
    """:class:`CachedReviewModel` around a model that also answers any output type (``ask``): verification
    verdicts and other answers are cached the same way, keyed by their output type's schema."""

    def __init__(self, inner: _Both, store: ReplyStore, **options: Any) -> None:
        super().__init__(inner, store, **options)
        self._structured = inner

    async def ask(
        self,
        *,
        system: str,
        prompt: str,
        output: type[T],
        model: str | None = None,
        tools: Toolbox | None = None,
    ) -> Reply[T]:
        """The cached answer of type ``output`` to this exact question, else the wrapped model's."""
        if tools is not None:
            return await self._structured.ask(
                system=system, prompt=prompt, output=output, model=model, tools=tools
            )

        async def ask() -> Reply[T]:
            return await self._structured.ask(system=system, prompt=prompt, output=output, model=model)

        return await self._cached(system, prompt, model, output, ask)


class _Both(ReviewModel, StructuredModel, Protocol):
    """A model that reviews and answers any structured output."""


@dataclass(frozen=True)
class ReplyCache:
    """The process's LLM cache (the conversation's ``LLMCache``): wraps the model per installation."""

    store: ReplyStore
    settings: LLMSettings

    def around(self, model: ReviewModel, *, scope: str, ttl_seconds: float) -> ReviewModel:
        """``model`` answering from the cache of ``scope``; ``model`` itself when ``ttl_seconds`` is 0."""
        if ttl_seconds <= 0:
            return model
        options: dict[str, Any] = {"settings": self.settings, "scope": scope, "ttl_seconds": ttl_seconds}
        if isinstance(model, StructuredModel):
            return CachedStructuredModel(cast(_Both, model), self.store, **options)
        return CachedReviewModel(model, self.store, **options)
