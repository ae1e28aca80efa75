"""``argoai history``, ``argoai api`` and ``argoai dlq`` as a user types them: configuration and flag errors
are one line with exit 2, the API refuses to run without a token, a history read offline prints the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.test_cli_usage import argoai


def test_api_without_tokens_exits_2_naming_the_setting(tmp_path: Path) -> None:
    """No ARGOAI_API_TOKENS(_FILE): the API does not start open; one line names the setting, exit 2."""
    result = argoai("api", "--port", "1", env={"ARGOAI_HISTORY_STORE": str(tmp_path / "h.sqlite3")})
    assert result.returncode == 2
    assert "ARGOAI_API_TOKENS" in result.stderr
    assert "Traceback" not in result.stderr


def test_api_tokens_file_that_is_missing_exits_2(tmp_path: Path) -> None:
    """A tokens file that does not exist is a configuration error naming the setting, without a token."""
    result = argoai("api", env={"ARGOAI_API_TOKENS_FILE": str(tmp_path / "absent")})
    assert result.returncode == 2
    assert "ARGOAI_API_TOKENS" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["history", "--since", "yesterday", "--offline"], "--since"),
        (["history", "--outcome", "exploded", "--offline"], "--outcome"),
        (["dlq", "purge", "3"], "--yes"),
        (["dlq", "replay"], "--all"),
    ],
)
def test_bad_flags_exit_2_with_one_line(args: list[str], names: str, tmp_path: Path) -> None:
    """A wrong flag value (or a missing --yes / selection) is one line naming it, exit 2, nothing done."""
    result = argoai(*args, env={"ARGOAI_HISTORY_STORE": str(tmp_path / "h.sqlite3")})
    assert result.returncode == 2
    assert names in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_history_setting_exits_2_naming_it(tmp_path: Path) -> None:
    """ARGOAI_HISTORY_MAX_AGE_DAYS=0: one configuration-error line naming the variable, exit 2."""
    result = argoai("history", "--offline", env={"ARGOAI_HISTORY_MAX_AGE_DAYS": "0"})
    assert result.returncode == 2
    assert "ARGOAI_HISTORY_MAX_AGE_DAYS" in result.stderr


def test_offline_history_of_an_empty_store_prints_the_header(tmp_path: Path) -> None:
    """--offline reads only the query store: an empty one prints the table header and '(no records)'."""
    result = argoai("history", "--offline", env={"ARGOAI_HISTORY_STORE": str(tmp_path / "h.sqlite3")})
    assert result.returncode == 0, result.stderr
    assert "OUTCOME" in result.stdout
    assert "(no records)" in result.stdout
    assert (
        argoai(
            "history", "--offline", "--json", env={"ARGOAI_HISTORY_STORE": str(tmp_path / "h.sqlite3")}
        ).stdout.strip()
        == "[]"
    )
