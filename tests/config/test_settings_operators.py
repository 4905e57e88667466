"""Operators' settings: unknown NEWSLETTER_* variables warned with a did-you-mean, and relative
paths (data folder, outbox, DKIM key, a SQLite file) found from feeds.yaml's folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import Settings, unknown_variables, warn_unknown_variables
from newsletter.config import settings as settings_module
from tests.conftest import write_config


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing warned yet (the warning is once per process)."""
    monkeypatch.setattr(settings_module, "_warned", set())


def test_misspelled_variable_gets_a_did_you_mean() -> None:
    found = unknown_variables(
        ["NEWSLETTER_SMTP_HOSTNAME", "NEWSLETTER_DATABASE_URI", "PATH", "NEWSLETTER_SMTP_HOST"],
        "environment",
    )
    assert [(u.name, u.suggestion) for u in found] == [
        ("NEWSLETTER_DATABASE_URI", "NEWSLETTER_DATABASE_URL"),
        ("NEWSLETTER_SMTP_HOSTNAME", "NEWSLETTER_SMTP_HOST"),
    ]
    line = found[1].warning()
    assert "\n" not in line
    assert line.startswith("NEWSLETTER_SMTP_HOSTNAME (from the environment) is not a setting")
    assert "did you mean NEWSLETTER_SMTP_HOST?" in line


def test_unrelated_unknown_name_has_no_suggestion_and_known_names_pass() -> None:
    found = unknown_variables(
        ["NEWSLETTER_XYZZY", "newsletter_log_level", "NEWSLETTER_TEST_POSTGRES_URL"], "environment"
    )
    # Settings are read case-insensitively; NEWSLETTER_TEST_* belongs to the test suite.
    assert [(u.name, u.suggestion) for u in found] == [("NEWSLETTER_XYZZY", None)]
    assert "did you mean" not in found[0].warning()


def test_warned_once_per_process_from_environment_and_env_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("NEWSLETTER_POLL_MINUTE=5\nNEWSLETTER_BASE_URL=https://x.example\n")
    environ = {"NEWSLETTER_SEND_RATE_PER_SECONDS": "3", "HOME": "/root"}
    with caplog.at_level(logging.WARNING, logger="newsletter.config"):
        first = warn_unknown_variables(environ, env_file)
        warn_unknown_variables(environ, env_file)
    assert {(u.name, u.suggestion) for u in first} == {
        ("NEWSLETTER_SEND_RATE_PER_SECONDS", "NEWSLETTER_SEND_RATE_PER_SECOND"),
        ("NEWSLETTER_POLL_MINUTE", "NEWSLETTER_POLL_MINUTES"),
    }
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2  # once each, though asked twice
    assert any(f"(from the {env_file} file)" in m for m in messages)
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_cli_prints_one_warning_line_and_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, [])
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main,
        ["subscribers", "list", "--config", str(config)],
        env={"NEWSLETTER_DATA_DIRECTORY": "/elsewhere", "NEWSLETTER_DATABASE_URL": None},
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "NEWSLETTER_DATA_DIRECTORY" in line]
    assert len(lines) == 1, result.output
    assert "WARNING" in lines[0] and "did you mean NEWSLETTER_DATA_DIR?" in lines[0]
    assert "Traceback" not in result.output


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = write_config(project, [])
    settings = Settings(
        data_dir=Path("data"),
        outbox_dir=Path("mail/out"),
        dkim_key_path=Path("keys/dkim.pem"),
        database_url="sqlite:///db/news.db?timeout=5",
    ).anchored(config)
    assert settings.data_dir == project / "data"
    assert settings.outbox_dir == project / "mail" / "out"
    assert settings.dkim_key_path == project / "keys" / "dkim.pem"
    assert settings.database_url == f"sqlite:///{project / 'db' / 'news.db'}?timeout=5"


def test_absolute_paths_and_server_urls_are_kept(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    settings = Settings(data_dir=Path("/var/lib/newsletter"), database_url=pg).anchored(config)
    assert settings.data_dir == Path("/var/lib/newsletter")
    assert settings.database_url == pg
    memory = Settings(database_url="sqlite:///:memory:").anchored(config)
    assert memory.database_url == "sqlite:///:memory:"
    absolute = Settings(database_url=f"sqlite:///{tmp_path}/a.db").anchored(config)
    assert absolute.database_url == f"sqlite:///{tmp_path}/a.db"


def test_command_run_from_another_folder_uses_the_same_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from the project folder, then from elsewhere with --config: one database, in
    <project>/data, and no new empty one in the other folder."""
    project = tmp_path / "project"
    elsewhere = tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    config = write_config(project, [])
    env = {"NEWSLETTER_DATABASE_URL": None, "NEWSLETTER_DATA_DIR": None}
    runner = CliRunner()
    monkeypatch.chdir(project)
    added = runner.invoke(main, ["subscribers", "add", "reader@example.com"], env=env)
    assert added.exit_code == 0, added.output
    monkeypatch.chdir(elsewhere)
    listed = runner.invoke(main, ["subscribers", "list", "--config", str(config)], env=env)
    assert listed.exit_code == 0, listed.output
    assert "reader@example.com" in listed.output
    assert (project / "data" / "newsletter.db").is_file()
    assert not (elsewhere / "data").exists()
