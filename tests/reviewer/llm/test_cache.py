"""The LLM response cache around a model: identical questions answered once per installation, for free."""

from __future__ import annotations

from argoai_core.errors import UnavailableError
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import LLMSettings
from argoai_reviewer.analysis.model import ModelReply
from argoai_reviewer.llm.cache import ReplyCache

SETTINGS = LLMSettings(provider="openai", model="gpt-4o-mini", base_url="http://llm.local/v1")


class CountingModel:
    """A model that answers every question with a summary naming it, counting the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    async def review(self, *, system: str, prompt: str, model: str | None = None) -> ModelReply:
        """Answer and count."""
        self.calls.append((system, prompt, model))
        output = ReviewOutput(summary=f"about {prompt}", findings=[])
        return ModelReply(output=output, model=model or "gpt-4o-mini", input_tokens=100, output_tokens=10)


class MemoryStore:
    """An in-memory reply store (``down``: every operation fails as a Redis outage would)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[str, float]] = {}
        self.down = False

    async def get(self, scope: str, key: str) -> str | None:
        """The entry, if any."""
        if self.down:
            raise UnavailableError("store down")
        entry = self.entries.get((scope, key))
        return entry[0] if entry else None

    async def put(self, scope: str, key: str, value: str, ttl_seconds: float) -> None:
        """Keep the entry."""
        if self.down:
            raise UnavailableError("store down")
        self.entries[(scope, key)] = (value, ttl_seconds)


async def test_a_repeated_question_is_answered_from_the_cache_at_no_token_cost() -> None:
    """The same system prompt, prompt and model in one installation: asked once; the second answer is the
    same output and reports 0 tokens; the TTL given is the store's."""
    inner, store = CountingModel(), MemoryStore()
    model = ReplyCache(store, SETTINGS).around(inner, scope="github.com/77", ttl_seconds=3600)
    first = await model.review(system="sys", prompt="diff")
    second = await model.review(system="sys", prompt="diff")
    assert len(inner.calls) == 1
    assert second.output == first.output
    assert (first.input_tokens, second.input_tokens, second.output_tokens) == (100, 0, 0)
    assert [ttl for _, ttl in store.entries.values()] == [3600]


async def test_anything_that_changes_the_answer_is_a_new_question() -> None:
    """Another prompt, system prompt, model, base URL or installation asks the model again."""
    inner, store = CountingModel(), MemoryStore()
    cache = ReplyCache(store, SETTINGS)
    other_url = ReplyCache(store, SETTINGS.model_copy(update={"base_url": "http://other/v1"}))
    await cache.around(inner, scope="github.com/77", ttl_seconds=60).review(system="sys", prompt="diff")
    await cache.around(inner, scope="github.com/77", ttl_seconds=60).review(system="sys", prompt="diff 2")
    await cache.around(inner, scope="github.com/77", ttl_seconds=60).review(system="sys 2", prompt="diff")
    await cache.around(inner, scope="github.com/77", ttl_seconds=60).review(
        system="sys", prompt="diff", model="gpt-5"
    )
    await other_url.around(inner, scope="github.com/77", ttl_seconds=60).review(system="sys", prompt="diff")
    await cache.around(inner, scope="github.com/78", ttl_seconds=60).review(system="sys", prompt="diff")
    assert len(inner.calls) == 6


async def test_a_failing_store_never_fails_the_review_and_ttl_zero_turns_the_cache_off() -> None:
    """With the store down every question is asked (and answered); a TTL of 0 leaves the model unwrapped."""
    inner, store = CountingModel(), MemoryStore()
    store.down = True
    model = ReplyCache(store, SETTINGS).around(inner, scope="github.com/77", ttl_seconds=60)
    assert (await model.review(system="s", prompt="p")).input_tokens == 100
    assert (await model.review(system="s", prompt="p")).input_tokens == 100
    assert len(inner.calls) == 2
    assert ReplyCache(MemoryStore(), SETTINGS).around(inner, scope="x", ttl_seconds=0) is inner
