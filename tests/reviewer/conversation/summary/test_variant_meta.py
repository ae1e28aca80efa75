"""The summary comment's hidden metadata carries the experiment variant, and it survives losing Redis."""

from __future__ import annotations

from argoai_reviewer.conversation.markers import find_summary_meta
from argoai_reviewer.conversation.record import PullRequestRecord
from argoai_reviewer.conversation.summary.comment import SummaryInputs, record_from_comment, render_summary
from argoai_reviewer.domain import IssueComment


def test_variant_round_trips_through_the_summary_metadata() -> None:
    """A record with a variant renders it into the marker, and a record rebuilt from the comment has it."""
    record = PullRequestRecord(heads=["a" * 40], experiment="cheaper-model", variant="small")
    body = render_summary(record, SummaryInputs(files=[], bot_handle="@argoai"))
    meta = find_summary_meta(body)
    assert meta is not None
    assert (meta["experiment"], meta["variant"]) == ("cheaper-model", "small")
    comment = IssueComment(id=5, body=body, author="argoai[bot]", author_is_bot=True)
    rebuilt = record_from_comment(comment)
    assert (rebuilt.experiment, rebuilt.variant) == ("cheaper-model", "small")


def test_no_variant_keeps_the_metadata_as_before() -> None:
    """Outside an experiment the marker has no experiment keys."""
    body = render_summary(PullRequestRecord(heads=["a" * 40]), SummaryInputs(files=[], bot_handle="@argoai"))
    meta = find_summary_meta(body)
    assert meta is not None
    assert "variant" not in meta
