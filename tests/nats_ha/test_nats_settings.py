"""NatsSettings: the replica count's allowed values and the server URLs as they may be printed."""

from __future__ import annotations

import pytest

from argoai_core.errors import ConfigError
from argoai_core.settings import NatsSettings, load


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("nats://user:pass@nats.example:4222", "nats://nats.example:4222"),
        ("tls://s3cr3t-token@nats.example", "tls://nats.example"),
        (
            "nats://a:pw@10.0.0.1:4222, nats://a:pw@10.0.0.2:4222,nats://[::1]:4223",
            "nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://[::1]:4223",
        ),
        ("wss://nats.example:443", "wss://nats.example:443"),
    ],
)
def test_public_url_drops_users_passwords_and_tokens(url: str, public: str) -> None:
    """The URL(s) printed in logs keep scheme, host and port, never credentials."""
    assert NatsSettings(url=url).public_url == public


@pytest.mark.parametrize("value", ["1", "3"])
def test_replicas_accepts_1_and_3(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    """ARGOAI_NATS_REPLICAS=1 or 3 is taken as is."""
    monkeypatch.setenv("ARGOAI_NATS_REPLICAS", value)
    assert load(NatsSettings).replicas == int(value)


@pytest.mark.parametrize("value", ["0", "2", "5", "-1"])
def test_other_replica_counts_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Any other count is refused with one line naming ARGOAI_NATS_REPLICAS."""
    monkeypatch.setenv("ARGOAI_NATS_REPLICAS", value)
    with pytest.raises(ConfigError) as refused:
        load(NatsSettings)
    assert str(refused.value) == (
        "ARGOAI_NATS_REPLICAS: must be 1 (a single NATS server) or 3 (a NATS cluster of 3 or more), "
        f"got {value}"
    )


def test_replicas_default_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, one replica: what a single nats-server (argoai dev, the tests) can hold."""
    monkeypatch.delenv("ARGOAI_NATS_REPLICAS", raising=False)
    assert load(NatsSettings).replicas == 1
