"""End to end on a 3-node NATS cluster: the real ``argoai gateway`` and ``argoai reviewer`` with
ARGOAI_NATS_REPLICAS=3, webhooks for distinct pull requests arriving continuously, one NATS node SIGKILLed
in the middle. Every webhook answered 202 is reviewed exactly once; those answered 503 during the failover,
redelivered as GitHub's redelivery would, are reviewed once too, never twice."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
import pytest

from faults.helpers import BASE, head, patch_of, source
from support.fake_github.server import FakeGitHub
from support.fake_llm import FakeLLM, MarkerResponder
from support.nats_cluster import NatsCluster
from support.system import LLM_KEY, ArgoSystem, argo_system, pull_request_payload, wait_until

# Short reviewer timings so that a job whose acknowledgement was lost in the failover comes back within
# seconds (and then finds its review already posted), with retries to spare.
TIMINGS = {
    "ARGOAI_NATS_REPLICAS": "3",
    "ARGOAI_REVIEWER_ACK_WAIT_SECONDS": "3",
    "ARGOAI_REVIEWER_MAX_DELIVER": "8",
    "ARGOAI_REVIEWER_BACKOFF_FACTOR": "1.5",
    "ARGOAI_REVIEWER_FETCH_TIMEOUT_SECONDS": "0.5",
    "ARGOAI_REVIEWER_GRACE_PERIOD_SECONDS": "1",
}
SEND_INTERVAL = 0.05
# Webhooks answered 202 after the kill before the sender stops: the system recovered without a restart.
ACCEPTED_AFTER_KILL = 20
# The reviewer spaces its writes to GitHub a second apart per installation (as GitHub asks): the pull
# requests are spread over several organisations, each with its own installation of the App.
INSTALLATIONS = 10
REPO = "service"


@dataclass
class Sent:
    """One delivery and the answers it got (the first one, then redeliveries)."""

    number: int
    delivery: str
    answers: list[int | str] = field(default_factory=list)
    at: float = 0.0

    @property
    def accepted(self) -> bool:
        """Whether the gateway answered 202 at some point."""
        return 202 in self.answers


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible LLM reporting a finding for each FIXME-BUG line."""
    with FakeLLM(api_key=LLM_KEY, responder=MarkerResponder()) as fake:
        yield fake


@pytest.fixture
def argo(
    own_cluster: NatsCluster, redis_server: str, fake_llm: FakeLLM, tmp_path: Path
) -> Iterator[ArgoSystem]:
    """ArgoAI (nothing started yet) on the cluster's three URLs with 3 replicas."""
    with (
        FakeGitHub().serving() as github,
        argo_system(github, fake_llm, own_cluster.urls, redis_server, tmp_path) as system,
    ):
        system.extra_env.update(TIMINGS)
        for number in range(INSTALLATIONS):
            owner, installation = org(number)
            github.add_installation(installation, system.app_id, owner)
        yield system


def org(number: int) -> tuple[str, int]:
    """The organisation of pull request ``number`` and the App's installation id there."""
    index = number % INSTALLATIONS
    return f"ha-org-{index}", 7000 + index


def open_pr(argo: ArgoSystem, number: int) -> None:
    """Pull request ``number`` on the fake GitHub: one new file with a line the fake LLM reports."""
    owner, installation = org(number)
    text = source(number)
    argo.fake_github.add_pull_request(
        owner, REPO, number, head(number), BASE, [(f"pr{number}.py", patch_of(text), text)],
        installation_id=installation, title=f"Change {number}",
    )  # fmt: skip


def reviews(argo: ArgoSystem, number: int) -> list[str]:
    """The head commit of every review posted on pull request ``number``."""
    owner, _ = org(number)
    return [review.commit_id for review in argo.fake_github.reviews_posted(owner, REPO, number)]


def answer(argo: ArgoSystem, sent: Sent) -> int | str:
    """Deliver ``sent`` (again: same delivery id) and return the status, or the transport error's name."""
    owner, installation = org(sent.number)
    payload = pull_request_payload(
        "opened", number=sent.number, head=head(sent.number), base=BASE, installation_id=installation,
        owner=owner, repo=REPO,
    )  # fmt: skip
    try:
        return argo.send("pull_request", payload, delivery=sent.delivery).status_code
    except httpx.TransportError as exc:
        return type(exc).__name__


class Sender(threading.Thread):
    """Sends one ``opened`` webhook for a new pull request every SEND_INTERVAL until stopped."""

    def __init__(self, argo: ArgoSystem) -> None:
        super().__init__(name="webhook-sender", daemon=True)
        self.argo = argo
        self.sent: list[Sent] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            number += 1
            sent = Sent(number, f"00000000-0000-4000-8000-{number:012d}", at=time.monotonic())
            open_pr(self.argo, number)
            sent.answers.append(answer(self.argo, sent))
            self.sent.append(sent)
            time.sleep(SEND_INTERVAL)


async def _stream_state(urls: list[str], prefix: str) -> tuple[dict[str, int | None], int]:
    """Replica count of every stream (the gateway's and the reviewer's policy bucket) and of the reviewer's
    two durable consumers (servers holding them), and deliveries still pending or unacknowledged."""
    nc = await nats.connect(urls)
    try:
        js = nc.jetstream()
        streams = [f"{prefix}_WEBHOOKS", f"{prefix}_JOBS", f"{prefix}_DEAD", f"OBJ_{prefix}_PAYLOADS"]
        replicas = {
            s: (await js.stream_info(s)).config.num_replicas for s in [*streams, f"KV_{prefix}_POLICIES"]
        }
        pending = 0
        for stream, consumer in (
            (f"{prefix}_WEBHOOKS", f"{prefix}_INTAKE"),
            (f"{prefix}_JOBS", f"{prefix}_REVIEWERS"),
        ):
            info = await js.consumer_info(stream, consumer)
            pending += info.num_pending + info.num_ack_pending
            # A consumer declared without a count follows its stream's.
            replicas[consumer] = 1 + len(info.cluster.replicas or []) if info.cluster else None
        return replicas, pending
    finally:
        await nc.close()


def test_one_node_killed_mid_traffic_loses_no_accepted_webhook_and_reviews_each_once(
    argo: ArgoSystem, own_cluster: NatsCluster
) -> None:
    """SIGKILL of the node leading the webhooks stream while webhooks arrive: every delivery answered 202 is
    reviewed exactly once, and the ones answered 503 meanwhile, redelivered, are reviewed exactly once."""
    argo.start_gateway()
    argo.start_reviewer()
    replicas, _ = asyncio.run(_stream_state(own_cluster.urls, argo.prefix))
    # The policy bucket and the consumers were created by the reviewer.
    assert set(replicas.values()) == {3}, replicas

    sender = Sender(argo)
    sender.start()
    wait_until(lambda: len(sender.sent) >= 40, 30, "40 webhooks sent before the kill")
    victim = own_cluster.stream_leader(f"{argo.prefix}_WEBHOOKS")
    own_cluster.kill(victim)
    killed_at = time.monotonic()
    before_kill = len(sender.sent)

    def accepted_after_kill() -> int:
        return sum(1 for sent in list(sender.sent) if sent.at > killed_at and sent.accepted)

    try:
        wait_until(lambda: accepted_after_kill() >= ACCEPTED_AFTER_KILL, 30, "202s again after the kill")
    finally:
        sender.stopping.set()
        sender.join(timeout=30)
    refused = [sent for sent in sender.sent if not sent.accepted]

    # GitHub's redelivery (argoai redeliver) sends a refused delivery again with the same delivery id.
    for sent in refused:
        wait_until(lambda sent=sent: (sent.answers.append(answer(argo, sent)) or sent.accepted), 20,
                   f"delivery {sent.delivery} to be accepted on redelivery", interval=0.2)  # fmt: skip

    numbers = [sent.number for sent in sender.sent]
    wait_until(lambda: all(reviews(argo, n) for n in numbers), 60, "a review of every pull request", 0.2)
    wait_until(
        lambda: asyncio.run(_stream_state(own_cluster.running_urls(), argo.prefix))[1] == 0,
        60, "every webhook and job to be settled", 0.2,
    )  # fmt: skip
    posted = {n: reviews(argo, n) for n in numbers}
    assert {n: commits for n, commits in posted.items() if commits != [head(n)]} == {}
    print(
        f"\nkilled {victim} after {before_kill} webhooks; {len(numbers)} sent, {len(refused)} answered "
        f"{sorted({str(a) for s in refused for a in s.answers[:1]})} first (sent from "
        f"{min(s.at for s in refused) - killed_at:.1f} s to {max(s.at for s in refused) - killed_at:.1f} s "
        f"after the kill) and redelivered; {len(numbers)} reviews, one each"
    )
    assert "Traceback" not in argo.logs()
