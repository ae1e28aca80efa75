"""What the gateway needs from the outside world, as narrow Protocols owned by the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One verified webhook delivery, ready to be stored."""

    event: str
    delivery_id: str
    body: bytes
    # GitHub's delivery headers and the W3C trace context, carried along as message headers.
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Stored:
    """JetStream's acknowledgement of a stored delivery."""

    stream: str
    sequence: int
    # The delivery id was already stored within the duplicate window: nothing new was written.
    duplicate: bool


class Publisher(Protocol):
    """Durable storage of deliveries (JetStream in production)."""

    async def publish(self, delivery: Delivery) -> Stored:
        """Store ``delivery``; return once it is durably stored. UnavailableError when it cannot be."""
        ...

    async def ready(self) -> bool:
        """Whether deliveries can be stored right now (connected, stream present)."""
        ...
