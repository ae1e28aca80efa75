"""The hidden markers that make posting idempotent, written and parsed in this one place.

* Every review body ArgoAI posts ends with ``<!-- argoai:review head=<sha> -->``: a retried job finds the
  review it already posted for that head instead of posting another.
* A review posted for a comment command carries ``<!-- argoai:command id=<comment id> -->`` right before the
  head marker: a retried command finds the review it already posted, so one command posts at most one review.
* The living summary comment ends with ``<!-- argoai:summary <base64 JSON> -->``: what it records (reviewed
  heads, paused) survives a loss of Redis, and a retried job finds the comment instead of posting another.
* Every inline comment ends with ``<!-- argoai:finding fp=<fingerprint> cat=<category> sev=<severity> -->``:
  its thread is known as that finding's (feedback, ``dismiss``, "addressed", the check's conclusion) from
  GitHub alone.
* Every reply and confirmation ends with ``<!-- argoai:reply to=<comment id> for=<purpose> -->``: a retried
  job finds the reply it posted.

Only markers at the very end of a body count, so text the model managed to place earlier cannot fake one; and
the callers only read markers in comments written by ArgoAI's own bot account.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_MARKER = re.compile(r"<!-- argoai:review head=([0-9a-f]{7,64}) -->\s*\Z")
_COMMAND_MARKER = re.compile(
    r"<!-- argoai:command id=([0-9]{1,20}) -->\n<!-- argoai:review head=[0-9a-f]{7,64} -->\s*\Z"
)


def marker(head_sha: str) -> str:
    """The hidden marker that ends every review body ArgoAI posts for ``head_sha``."""
    if not _SHA.match(head_sha):
        raise ValueError(f"not a commit sha: {head_sha!r}")
    return f"<!-- argoai:review head={head_sha} -->"


def find_marker(body: str | None) -> str | None:
    """The head sha of an ArgoAI review body, from the marker at its very end; None if there is none.

    Only a marker at the end counts, so text the model managed to place earlier in a body cannot fake one.
    """
    found = _MARKER.search(body or "")
    return found.group(1) if found else None


def with_command_marker(body: str, head_marker: str, comment_id: int) -> str:
    """``body`` (ending with ``head_marker``) with the command's marker inserted right before that marker."""
    stripped = body.rstrip()
    if not stripped.endswith(head_marker):
        raise ValueError("the review body does not end with its head marker")
    return f"{stripped[: -len(head_marker)]}<!-- argoai:command id={comment_id} -->\n{head_marker}"


def find_command_marker(body: str | None) -> int | None:
    """The comment id of the command a review body was posted for; None for a review no command asked for.

    Only the marker directly before the closing head marker counts, so text placed earlier in a body (by
    the model, say) cannot fake one.
    """
    found = _COMMAND_MARKER.search(body or "")
    return int(found.group(1)) if found else None


_SUMMARY = re.compile(r"<!-- argoai:summary ([A-Za-z0-9+/=]{1,20000}) -->\s*\Z")
_FINDING = re.compile(r"<!-- argoai:finding fp=([0-9a-f]{8,64}) cat=([a-z]{1,30}) sev=([a-z]{1,30}) -->\s*\Z")
_REPLY = re.compile(r"<!-- argoai:reply to=([0-9]{1,20}) for=([a-z-]{1,30}) -->\s*\Z")


def summary_marker(meta: dict[str, Any]) -> str:
    """The hidden marker ending the summary comment, carrying ``meta`` (JSON-able) in base64."""
    encoded = base64.b64encode(json.dumps(meta, separators=(",", ":"), sort_keys=True).encode()).decode()
    return f"<!-- argoai:summary {encoded} -->"


def find_summary_meta(body: str | None) -> dict[str, Any] | None:
    """The metadata of a summary comment body, or None when the body is not one (or its marker is damaged)."""
    found = _SUMMARY.search(body or "")
    if found is None:
        return None
    try:
        meta = json.loads(base64.b64decode(found.group(1), validate=True))
    except (binascii.Error, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def finding_marker(fingerprint: str, category: str, severity: str) -> str:
    """The hidden marker ending the inline comment of the finding ``fingerprint``."""
    return f"<!-- argoai:finding fp={fingerprint} cat={category} sev={severity} -->"


def find_finding_marker(body: str | None) -> tuple[str, str, str] | None:
    """(fingerprint, category, severity) of an inline comment of ours, or None."""
    found = _FINDING.search(body or "")
    return (found.group(1), found.group(2), found.group(3)) if found else None


def reply_marker(comment_id: int, purpose: str) -> str:
    """The hidden marker ending our reply to comment ``comment_id`` for ``purpose``."""
    return f"<!-- argoai:reply to={comment_id} for={purpose} -->"


def find_reply_marker(body: str | None) -> tuple[int, str] | None:
    """(comment id, purpose) of one of our replies, or None."""
    found = _REPLY.search(body or "")
    return (int(found.group(1)), found.group(2)) if found else None
