"""The operator's small modules: error mapping, status building, index entries, effective set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import kopf
import pytest

from argoai_core.errors import ConfigError, RateLimitedError, UnavailableError
from argoai_operator.effective import effective_set, index_entry
from argoai_operator.errors import kopf_errors
from argoai_operator.status import changed, condition_of, invalid_status, ready_status

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_retryable_errors_become_temporary_with_their_delay() -> None:
    """A RetryableError becomes kopf.TemporaryError carrying the error's delay."""
    with pytest.raises(kopf.TemporaryError) as info, kopf_errors():
        raise RateLimitedError("slow down", delay=12)
    assert info.value.delay == 12
    with pytest.raises(kopf.TemporaryError), kopf_errors():
        raise UnavailableError("nats down")


def test_permanent_errors_become_permanent() -> None:
    """A PermanentError becomes kopf.PermanentError (Kopf stops retrying)."""
    with pytest.raises(kopf.PermanentError, match="bad setting"), kopf_errors():
        raise ConfigError("bad setting")


def test_transition_time_kept_while_status_holds() -> None:
    """lastTransitionTime changes only when a condition's status flips."""
    first = ready_status({}, generation=1, scope="org: a", revision=1, policies=1, conflicts=[], now=T0)
    later = T0 + timedelta(hours=1)
    again = ready_status(first, generation=2, scope="org: a", revision=2, policies=1, conflicts=[], now=later)
    assert condition_of(again, "Ready")["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    flipped = invalid_status(again, generation=3, reason="spec.x: bad", revision=2, now=later)
    assert condition_of(flipped, "Ready")["lastTransitionTime"] == "2026-01-01T01:00:00Z"
    assert condition_of(flipped, "Invalid")["message"] == "spec.x: bad"
    assert flipped["matchedScope"] is None


def test_unchanged_status_makes_an_empty_patch() -> None:
    """Re-running reconcile with nothing new patches nothing (no status churn)."""
    status = ready_status(
        {}, generation=1, scope="cluster default", revision=3, policies=2, conflicts=[], now=T0
    )
    same = ready_status(status, generation=1, scope="cluster default", revision=3, policies=2, conflicts=[])
    assert changed(status, same) == {}
    newer = ready_status(status, generation=1, scope="cluster default", revision=4, policies=2, conflicts=[])
    assert set(changed(status, newer)) == {"revision", "conditions"}


def test_deleting_objects_leave_the_index() -> None:
    """An object with a deletionTimestamp indexes to nothing, so it drops out of the set."""
    assert index_entry("ops", "a", {"maxComments": 3}, {}) == {"ops/a": {"maxComments": 3}}
    assert index_entry("ops", "a", {}, {"deletionTimestamp": "2026-01-01T00:00:00Z"}) == {}


def test_effective_set_leaves_out_invalid_specs() -> None:
    """Invalid specs are reported with their reason and are not in the set; exclude drops one more."""
    index = {"ops/a": [{"maxComments": 3}], "ops/b": [{"maxComments": 1000}], "ops/c": [{}]}
    effective = effective_set(index, exclude="ops/c")
    assert effective.policy_set.names() == ["ops/a"]
    assert effective.invalid == {"ops/b": "spec.maxComments: Input should be less than or equal to 100"}
