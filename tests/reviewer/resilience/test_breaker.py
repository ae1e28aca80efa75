"""Circuit breakers against a real Redis: opening across pods, fast failure, probes, closing, tolerance, the
fallback model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from argoai_core.errors import CircuitOpenError, ConfigError, PermanentError, UnavailableError
from argoai_core.models.findings import ReviewOutput
from argoai_core.settings import FallbackLLMSettings, RedisSettings, load
from argoai_reviewer.adapters.circuit_redis import RedisBreakerStore
from argoai_reviewer.adapters.redis_state import RedisConnection
from argoai_reviewer.analysis.model import ModelReply
from argoai_reviewer.llm.circuit import CircuitModel, FallbackModel
from argoai_reviewer.resilience.breaker import BreakerOptions, Breakers

LLM = "llm:openai:http://llm.test/v1"


class Clock:
    """A wall clock the test moves by hand (probe times and the tolerance are Unix times)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Model:
    """A ReviewModel answering with ``answers`` in turn (an exception is raised), counting its calls."""

    name: str = "primary-model"
    answers: list[BaseException | None] = field(default_factory=list)
    calls: int = 0

    async def review(
        self, *, system: str, prompt: str, model: str | None = None, tools: object = None
    ) -> ModelReply:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return ModelReply(output=ReviewOutput(summary="ok", findings=[]), model=self.name, input_tokens=1,
                          output_tokens=1)  # fmt: skip


@pytest.fixture
async def redis(redis_settings: RedisSettings) -> AsyncIterator[RedisConnection]:
    """A connection to the real Redis with this test's key prefix."""
    connection = RedisConnection.from_settings(redis_settings)
    yield connection
    await connection.aclose()


def pods(redis: RedisConnection, clock: Clock, n: int = 2, **options: float) -> list[Breakers]:
    """``n`` processes' breakers on the same Redis (what separate pods would have)."""
    values: dict[str, float] = {
        "failures": 3,
        "window": 60.0,
        "probe": 10.0,
        "poll": 0.0,
        "tolerance": 3600.0,
    }
    values.update(options)
    opts = BreakerOptions(**values)  # type: ignore[arg-type]
    return [Breakers(RedisBreakerStore(redis), opts, clock) for _ in range(n)]


def down() -> UnavailableError:
    return UnavailableError("LLM answered 503")


async def ask(model: CircuitModel | FallbackModel) -> ModelReply:
    return await model.review(system="s", prompt="p")


async def test_failures_across_pods_open_the_breaker_and_calls_then_fail_fast(redis: RedisConnection) -> None:
    """Three failed calls split over two pods open the shared breaker; later calls fail at once with
    CircuitOpenError without reaching the provider, on both pods."""
    a, b = pods(redis, Clock())
    model = Model(answers=[down(), down(), down()])
    on_a, on_b = CircuitModel(model, a.circuit(LLM)), CircuitModel(model, b.circuit(LLM))
    for pod in (on_a, on_b):
        with pytest.raises(UnavailableError) as first:
            await ask(pod)
        assert not isinstance(first.value, CircuitOpenError)
    with pytest.raises(CircuitOpenError) as opened:
        await ask(on_a)
    assert opened.value.circuit == LLM
    for pod in (on_a, on_b):
        with pytest.raises(CircuitOpenError):
            await ask(pod)
    assert model.calls == 3


async def test_a_success_clears_the_failures(redis: RedisConnection) -> None:
    """Failures separated by a successful call do not add up to the threshold."""
    [pod] = pods(redis, Clock(), 1)
    model = Model(answers=[down(), down(), None, down(), down()])
    guarded = CircuitModel(model, pod.circuit(LLM))
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append((await ask(guarded)).model)
        except UnavailableError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes == [
        "UnavailableError",
        "UnavailableError",
        "primary-model",
        "UnavailableError",
        "UnavailableError",
    ]
    assert not (await pod.circuit(LLM).state(fresh=True)).open


async def test_permanent_errors_do_not_count(redis: RedisConnection) -> None:
    """A refused request (a permanent error) says nothing about an outage: the breaker stays closed."""
    [pod] = pods(redis, Clock(), 1)
    model = Model(answers=[PermanentError("bad request")] * 5)
    guarded = CircuitModel(model, pod.circuit(LLM))
    for _ in range(5):
        with pytest.raises(PermanentError):
            await ask(guarded)
    assert not (await pod.circuit(LLM).state(fresh=True)).open


async def test_failures_further_apart_than_the_window_do_not_add_up(redis: RedisConnection) -> None:
    """A failure count older than the window is forgotten (its Redis record expires)."""
    [pod] = pods(redis, Clock(), 1, window=0.2)
    guarded = CircuitModel(Model(answers=[down()] * 4), pod.circuit(LLM))
    for _ in range(2):
        with pytest.raises(UnavailableError):
            await ask(guarded)
    await asyncio.sleep(0.3)
    with pytest.raises(UnavailableError) as third:
        await ask(guarded)
    assert not isinstance(third.value, CircuitOpenError)


async def test_one_waiting_review_probes_and_its_success_releases_every_waiter(
    redis: RedisConnection,
) -> None:
    """While open, waiters wait; at the probe time exactly one of them wins the probe lease, its call goes
    through, its success closes the breaker and the other waiter resumes."""
    clock = Clock()
    a, b = pods(redis, clock, poll=0.01)
    model = Model(answers=[down()] * 3)
    for _ in range(3):
        with pytest.raises(UnavailableError):
            await ask(CircuitModel(model, a.circuit(LLM)))
    results: dict[str, bool] = {}

    async def wait(name: str, pod: Breakers) -> None:
        results[name] = await pod.wait_out(LLM)
        if len(results) == 1:  # the first to resume is the probe: its call must go through
            await ask(CircuitModel(model, pod.circuit(LLM)))

    waiters = [asyncio.create_task(wait("a", a)), asyncio.create_task(wait("b", b))]
    await asyncio.sleep(0.1)
    assert results == {}  # nobody resumes before the probe time
    clock.now += 10
    await asyncio.wait_for(asyncio.gather(*waiters), 5)
    assert results == {"a": True, "b": True}
    assert model.calls == 4  # three failures, then the one probe
    assert not (await a.circuit(LLM).state(fresh=True)).open


async def test_a_failed_probe_keeps_the_breaker_open_until_the_next_probe(redis: RedisConnection) -> None:
    """The probe's failure pushes the next probe time on and frees the lease; the next probe may close."""
    clock = Clock()
    [pod] = pods(redis, clock, 1, poll=0.01)
    model = Model(answers=[down()] * 4)
    guarded = CircuitModel(model, pod.circuit(LLM))
    for _ in range(3):
        with pytest.raises(UnavailableError):
            await ask(guarded)
    clock.now += 10
    with pytest.raises(CircuitOpenError):  # the probe went through, failed, and the breaker stays open
        await ask(guarded)
    assert model.calls == 4
    with pytest.raises(CircuitOpenError):  # not probe time again yet
        await ask(guarded)
    assert model.calls == 4
    clock.now += 10
    await ask(guarded)
    assert not (await pod.circuit(LLM).state(fresh=True)).open


async def test_waiting_stops_once_the_outage_outlasts_the_tolerance(redis: RedisConnection) -> None:
    """A breaker open longer than the tolerance no longer holds jobs: wait_out returns False."""
    clock = Clock()
    [pod] = pods(redis, clock, 1, tolerance=100.0, probe=1000.0, poll=0.01)
    guarded = CircuitModel(Model(answers=[down()] * 3), pod.circuit(LLM))
    for _ in range(3):
        with pytest.raises(UnavailableError):
            await ask(guarded)
    waiting = asyncio.create_task(pod.wait_out(LLM))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    clock.now += 100
    assert await asyncio.wait_for(waiting, 5) is False


async def test_the_fallback_answers_while_the_primary_is_open_and_says_so(redis: RedisConnection) -> None:
    """With the primary's breaker open, calls go to the fallback (its own model name), and the reply carries
    a note naming both models; when the fallback fails too, the primary's CircuitOpenError is raised."""
    [pod] = pods(redis, Clock(), 1, failures=1)
    primary = Model(answers=[down()])
    backup = Model(name="backup-model", answers=[None, down()])
    model = FallbackModel(
        CircuitModel(primary, pod.circuit(LLM)),
        CircuitModel(backup, pod.circuit("llm:anthropic:default")),
        primary_label="openai primary-model",
    )
    reply = await ask(model)
    assert reply.model == "backup-model"
    assert "openai primary-model" in reply.note
    assert "backup-model" in reply.note
    with pytest.raises(CircuitOpenError) as raised:
        await ask(model)
    assert raised.value.circuit == LLM
    assert primary.calls == 1


def test_fallback_settings_name_their_own_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ARGOAI_FALLBACK_LLM_* are read like ARGOAI_LLM_* (the key from its file), and an error names the
    fallback's variable."""
    key = tmp_path / "key"
    key.write_text("sk-fallback-0123456789\n")
    monkeypatch.setenv("ARGOAI_FALLBACK_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("ARGOAI_FALLBACK_LLM_MODEL", "claude-x")
    monkeypatch.setenv("ARGOAI_FALLBACK_LLM_API_KEY_FILE", str(key))
    settings = load(FallbackLLMSettings)
    assert settings.configured
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == "sk-fallback-0123456789"
    monkeypatch.delenv("ARGOAI_FALLBACK_LLM_MODEL")
    with pytest.raises(
        ConfigError, match="ARGOAI_FALLBACK_LLM_MODEL: required when ARGOAI_FALLBACK_LLM_PROVIDER"
    ):
        load(FallbackLLMSettings)
