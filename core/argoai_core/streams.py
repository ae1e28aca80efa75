"""Names of ArgoAI's JetStream streams, subjects, consumers and key-value buckets.

Everything is derived from one prefix (``ARGOAI_NATS_PREFIX``) so that several installations, and test
runs, can share one NATS server without seeing each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass

# GitHub events the gateway stores; every other event is answered 202 and dropped.
PUBLISHED_EVENTS = frozenset(
    {
        "pull_request",
        "issue_comment",
        "pull_request_review_comment",
        "pull_request_review",
        "check_run",
        "installation",
        "installation_repositories",
    }
)


# Message headers of a stored webhook delivery: GitHub's delivery headers, carried along unchanged.
HEADER_EVENT = "X-GitHub-Event"
HEADER_DELIVERY = "X-GitHub-Delivery"
HEADER_HOOK_ID = "X-GitHub-Hook-ID"
HEADER_TARGET_ID = "X-GitHub-Hook-Installation-Target-ID"
HEADER_TARGET_TYPE = "X-GitHub-Hook-Installation-Target-Type"
# Why a letter is in the dead-letter stream, and whether it holds a job or a webhook the intake gave up on.
HEADER_DEAD_REASON = "ArgoAI-Dead-Reason"
HEADER_DEAD_KIND = "ArgoAI-Dead-Kind"
# A payload too large for one NATS message is stored in an Object Store bucket; the stream message then has an
# empty body and these two headers name the bucket and the object (the delivery id).
HEADER_PAYLOAD_BUCKET = "ArgoAI-Payload-Bucket"
HEADER_PAYLOAD_OBJECT = "ArgoAI-Payload-Object"


def kv_stream(bucket: str) -> str:
    """The stream holding KV bucket ``bucket`` (JetStream's naming: its replicas are the bucket's)."""
    return f"KV_{bucket}"


def object_store_stream(bucket: str) -> str:
    """The stream holding Object Store bucket ``bucket`` (JetStream's naming)."""
    return f"OBJ_{bucket}"


@dataclass(frozen=True)
class StreamNames:
    """Every JetStream name of one ArgoAI installation."""

    prefix: str = "ARGOAI"

    @property
    def webhooks_stream(self) -> str:
        """Stream of raw, verified webhook deliveries."""
        return f"{self.prefix}_WEBHOOKS"

    def webhook_subject(self, event: str) -> str:
        """Subject of one webhook delivery, per event name."""
        return f"{self.prefix.lower()}.webhooks.{event}"

    @property
    def webhook_subjects(self) -> str:
        """Wildcard covering every webhook subject."""
        return f"{self.prefix.lower()}.webhooks.>"

    @property
    def payload_bucket(self) -> str:
        """Object Store bucket holding webhook payloads too large for one NATS message."""
        return f"{self.prefix}_PAYLOADS"

    @property
    def jobs_stream(self) -> str:
        """Work-queue stream of review jobs."""
        return f"{self.prefix}_JOBS"

    @property
    def review_subject(self) -> str:
        """Subject of review jobs."""
        return f"{self.prefix.lower()}.jobs.review"

    @property
    def dead_letter_stream(self) -> str:
        """Stream of jobs that failed for good, with the reason."""
        return f"{self.prefix}_DEAD"

    @property
    def dead_letter_subject(self) -> str:
        """Subject of dead-lettered jobs."""
        return f"{self.prefix.lower()}.dead.review"

    @property
    def dead_letter_subjects(self) -> str:
        """Every subject of the dead-letter stream (jobs and webhooks, notifications)."""
        return f"{self.prefix.lower()}.dead.>"

    @property
    def history_stream(self) -> str:
        """Stream of audit history records (the system of record of what ArgoAI did)."""
        return f"{self.prefix}_HISTORY"

    @property
    def history_subject(self) -> str:
        """Subject of audit history records."""
        return f"{self.prefix.lower()}.history.record"

    @property
    def superseded_subject(self) -> str:
        """Core NATS subject (not stored) telling every reviewer pod that a pull request got a newer head."""
        return f"{self.prefix.lower()}.control.superseded"

    @property
    def intake_consumer(self) -> str:
        """Durable consumer turning webhooks into review jobs."""
        return f"{self.prefix}_INTAKE"

    @property
    def review_consumer(self) -> str:
        """Durable consumer shared by every reviewer pod."""
        return f"{self.prefix}_REVIEWERS"

    @property
    def notify_stream(self) -> str:
        """Work-queue stream of notifications waiting to be sent to a target (Slack, Discord, a webhook)."""
        return f"{self.prefix}_NOTIFY"

    def notify_subject(self, target: str) -> str:
        """Subject of the notifications for target ``target`` (a name from the installation's targets)."""
        return f"{self.prefix.lower()}.notify.{target}"

    @property
    def notify_subjects(self) -> str:
        """Wildcard covering every notification subject."""
        return f"{self.prefix.lower()}.notify.>"

    @property
    def notify_consumer(self) -> str:
        """Durable consumer sending notifications, shared by every reviewer pod."""
        return f"{self.prefix}_NOTIFIERS"

    @property
    def notify_dead_letter_subject(self) -> str:
        """Subject (in the dead-letter stream) of notifications no target accepted in time."""
        return f"{self.prefix.lower()}.dead.notify"

    @property
    def policy_bucket(self) -> str:
        """Key-value bucket holding the effective policy set published by the operator."""
        return f"{self.prefix}_POLICIES"
