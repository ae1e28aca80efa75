"""The reviewer as one component of ``argoai dev``: the production reviewer, stopped by dev's stop event."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping

from argoai_core.settings import GitHubSettings, NatsSettings, RedisSettings, load
from argoai_reviewer.runtime.process import Reviewer
from argoai_reviewer.settings import ReviewerConfig
from argoai_reviewer.wiring import assembler


class ReviewerComponent:
    """The reviewer process's runtime (intake and review consumers, health port) inside ``argoai dev``."""

    name = "reviewer"

    def __init__(self, reviewer: Reviewer) -> None:
        self.reviewer = reviewer

    @classmethod
    def build(
        cls,
        *,
        github: Mapping[str, object],
        nats: Mapping[str, object],
        redis: Mapping[str, object],
        reviewer: Mapping[str, object],
    ) -> ReviewerComponent:
        """The production reviewer, its settings read from the environment with dev's overrides applied."""
        config = ReviewerConfig.load(**reviewer)
        config = dataclasses.replace(
            config,
            github=load(GitHubSettings, **github),
            nats=load(NatsSettings, **nats),
            redis=load(RedisSettings, **redis),
        )
        return cls(Reviewer(config, assembler()))

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; running reviews then get the reviewer's grace period."""
        serving = asyncio.create_task(self.reviewer.serve(), name="reviewer-serve")
        stopping = asyncio.create_task(stop.wait(), name="reviewer-stop")
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            self.reviewer.stop()
            await serving
