"""A notification: one event worth telling a team about, on its way to one target (versioned, shared data).

The reviewer publishes one message per (event, target) to the notifications stream; the notification sender
turns it into the target's format (Slack Block Kit, Discord embeds, signed JSON). Everything in it that came
from a pull request or a model (titles, finding titles, reasons) is untrusted: the formats sanitize it for
their platform. No target URL or secret is ever part of a notification: those stay in the sender's settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

NOTIFICATION_VERSION = 1

NotificationEvent = Literal["critical_findings", "review_failed", "token_budget_exhausted", "dead_lettered"]
NOTIFICATION_EVENTS: tuple[NotificationEvent, ...] = (
    "critical_findings",
    "review_failed",
    "token_budget_exhausted",
    "dead_lettered",
)

# A target's name: the key of the installation's targets file and the last token of its NATS subject.
TARGET_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
TargetName = Annotated[str, Field(min_length=1, max_length=40, pattern=TARGET_NAME_PATTERN)]

MAX_FINDINGS = 10


class NotifiedFinding(BaseModel):
    """A finding named in a notification (untrusted text: sanitized by each format)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    severity: str
    title: str = Field(max_length=500)
    path: str = Field(default="", max_length=500)
    line: int | None = None


class Notification(BaseModel):
    """One event, for one target."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: Literal[1] = 1
    # Stable per (event, subject of the event, target): the NATS dedup key, and the webhook's delivery id.
    id: str = Field(min_length=1, max_length=300)
    event: NotificationEvent
    target: TargetName
    occurred_at: datetime
    host: str = "github.com"
    repository: str = Field(default="", max_length=201)
    number: int | None = None
    head_sha: str = ""
    # Link to the pull request on GitHub (built by ArgoAI from the repository and number, never from text).
    url: str = ""
    title: str = Field(default="", max_length=1000)
    findings: list[NotifiedFinding] = Field(default_factory=list, max_length=MAX_FINDINGS)
    # How many findings of the event's kind there were (``findings`` lists the first ones).
    findings_total: int = 0
    reason: str = Field(default="", max_length=2000)
    # The experiment variant the pull request is assigned to, when its policy runs one.
    experiment: str | None = None
    variant: str | None = None
