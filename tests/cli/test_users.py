"""`newsletter users add|list|remove|passwd`: passwords from standard input, never echoed;
bad input is one `error:` line."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

import newsletter.service.accounts as accounts_service
from newsletter.cli import main
from newsletter.config import Settings
from newsletter.service.accounts import authenticate
from newsletter.service.app import open_app
from tests.conftest import write_config

PASSWORD = "a long editor password"


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2id parameters (same library and code path) for a busy test machine."""
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts_service, "_hasher", quick)
    monkeypatch.setattr(accounts_service, "_DUMMY_HASH", quick.hash("dummy"))


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    config = write_config(tmp_path, [])
    return {
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def test_add_list_passwd_remove(
    env: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    added = run(
        env,
        "users",
        "add",
        "Ed@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    assert "ed@example.com: added as admin" in added.output
    run(env, "users", "add", "writer@example.com", "--password-stdin", stdin=PASSWORD + "\n")
    listed = run(env, "users", "list", "--format", "json")
    rows = json.loads(listed.output)
    assert [(r["email"], r["role"]) for r in rows] == [
        ("ed@example.com", "admin"),
        ("writer@example.com", "editor"),
    ]
    assert "hash" not in listed.output and PASSWORD not in listed.output
    table = run(env, "users", "list")
    assert "writer@example.com" in table.output and "never" in table.output

    changed = run(
        env,
        "users",
        "passwd",
        "writer@example.com",
        "--password-stdin",
        stdin="another long password\n",
    )
    assert changed.exit_code == 0 and "signed out everywhere" in changed.output
    app = open_app(
        Settings(database_url=env["NEWSLETTER_DATABASE_URL"], data_dir=tmp_path / "data"),
        Path(env["NEWSLETTER_CONFIG"]),
    )
    try:
        assert authenticate(app, "writer@example.com", PASSWORD) is None
        assert authenticate(app, "writer@example.com", "another long password") is not None
    finally:
        app.engine.dispose()

    last_admin = run(env, "users", "remove", "ed@example.com")
    assert last_admin.exit_code == 1 and "last admin" in last_admin.output
    removed = run(env, "users", "remove", "writer@example.com")
    assert removed.exit_code == 0, removed.output
    everything = added.output + changed.output + caplog.text
    assert PASSWORD not in everything and "another long password" not in everything


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "x@example.com", "--password-stdin"], "short\n", "at least 10"),
        (
            ["users", "add", "x@example.com", "--password-stdin"],
            "",
            "no password on standard input",
        ),
        (["users", "add", "not an address", "--password-stdin"], PASSWORD, "not a valid address"),
        (["users", "remove", "nobody@example.com"], None, "no account nobody@example.com"),
        (["users", "passwd", "nobody@example.com", "--password-stdin"], PASSWORD, "no account"),
    ],
)
def test_bad_input_is_one_error_line(
    env: dict[str, str], args: list[str], stdin: str | None, message: str
) -> None:
    result = run(env, *args, stdin=stdin)
    assert result.exit_code == 1
    assert result.output.count("error:") == 1 and message in result.output
    assert "Traceback" not in result.output


def test_an_address_has_one_account(env: dict[str, str]) -> None:
    assert (
        run(env, "users", "add", "a@example.com", "--password-stdin", stdin=PASSWORD).exit_code == 0
    )
    again = run(env, "users", "add", "A@example.com", "--password-stdin", stdin=PASSWORD)
    assert again.exit_code == 1 and "already has an account" in again.output


def test_without_a_terminal_the_password_is_asked_for_on_stdin(env: dict[str, str]) -> None:
    """From a script (no terminal to type into), no prompt: one error line naming the option."""
    added = run(env, "users", "add", "ed@example.com", "--role", "editor", stdin="")
    assert added.exit_code == 1 and "Aborted" not in added.output
    assert added.output.strip().splitlines()[-1] == (
        "error: standard input is not a terminal, so the password cannot be typed here; pipe "
        "it in with --password-stdin (one line)"
    )
    assert "ed@example.com" not in run(env, "users", "list").output
