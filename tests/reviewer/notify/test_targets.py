"""The notification targets setting: parsed from YAML or JSON, errors that never repeat a URL or secret."""

from __future__ import annotations

import pytest

from argoai_core.errors import ConfigError
from argoai_core.settings import load
from argoai_reviewer.settings import NotifySettings, parse_targets

SLACK_URL = "https://hooks.slack.com/services/T0/B0/verysecrettoken"


def test_yaml_and_json_targets_are_read() -> None:
    """Both formats give the same targets."""
    yaml_text = f"team: {{kind: slack, url: '{SLACK_URL}'}}\n"
    json_text = f'{{"team": {{"kind": "slack", "url": "{SLACK_URL}"}}}}'
    assert parse_targets(yaml_text) == parse_targets(json_text)
    assert parse_targets(yaml_text)["team"].url.get_secret_value() == SLACK_URL


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("team: {kind: teams, url: 'https://x.example/verysecrettoken'}", "target 'team': kind"),
        ("team: {kind: slack, url: 'ftp://x.example/verysecrettoken'}", "must be an https"),
        ("hook: {kind: webhook, url: 'https://x.example/verysecrettoken'}", "needs a secret"),
        ("Bad Name: {kind: slack, url: 'https://x.example/verysecrettoken'}", "target name"),
        ("- just a list", "must map target names"),
    ],
)
def test_bad_targets_name_the_problem_never_the_url(
    monkeypatch: pytest.MonkeyPatch, document: str, message: str
) -> None:
    """A bad target is one configuration error naming the setting and the target, without its URL."""
    monkeypatch.setenv("ARGOAI_NOTIFY_TARGETS", document)
    with pytest.raises(ConfigError) as caught:
        load(NotifySettings)
    assert str(caught.value).startswith("ARGOAI_NOTIFY_TARGETS: ")
    assert message in str(caught.value)
    assert "verysecrettoken" not in str(caught.value)


def test_targets_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """ARGOAI_NOTIFY_TARGETS_FILE (a mounted Secret) is read when the variable is not set."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "targets.yaml"
    path.write_text(f"team: {{kind: discord, url: '{SLACK_URL}'}}\n")
    monkeypatch.delenv("ARGOAI_NOTIFY_TARGETS", raising=False)
    monkeypatch.setenv("ARGOAI_NOTIFY_TARGETS_FILE", str(path))
    assert list(load(NotifySettings).parsed_targets) == ["team"]


def test_backoff_doubles_up_to_its_cap() -> None:
    """Retry n waits backoff × 2^(n-1), capped."""
    settings = NotifySettings(backoff_seconds=2, backoff_max_seconds=10)
    assert [settings.backoff(n) for n in (1, 2, 3, 4)] == [2, 4, 8, 10]
