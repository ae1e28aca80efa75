"""How long one LLM call may take: the idle timeout between chunks, the overall cap, time to first token.

A streamed answer is judged by its pace, not only its length: a CPU server may take minutes for a long answer
yet never pause long between two chunks, while a stalled server is caught after
``ARGOAI_LLM_IDLE_TIMEOUT_SECONDS`` instead of the whole ``ARGOAI_LLM_TIMEOUT_SECONDS``. Both limits are
applied here with asyncio (not only the HTTP client's read timeout, which server-sent keep-alive comments
would reset), and both become :class:`~argoai_reviewer.llm.retry.TimedOut` naming the setting and its value.

Leaving a stream early (a timeout, an error, or the caller's task cancelled) must close the HTTP connection:
a server that sees the disconnect stops generating. The adapters open streams in ``async with`` blocks; the
SDKs close the response when the block is left, whatever the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from argoai_core.settings import LLMSettings
from argoai_reviewer.llm.retry import RetryPolicy, TimedOut, timed_out
from argoai_reviewer.metrics import LLM_TTFT

T = TypeVar("T")

TIMEOUT_SETTING = "ARGOAI_LLM_TIMEOUT_SECONDS"
IDLE_SETTING = "ARGOAI_LLM_IDLE_TIMEOUT_SECONDS"
# The HTTP client's own read timeout is a backstop only: ours must fire first, with its clearer message.
CLIENT_TIMEOUT_SLACK = 5.0


@dataclass(frozen=True)
class CallLimits:
    """The time limits of one LLM call and whether it streams (from ``LLMSettings``)."""

    total: float
    idle: float
    stream: bool
    policy: RetryPolicy

    @classmethod
    def from_settings(cls, settings: LLMSettings, policy: RetryPolicy) -> CallLimits:
        """The limits set by ``ARGOAI_LLM_TIMEOUT_SECONDS``, ``…_IDLE_TIMEOUT_SECONDS`` and ``…_STREAM``."""
        return cls(
            total=settings.timeout_seconds,
            idle=settings.idle_timeout_seconds,
            stream=settings.stream,
            policy=policy,
        )

    @property
    def client_timeout(self) -> float:
        """The HTTP client's timeout: a backstop to the idle timeout when streaming, else the whole call."""
        if self.stream:
            return min(self.idle, self.total) + CLIENT_TIMEOUT_SLACK
        return self.total

    def total_exceeded(self) -> TimedOut:
        """The error for a call longer than ``ARGOAI_LLM_TIMEOUT_SECONDS``."""
        what = "LLM call not finished" if self.stream else "LLM request timed out: no answer"
        return timed_out(what, TIMEOUT_SETTING, self.total, policy=self.policy)

    def idle_exceeded(self) -> TimedOut:
        """The error for a stream that stalled longer than ``ARGOAI_LLM_IDLE_TIMEOUT_SECONDS``."""
        return timed_out("LLM stream stalled: no data", IDLE_SETTING, self.idle, policy=self.policy)

    def client_timed_out(self) -> TimedOut:
        """The error for the HTTP client's own timeout (see :attr:`client_timeout`)."""
        return self.idle_exceeded() if self.stream else self.total_exceeded()

    @asynccontextmanager
    async def capped(self) -> AsyncIterator[None]:
        """Run the block within ``total`` seconds, else raise :meth:`total_exceeded`."""
        cap = asyncio.timeout(self.total)
        try:
            async with cap:
                yield
        except TimeoutError:
            if cap.expired():
                raise self.total_exceeded() from None
            raise

    async def first(self, opening: Awaitable[T]) -> T:
        """Await ``opening`` (the request, until the response headers) within the idle timeout."""
        if not self.stream:
            return await opening
        try:
            async with asyncio.timeout(self.idle):
                return await opening
        except TimeoutError:
            raise self.idle_exceeded() from None

    async def paced(self, chunks: AsyncIterable[T]) -> AsyncIterator[T]:
        """The items of ``chunks``, each within the idle timeout of the previous one."""
        iterator = aiter(chunks)
        while True:
            try:
                async with asyncio.timeout(self.idle):
                    item = await anext(iterator)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise self.idle_exceeded() from None
            yield item


class FirstToken:
    """Observes ``argoai_llm_time_to_first_token_seconds`` once, at the first chunk that carries output."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._started = time.perf_counter()
        self.seconds: float | None = None

    def output(self) -> None:
        """A chunk carrying output arrived: the first one sets the metric."""
        if self.seconds is None:
            self.seconds = time.perf_counter() - self._started
            LLM_TTFT.labels(model=self._model).observe(self.seconds)
