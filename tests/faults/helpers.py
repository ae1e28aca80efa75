"""Shared steps of the fault tests: pull requests on the fake GitHub, short process timings, and what
JetStream and the reviewers' metrics say."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from prometheus_client.parser import text_string_to_metric_families

from support.system import OWNER, REPO, ArgoSystem, pull_request_payload, wait_until

FULL_NAME = f"{OWNER}/{REPO}"
BASE = "b" * 40

# Short timings so that redeliveries, backoff and dead letters happen within seconds.
FAST = {
    "ARGOAI_REVIEWER_ACK_WAIT_SECONDS": "2",
    "ARGOAI_REVIEWER_MAX_DELIVER": "6",
    "ARGOAI_REVIEWER_BACKOFF_FACTOR": "1.5",
    "ARGOAI_REVIEWER_FETCH_TIMEOUT_SECONDS": "0.5",
    "ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS": "1",
    "ARGOAI_REVIEWER_MAX_REVIEW_SECONDS": "60",
    "ARGOAI_LLM_MAX_RETRIES": "2",
    "ARGOAI_LLM_TIMEOUT_SECONDS": "10",
}


def head(n: int) -> str:
    """A distinct 40-hex head SHA."""
    return f"{n:040x}"


def source(number: int, extra: str = "") -> str:
    """A small file with one line the fake LLM reports (FIXME-BUG)."""
    return (
        f"def handler_{number}(items):\n"
        f"    return sum(items) / len(items)  # FIXME-BUG empty list in PR {number}\n"
        f"{extra}"
    )


def patch_of(text: str) -> str:
    """The patch adding ``text`` as a new file."""
    lines = text.splitlines(keepends=True)
    return f"@@ -0,0 +1,{len(lines)} @@\n" + "".join(f"+{line}" for line in lines)


def open_pr(
    argo: ArgoSystem, number: int, sha: str, *, path: str | None = None, text: str | None = None
) -> None:
    """A pull request ``number`` at ``sha`` adding one file."""
    path = path or f"pr{number}.py"
    text = text if text is not None else source(number)
    argo.fake_github.add_pull_request(
        OWNER, REPO, number, sha, BASE, [(path, patch_of(text), text)],
        installation_id=argo.installation_id, title=f"Change {number}",
    )  # fmt: skip


def opened(argo: ArgoSystem, number: int, sha: str) -> dict[str, Any]:
    """The ``pull_request.opened`` webhook of that pull request."""
    return pull_request_payload(
        "opened", number=number, head=sha, base=BASE, installation_id=argo.installation_id
    )


def synchronize(argo: ArgoSystem, number: int, sha: str, before: str) -> dict[str, Any]:
    """The ``pull_request.synchronize`` webhook of a push from ``before`` to ``sha``."""
    return pull_request_payload(
        "synchronize", number=number, head=sha, base=BASE, before=before, installation_id=argo.installation_id
    )


def reviews(argo: ArgoSystem, number: int) -> list[Any]:
    """Reviews posted on PR ``number``."""
    return argo.fake_github.reviews_posted(OWNER, REPO, number)


def comments(argo: ArgoSystem, number: int) -> list[Any]:
    """Conversation comments posted on PR ``number``, but ArgoAI's living summary (failure comments)."""
    return [
        c for c in argo.fake_github.comments_posted(OWNER, REPO, number) if "argoai:summary" not in c.body
    ]


async def _pending(argo: ArgoSystem) -> int:
    nc = await nats.connect(argo.nats_url)
    try:
        js = nc.jetstream()
        total = 0
        for stream, consumer in (
            (f"{argo.prefix}_WEBHOOKS", f"{argo.prefix}_INTAKE"),
            (f"{argo.prefix}_JOBS", f"{argo.prefix}_REVIEWERS"),
        ):
            info = await js.consumer_info(stream, consumer)
            total += info.num_pending + info.num_ack_pending
        return total
    finally:
        await nc.close()


def settle(argo: ArgoSystem, timeout: float = 30) -> None:
    """Wait until every webhook and job was consumed and settled (nothing pending, nothing unacknowledged)."""
    wait_until(lambda: asyncio.run(_pending(argo)) == 0, timeout, "the reviewers to settle", interval=0.2)


async def _dead_letters(argo: ArgoSystem) -> list[dict[str, Any]]:
    import orjson

    nc = await nats.connect(argo.nats_url)
    try:
        js = nc.jetstream()
        stream = f"{argo.prefix}_DEAD"
        info = await js.stream_info(stream)
        letters = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            message = await js.get_msg(stream, seq)
            letters.append({"reason_header": (message.headers or {}).get("ArgoAI-Dead-Reason"),
                            **orjson.loads(message.data or b"{}")})  # fmt: skip
        return letters
    finally:
        await nc.close()


def dead_letters(argo: ArgoSystem) -> list[dict[str, Any]]:
    """Every letter in the dead-letter stream (header reason plus the stored document)."""
    return asyncio.run(_dead_letters(argo))


def metric(argo: ArgoSystem, reviewer: str, sample: str, **labels: str) -> float:
    """The value of one sample of reviewer ``reviewer``'s metrics (0 when absent)."""
    for family in text_string_to_metric_families(argo.metrics(reviewer)):
        for found in family.samples:
            if found.name == sample and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0
