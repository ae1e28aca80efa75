"""Running the operator: the Kopf loop with ArgoAI's registry, peering and liveness endpoint.

Several replicas are safe through Kopf peering: every replica writes its priority into a ``KopfPeering``
object (the chart installs the peering CRD) and only the highest-priority one handles events; the others
stay paused until it stops renewing its record. Replicas therefore need distinct priorities: unless one is
given, each process picks a random one.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Sequence

import kopf

from argoai_core.logs import get_logger
from argoai_operator.config import OperatorConfig
from argoai_operator.handlers import build_registry

log = get_logger(__name__)


def random_priority() -> int:
    """A priority unlikely to equal another replica's (equal priorities would both stay active)."""
    return 1 + secrets.randbelow(1_000_000)


async def serve(
    config: OperatorConfig,
    *,
    namespaces: Sequence[str] = (),
    standalone: bool = False,
    priority: int | None = None,
    peering_name: str = "argoai",
    liveness_endpoint: str | None = None,
    stop_flag: asyncio.Event | threading.Event | None = None,
    ready_flag: asyncio.Event | threading.Event | None = None,
    registry: kopf.OperatorRegistry | None = None,
) -> None:
    """Run the operator until stopped: cluster-wide when ``namespaces`` is empty.

    ``registry`` defaults to :func:`build_registry`; tests pass one with an extra login handler.
    """
    chosen = priority if priority is not None else random_priority()
    log.info(
        "operator starting",
        namespaces=list(namespaces) or "all",
        standalone=standalone,
        peering=None if standalone else peering_name,
        priority=chosen,
    )
    await kopf.operator(
        registry=registry or build_registry(config),
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        standalone=standalone,
        priority=chosen,
        # A peering name makes peering mandatory in Kopf, even when standalone.
        peering_name=None if standalone else peering_name,
        liveness_endpoint=liveness_endpoint,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
        memo=kopf.Memo(),
    )


def run(
    config: OperatorConfig,
    *,
    namespaces: Sequence[str] = (),
    standalone: bool = False,
    priority: int | None = None,
    peering_name: str = "argoai",
    liveness_endpoint: str | None = None,
) -> None:
    """Blocking entrypoint for ``argoai operator``."""
    asyncio.run(
        serve(
            config,
            namespaces=namespaces,
            standalone=standalone,
            priority=priority,
            peering_name=peering_name,
            liveness_endpoint=liveness_endpoint,
        )
    )
