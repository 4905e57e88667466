"""`newsletter bounces fetch/list`, and bounces in `subscribers list` and `status`: over a real
IMAP server (dovecot on loopback), with one `error:` line for every misconfiguration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from imap_tools import MailBoxUnencrypted

from newsletter.cli import main
from tests.conftest import write_config
from tests.imap_server import DovecotServer

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "dsn"


@pytest.fixture(scope="module")
def dovecot() -> Iterator[DovecotServer]:
    reason = DovecotServer.missing()
    if reason:
        pytest.skip(reason)
    with DovecotServer() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    config = write_config(tmp_path, [])
    return {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "NEWSLETTER_BASE_URL": "https://news.example.com",
        "NEWSLETTER_CONFIG": str(config),
    }


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _one_error_line(result: Any) -> str:
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return str(lines[0])


def test_fetch_without_a_mailbox_names_the_settings(env: dict[str, str]) -> None:
    line = _one_error_line(run(env, "bounces", "fetch"))
    assert "NEWSLETTER_BOUNCE_IMAP_HOST" in line and "NEWSLETTER_BOUNCE_IMAP_PASSWORD" in line


def test_bad_threshold_setting_is_one_error_line(env: dict[str, str]) -> None:
    line = _one_error_line(run({**env, "NEWSLETTER_BOUNCE_SOFT_THRESHOLD": "0"}, "bounces", "list"))
    assert "NEWSLETTER_BOUNCE_SOFT_THRESHOLD" in line


def test_fetch_list_and_status_through_the_cli(env: dict[str, str], dovecot: DovecotServer) -> None:
    with MailBoxUnencrypted("127.0.0.1", dovecot.port).login(dovecot.user, dovecot.password) as box:
        uids = box.uids()
        if uids:
            box.delete(uids)
        box.append((SAMPLES / "gmail_no_such_user.eml").read_bytes(), "INBOX")
        box.append((SAMPLES / "postfix_delayed.eml").read_bytes(), "INBOX")
    imap = {
        **env,
        "NEWSLETTER_BOUNCE_IMAP_HOST": "127.0.0.1",
        "NEWSLETTER_BOUNCE_IMAP_PORT": str(dovecot.port),
        "NEWSLETTER_BOUNCE_IMAP_USER": dovecot.user,
        "NEWSLETTER_BOUNCE_IMAP_PASSWORD": dovecot.password,
        "NEWSLETTER_BOUNCE_IMAP_TLS": "none",
    }
    for email in ("no.such.reader@gmail.com", "full.box@mail.example.net"):
        assert run(env, "subscribers", "add", email).exit_code == 0

    wrong = _one_error_line(
        run({**imap, "NEWSLETTER_BOUNCE_IMAP_PASSWORD": "nope"}, "bounces", "fetch")
    )
    assert "cannot log in" in wrong and "NEWSLETTER_BOUNCE_IMAP_PASSWORD" in wrong

    fetched = run(imap, "bounces", "fetch")
    assert fetched.exit_code == 0, fetched.output
    assert "read 2 message(s): 2 dsn; 2 event(s) recorded" in fetched.output
    assert "1 address(es) suppressed (no.such.reader@gmail.com)" in fetched.output
    assert "read 0 message(s)" in run(imap, "bounces", "fetch").output

    events = json.loads(run(env, "bounces", "list", "--format", "json").output)
    assert [(e["email"], e["kind"], e["source"], e["suppressed"]) for e in events] == [
        ("full.box@mail.example.net", "soft", "dsn", False),
        ("no.such.reader@gmail.com", "hard", "dsn", True),
    ]
    assert events[1]["diagnostic"].startswith("5.1.1 The email account")
    assert events[1]["occurred_at"].startswith("2026-12-02T09:18:05")
    one = json.loads(
        run(
            env, "bounces", "list", "--email", "no.such.reader@gmail.com", "--format", "json"
        ).output
    )
    assert len(one) == 1

    subs = {
        s["email"]: s
        for s in json.loads(run(env, "subscribers", "list", "--format", "json").output)
    }
    gone = subs["no.such.reader@gmail.com"]
    assert gone["status"] == "bounced" and gone["bounces"] == {"hard": 1}
    assert gone["suppressed_reason"].startswith("hard bounce (dsn): 5.1.1")
    assert subs["full.box@mail.example.net"]["bounces"] == {"soft": 1}

    table = run({**env, "COLUMNS": "200"}, "bounces", "list")
    assert "no.such.reader@gmail.com" in table.output and "2 event(s)" in table.output
    status = run({**env, "COLUMNS": "200"}, "status")
    assert status.exit_code == 0, status.output
    assert "no.such.reader@gmail.com: hard (dsn), suppressed" in status.output
    status_json = json.loads(run(env, "status", "--format", "json").output)
    assert [b["kind"] for b in status_json["bounces"]["recent"]] == ["soft", "hard"]


def test_every_bounce_setting_is_documented() -> None:
    from newsletter.config import Settings
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "bounces.md").read_text(encoding="utf-8")
    names = [
        n
        for n in Settings.model_fields
        if n.startswith(("bounce_", "webhook_", "ses_", "postmark_", "mailgun_", "sendgrid_"))
    ]
    assert len(names) >= 15
    missing = [n for n in names if f"NEWSLETTER_{n.upper()}" not in doc]
    assert missing == []
