"""The hidden markers that make posting idempotent, written and parsed in this one place.

* Every review body ArgoAI posts ends with ``<!-- argoai:review head=<sha> -->``: a retried job finds the
  review it already posted for that head instead of posting another.
* A review posted for a comment command carries ``<!-- argoai:command id=<comment id> -->`` right before the
  head marker: a retried command finds the review it already posted, so one command posts at most one review.

Only markers at the very end of a body count, so text the model managed to place earlier cannot fake one.
"""

from __future__ import annotations

import re

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
