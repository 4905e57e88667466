"""The command line: every command explains itself, works, and fails with one clear line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.config import load_config
from newsletter.demo.server import FeedServer, Route
from newsletter.domain.periods import latest_due_period
from tests.conftest import ROOT, write_config
from tests.helpers import rss, serve_stories

COMMANDS = [
    [],
    ["check"],
    ["issue"],
    ["issue", "show"],
    ["issue", "pin"],
    ["issue", "approve"],
    ["issue", "unapprove"],
    ["issue", "edit"],
    ["issue", "facts"],
    ["issue", "up"],
    ["issue", "down"],
    ["issue", "special"],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
    ["ingest"],
    ["build"],
    ["send"],
    ["subscribers"],
    ["subscribers", "add"],
    ["subscribers", "remove"],
    ["subscribers", "list"],
    ["subscribers", "import"],
    ["subscribers", "export"],
    ["bounces"],
    ["bounces", "fetch"],
    ["bounces", "list"],
    ["items"],
    ["items", "list"],
    ["feeds"],
    ["feeds", "import"],
    ["feeds", "export"],
    ["users"],
    ["users", "add"],
    ["users", "list"],
    ["users", "remove"],
    ["users", "passwd"],
    ["run"],
    ["demo"],
    ["worker"],
    ["ingest-worker"],
    ["status"],
    ["issue", "resume"],
    ["issue", "resend"],
    ["serve"],
    ["preview-url"],
    ["model"],
    ["model", "status"],
    ["model", "train"],
    ["model", "rollback"],
    ["init"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "newsletter")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # Each command's help says what it does in a sentence, and leaf commands take --config.
    assert len(result.output.split("\n\n")[1].strip()) > 20
    groups = (["db"], ["subscribers"], ["items"], ["issue"], ["model"], ["users"], ["bounces"])
    # `init` makes the folder a feeds.yaml goes in: it takes the folder, not a --config.
    if command and command not in groups and command != ["init"]:
        assert "--config" in result.output


def test_no_command_list_cuts_a_summary_at_an_abbreviation() -> None:
    """Click ends a command's one-line summary at the first ". ": an "e.g." there showed
    `special    Create a one-off special issue NAME (e.g.` in `newsletter issue --help`."""

    context = click.Context(main)

    def walk(group: click.Group, path: str) -> Iterator[tuple[str, click.Command]]:
        for name in group.list_commands(context):  # the group loads its commands lazily
            command = group.get_command(context, name)
            assert command is not None
            yield f"{path} {name}", command
            if isinstance(command, click.Group):
                yield from walk(command, f"{path} {name}")

    commands = list(walk(main, "newsletter"))
    assert len(commands) > 40
    cut = [
        name
        for name, command in commands
        if command.get_short_help_str(limit=500).rstrip(".").endswith(("e.g", "i.e", "etc"))
    ]
    assert cut == []


@pytest.fixture
def cli_env(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> tuple[dict[str, str], Path, str]:
    """Environment and feeds.yaml for running the CLI against a loopback feed."""
    now = datetime.now(UTC)
    config = write_config(tmp_path, [])
    from newsletter.config import load_config

    nl = load_config(config).newsletter
    period = latest_due_period(now, nl.schedule.weekday, nl.schedule.at, nl.tz)
    config = write_config(tmp_path, [serve_stories(feed_server, period.end)])
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_BASE_URL": "https://news.example.com",
        "NEWSLETTER_CONFIG": str(config),
    }
    return env, config, period.label


def run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_issue_edit_and_facts_through_the_cli(cli_env: tuple[dict[str, str], Path, str]) -> None:
    env, _config, period = cli_env
    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "ingest").exit_code == 0
    shown = json.loads(run(env, "issue", "show", "--week", period, "--format", "json").output)
    (acme,) = [
        i for s in shown["sections"] for i in s["items"] if i["title"].startswith("Acme Health")
    ]
    edited = run(env, "issue", "edit", str(acme["id"]), "--week", period, "--title", "Acme: $40M")
    assert edited.exit_code == 0 and "title: Acme: $40M" in edited.output
    bad = run(env, "issue", "facts", str(acme["id"]), "--week", period, "--amount", "forty")
    assert bad.exit_code != 0 and "error: --amount: cannot read 'forty'" in bad.output
    bad = run(env, "issue", "facts", str(acme["id"]), "--week", period, "--round", "Series Q")
    assert bad.exit_code != 0 and "error: --round: unknown round 'Series Q'" in bad.output
    bad = run(env, "issue", "facts", str(acme["id"]), "--week", period, "--event-date", "Dec 9")
    assert bad.exit_code != 0 and "error: --event-date: cannot read 'Dec 9' as a date" in bad.output
    long_title = "x" * 400
    bad = run(env, "issue", "edit", str(acme["id"]), "--week", period, "--title", long_title)
    assert bad.exit_code != 0 and "error: --title: " in bad.output
    good = run(
        env, "issue", "facts", str(acme["id"]), "--week", period, "--amount", "40M",
        "--currency", "USD", "--investors", "Beacon Capital",
    )  # fmt: skip
    assert good.exit_code == 0, good.output
    shown = json.loads(run(env, "issue", "show", "--week", period, "--format", "json").output)
    (acme,) = [i for s in shown["sections"] for i in s["items"] if i["id"] == acme["id"]]
    assert acme["title"] == "Acme: $40M" and acme["edited"] == ["title", "financing"]
    assert acme["facts"]["financing"]["amount_low"] == 40e6
    assert acme["facts"]["financing"]["lead_investors"] == ["Beacon Capital"]
    assert [c["action"] for c in shown["changes"]] == ["edit", "facts"]


def test_workflow_through_the_cli(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, config, period = cli_env
    assert run(env, "db", "upgrade").exit_code == 0
    assert "up to date" in run(env, "db", "upgrade").output

    ingested = run(env, "ingest", "--config", str(config))
    assert ingested.exit_code == 0 and "8 new items" in ingested.output
    assert "0 new items" in run(env, "ingest").output

    feeds = json.loads(run(env, "feeds", "--format", "json").output)
    assert feeds[0]["name"] == "Stories" and feeds[0]["items"] == 8

    items = json.loads(run(env, "items", "list", "--format", "json").output)
    assert len(items) == 8
    assert {"feed", "title", "link", "published", "section", "section_reason"} <= set(items[0])
    # The reading's relevance, documented in docs/editorial.md: every story here is on topic.
    assert {"relevant", "relevance", "suggested_section", "date_unknown"} <= set(items[0])
    assert all(i["relevant"] and 0.0 <= i["relevance"] <= 1.0 for i in items)
    assert all(i["section"] == i["suggested_section"] for i in items)
    left_out = json.loads(run(env, "items", "list", "--left-out", "--format", "json").output)
    assert left_out == []
    status = run(env, "model", "status")
    assert status.exit_code == 0 and "shipped with the package" in status.output
    financing = json.loads(
        run(env, "items", "list", "--section", "financing", "--format", "json").output
    )
    assert {i["title"] for i in financing} == {
        "Acme Health raises $25M Series B led by Beacon Capital",
        "康澜生物完成2000万美元A轮融资，云岭资本领投",
    }
    assert all("link" in i and "utm_source" not in (i["link"] or "") for i in items)

    built = run(env, "build", "--week", period, "--format", "json")
    issue = json.loads(built.output)
    assert issue["period"] == period and issue["item_count"] == 8
    assert [s["id"] for s in issue["sections"]] == [
        "hot_topics",
        "headlines",
        "financing",
        "events",
        "industry",
        "reports",
    ]
    out = tmp_path / "issue.html"
    assert run(env, "build", "--week", period, "--format", "html", "--out", str(out)).exit_code == 0
    assert "<html" in out.read_text(encoding="utf-8")
    text = run(env, "build", "--week", period, "--format", "text").output
    assert "[1]" in text and "<" not in text.split("Links")[0].replace("<https", "")

    assert run(env, "subscribers", "add", "ann@example.com", "--name", "Ann").exit_code == 0
    csv_file = tmp_path / "subs.csv"
    csv_file.write_text("email,name\nwei@example.cn,张伟\nbad-row\n", encoding="utf-8")
    imported = CliRunner().invoke(main, ["subscribers", "import", str(csv_file)], env=env)
    # A skipped row is listed with its line, the rest imported, and the exit code says so.
    assert imported.exit_code == 1 and "1 added" in imported.output and "line 3" in imported.output
    assert "error: 1 row(s) of" in imported.output and "skipped" in imported.output
    listed = json.loads(run(env, "subscribers", "list", "--format", "json").output)
    assert {s["email"]: s["status"] for s in listed} == {
        "ann@example.com": "active",
        "wei@example.cn": "active",
    }
    mailchimp = ROOT / "tests" / "data" / "audience" / "mailchimp_subscribed.csv"
    exported = CliRunner().invoke(main, ["subscribers", "import", str(mailchimp)], env=env)
    assert exported.exit_code == 1, exported.output  # its line 5 is not an address
    assert "Mailchimp export: 3 added" in exported.output and ", line 5: " in exported.output
    wrong = CliRunner().invoke(
        main, ["subscribers", "import", str(mailchimp), "--email-column", "Mail"], env=env
    )
    assert wrong.exit_code == 1 and "Traceback" not in wrong.output
    assert "error: " in wrong.output and "no column 'Mail' for the address" in wrong.output
    for email in ("ana.ruiz@example.com", "wang.fang@example.cn", "no.name@example.org"):
        assert run(env, "subscribers", "remove", email).exit_code == 0

    dry = run(env, "send", "--week", period, "--dry-run")
    assert "would go to 2 subscriber(s)" in dry.output
    assert run(env, "send", "--week", period, "--test", "editor@example.com").exit_code == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    sent = run(env, "send", "--week", period)
    assert sent.exit_code == 0 and "2 sent" in sent.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    assert "already-sent" in run(env, "send", "--week", period).output

    assert run(env, "subscribers", "remove", "ann@example.com").exit_code == 0
    exported = run(env, "subscribers", "export").output
    assert "ann@example.com,Ann,unsubscribed" in exported


def test_a_special_issue_through_the_cli(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    """`issue special` creates it; build, approve and send take its label with --week."""
    env, config, period = cli_env
    assert run(env, "ingest").exit_code == 0
    built = json.loads(run(env, "build", "--week", period, "--format", "json").output)
    tz = load_config(config).newsletter.tz
    days = sorted(
        {
            datetime.fromisoformat(i["published"]).astimezone(tz).date()
            for s in built["sections"]
            for i in s["items"]
        }
    )
    made = run(
        env,
        "issue",
        "special",
        "2026-asco",
        "--from",
        days[0].isoformat(),
        "--to",
        days[-1].isoformat(),
        "--title",
        "ASCO 2026",
    )
    assert made.exit_code == 0 and "Special issue special-2026-asco (ASCO 2026)" in made.output
    special = json.loads(
        run(env, "build", "--week", "special-2026-asco", "--format", "json").output
    )
    assert special["period"] == "special-2026-asco" and special["special_title"] == "ASCO 2026"
    assert special["item_count"] == 8 and special["number"] is None
    assert special["issue_label"].startswith("ASCO 2026 · ")
    assert run(env, "issue", "approve", "--week", "special-2026-asco").exit_code == 0
    assert run(env, "subscribers", "add", "ann@example.com").exit_code == 0
    sent = run(env, "send", "--week", "special-2026-asco")
    assert sent.exit_code == 0 and "Issue special-2026-asco: sent; 1 sent" in sent.output
    again = CliRunner().invoke(
        main,
        [
            "issue",
            "special",
            "2026-asco",
            "--from",
            "2026-06-01",
            "--to",
            "2026-06-02",
            "--title",
            "X",
        ],
        env=env,
    )
    assert again.exit_code == 1 and "exists already" in again.output
    assert len(again.output.strip().splitlines()) == 1 and "Traceback" not in again.output


def test_errors_are_one_clear_line(
    tmp_path: Path, cli_env: tuple[dict[str, str], Path, str]
) -> None:
    env, _config, _ = cli_env
    bad = tmp_path / "bad.yaml"
    bad.write_text("newsletter:\n  title: X\nsections: []\nfeeds: []\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--config", str(bad)], env=env)
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "sender" in result.output
    assert "Traceback" not in result.output

    missing = CliRunner().invoke(main, ["ingest", "--config", str(tmp_path / "nope.yaml")], env=env)
    assert missing.exit_code == 1 and "file not found" in missing.output

    week = CliRunner().invoke(main, ["build", "--week", "2026-48"], env=env)
    assert week.exit_code == 1 and "ISO week like 2026-W48" in week.output

    bad_address = CliRunner().invoke(main, ["subscribers", "add", "not-an-address"], env=env)
    assert bad_address.exit_code == 1 and "not a valid address" in bad_address.output

    bad_env = CliRunner().invoke(main, ["feeds"], env={**env, "NEWSLETTER_SMTP_TLS": "maybe"})
    assert bad_env.exit_code == 1 and "NEWSLETTER_SMTP_TLS" in bad_env.output


def test_ingest_of_a_feed_name_that_polls_nothing_says_so(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    """`ingest --feed` with only misspelt names, or feeds with enabled: false, is an error naming
    them (it used to print "0 of 0 feeds failed" and exit 0), and nothing is fetched; with
    one name to poll, the others are `note:` lines."""
    env, config, _ = cli_env
    wrong_case = run(env, "ingest", "--feed", "stories")
    assert wrong_case.exit_code == 1
    assert "no feed named 'stories'" in wrong_case.output
    assert "did you mean 'Stories'?" in wrong_case.output
    # With one name to poll, the others are notes and the known one is polled (a cron line
    # naming several feeds keeps working when one is disabled or renamed).
    mixed = run(env, "ingest", "--feed", "Stories", "--feed", "Elsewhere")
    assert mixed.exit_code == 0, mixed.output
    assert "note: no feed named 'Elsewhere'" in mixed.output and "did you mean" not in mixed.output
    nothing = run(env, "ingest", "--feed", "Elsewhere", "--feed", "Nowhere")
    assert nothing.exit_code == 1
    assert (
        "no feed named 'Elsewhere'" in nothing.output
        and "no feed named 'Nowhere'" in nothing.output
    )
    assert run(env, "ingest", "--feed", "Stories").exit_code == 0
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["feeds"][0]["enabled"] = False
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    disabled = run(env, "ingest", "--feed", "Stories")
    assert disabled.exit_code == 1 and "feed 'Stories' has enabled: false" in disabled.output


def test_a_change_to_an_item_from_another_week_says_what_it_does(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    """A pin of an item published outside the issue's window brings it in, a move of one
    changes nothing there: each says so in a note, after the change is logged."""
    env, _config, period = cli_env
    assert run(env, "ingest").exit_code == 0
    shown = json.loads(run(env, "issue", "show", "--week", period, "--format", "json").output)
    item_id = str(next(i["id"] for s in shown["sections"] for i in s["items"]))
    inside = run(env, "issue", "move", item_id, "--section", "industry", "--week", period)
    assert inside.exit_code == 0 and "note:" not in inside.output
    moved = run(env, "issue", "move", item_id, "--section", "industry", "--week", "2020-W10")
    assert moved.exit_code == 0
    assert "Issue 2020-W10: move item" in moved.output
    assert "outside issue 2020-W10 (2020-02-24 " in moved.output
    assert "move changes nothing in this issue" in moved.output
    pinned = run(env, "issue", "pin", item_id, "--week", "2020-W10")
    assert pinned.exit_code == 0 and "the pin brings it into this issue" in pinned.output
    other = json.loads(run(env, "issue", "show", "--week", "2020-W10", "--format", "json").output)
    assert [i["id"] for s in other["sections"] for i in s["items"]] == [int(item_id)]
    # Once pinned there, it is in that issue: a move applies, and no note says otherwise.
    moved_again = run(env, "issue", "move", item_id, "--section", "reports", "--week", "2020-W10")
    assert moved_again.exit_code == 0 and "changes nothing" not in moved_again.output
    other = json.loads(run(env, "issue", "show", "--week", "2020-W10", "--format", "json").output)
    assert [s["id"] for s in other["sections"] if s["items"]] == ["reports"]
    again = run(env, "issue", "move", item_id, "--section", "reports", "--week", "2020-W10")
    assert again.exit_code == 0  # the same decision again: not logged
    assert f"Issue 2020-W10: item {item_id} is already moved (reports); nothing changed" in (
        again.output
    )
    other = json.loads(run(env, "issue", "show", "--week", "2020-W10", "--format", "json").output)
    assert [c["action"] for c in other["changes"]] == ["move", "pin", "move"]
    # A week with nothing in it: one line per section, not six empty tables.
    empty = run(env, "issue", "show", "--week", "2020-W11")
    assert empty.exit_code == 0 and "┏" not in empty.output
    assert "In-depth report 深度报告 (0 of 0): nothing this week" in empty.output


def test_a_misspelt_section_or_two_names_for_the_issue_are_refused(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    """`items list --section` with a section not in feeds.yaml is an error listing them (it
    used to print an empty table); `--week` with `--as-of` is a usage error (exit code 2)."""
    env, _config, period = cli_env
    assert run(env, "ingest").exit_code == 0
    listed = run(env, "items", "list", "--section", "headline")
    assert listed.exit_code == 1
    assert "no section 'headline'; sections are " in listed.output
    assert "headlines" in listed.output
    assert run(env, "items", "list", "--section", "headlines").exit_code == 0
    for command in (["issue", "show"], ["build", "--format", "text"], ["issue", "drop", "1"]):
        both = run(env, *command, "--week", period, "--as-of", "2026-01-05")
        assert both.exit_code == 2, command
        assert "--week and --as-of both name the issue; give one of them" in both.output


def test_worker_status_and_resend_through_the_cli(
    cli_env: tuple[dict[str, str], Path, str], smtp_server: Any
) -> None:
    env, _config, period = cli_env
    env = {
        **env,
        "NEWSLETTER_MAIL_TRANSPORT": "smtp",
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp_server.port),
        "NEWSLETTER_SMTP_TLS": "none",
        "NEWSLETTER_SMTP_CONNECTIONS": "2",
    }
    assert run(env, "ingest").exit_code == 0
    for address in ("a@example.com", "b@example.com"):
        assert run(env, "subscribers", "add", address).exit_code == 0
    smtp_server.handler.script["b@example.com"] = [("data", "554 5.6.0 rejected"), "250"]
    assert "no jobs stored yet" in run(env, "status").output
    sent = run(env, "send", "--week", period)
    assert sent.exit_code == 1 and "1 sent, 1 failed" in sent.output
    status = json.loads(run(env, "status", "--format", "json").output)
    assert status["issue"]["period"] == period and status["issue"]["status"] == "sent"
    assert status["issue"]["counts"]["failed"] == 1 and status["issue"]["counts"]["sent"] == 1
    assert status["issue"]["recent_errors"][0]["email"] == "b@example.com"
    # Without --week, resend takes the issue that was sent.
    resend = run(env, "issue", "resend", "--failed")
    assert resend.exit_code == 0 and "1 failed deliveries queued again" in resend.output
    worker = run(env, "worker", "--once")
    assert worker.exit_code == 0
    status = json.loads(run(env, "status", "--format", "json").output)
    assert status["issue"]["counts"] == {"sent": 2, "deferred": 0}
    assert status["issue"]["status"] == "sent"
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == ["a@example.com", "b@example.com"]


def test_db_commands_honour_config(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, config, _ = cli_env
    upgraded = run(env, "db", "upgrade", "--config", str(config))
    assert upgraded.exit_code == 0 and "upgraded from empty to" in upgraded.output
    current = run(env, "db", "current", "--config", str(config))
    assert current.exit_code == 0 and "current revision:" in current.output
    assert "empty" not in current.output
    missing = tmp_path / "nowhere" / "feeds.yaml"
    for command in ("upgrade", "current"):
        result = CliRunner().invoke(main, ["db", command, "--config", str(missing)], env=env)
        assert result.exit_code == 1
        assert "error:" in result.output and "nowhere" in result.output
        assert "Traceback" not in result.output


@pytest.mark.slow  # two subprocesses
def test_log_level_comes_from_the_settings_and_dotenv(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NEWSLETTER_LOG_LEVEL in .env is read like every other setting (INFO shows the poll)."""
    env, _, _ = cli_env
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    quiet = subprocess.run(
        [sys.executable, "-m", "newsletter", "ingest"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0 and " INFO " not in quiet.stderr
    (workdir / ".env").write_text("NEWSLETTER_LOG_LEVEL=INFO\n", encoding="utf-8")
    # A new database, so that our own INFO event (the migration) has something to say.
    fresh = {**env, "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    loud = subprocess.run(
        [sys.executable, "-m", "newsletter", "ingest"],
        env={**os.environ, **fresh},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loud.returncode == 0 and " INFO newsletter.db: migrating database" in loud.stderr


@pytest.mark.parametrize(
    ("inserted", "expected"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ 'a' + 1 }}", "TypeError"),
        ("{% for i in range(10 ** 9) %}{% endfor %}", "range too big"),
        (
            "{% macro again(n) %}{{ again(n + 1) }}{% endmacro %}{{ again(0) }}",
            "calls itself without end",
        ),
    ],
)
def test_template_runtime_errors_are_one_error_line_in_build_and_send(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path, inserted: str, expected: str
) -> None:
    """An editor's broken template stops `build` and `send` with one line naming the file and
    line; nothing is frozen or sent."""
    env, config, period = cli_env
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    partial = templates / "email" / "sections" / "_item.html"
    lines = partial.read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join([lines[0], inserted, *lines[1:]]), encoding="utf-8")
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["newsletter"]["templates"] = str(templates)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert run(env, "ingest").exit_code == 0
    add = run(env, "subscribers", "add", "reader@example.com")
    assert add.exit_code == 0
    for command in (["build", "--week", period], ["send", "--week", period]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)  # the CLI's own exit, not a crash
        assert "error:" in result.output and "sections/_item.html, line 2" in result.output
        assert expected.lower() in result.output.lower()
    status = run(env, "status", "--format", "json")
    assert json.loads(status.output)["issue"] is None  # nothing was frozen


def test_left_out_items_are_listed_counted_and_restored(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    env, config, period = cli_env
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["topic"] = {"exclude": ["Orbis"]}
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert run(env, "ingest").exit_code == 0
    left = json.loads(run(env, "items", "list", "--left-out", "--format", "json").output)
    assert [(i["title"], i["section"], i["relevant"]) for i in left] == [
        ("Orbis Robotics partners with City Hospital", None, False)
    ]
    assert left[0]["section_reason"] == "excluded by rule 'Orbis'"
    shown = run(env, "issue", "show", "--week", period)
    assert "Left out this week: 1; top reasons: excluded by rule 'Orbis' 1." in shown.output
    assert "Orbis Robotics" not in shown.output.split("Left out this week")[1]
    restored = run(env, "issue", "restore", "--week", period, str(left[0]["id"]))
    assert restored.exit_code == 0
    again = json.loads(run(env, "issue", "show", "--week", period, "--format", "json").output)
    titles = {i["title"]: s["id"] for s in again["sections"] for i in s["items"]}
    assert titles["Orbis Robotics partners with City Hospital"] == left[0]["suggested_section"]
    assert again["left_out"] == 0


def test_issue_show_counts_the_stories_not_shown_for_space(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    """Items placed in a section but cut by its cap or the per-feed cap are counted, with the
    setting that cut them: they are not "left out", and a new user would wonder where they went."""
    env, config, period = cli_env
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["topic"] = {"per_source_cap": 1}
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert run(env, "ingest").exit_code == 0
    data = json.loads(run(env, "issue", "show", "--week", period, "--format", "json").output)
    unshown = sum(s["available"] - len(s["items"]) for s in data["sections"])
    assert unshown >= 1  # two funding rounds of one feed, one shown
    shown = run(env, "issue", "show", "--week", period)
    line = " ".join(shown.output.split())
    assert f"Not shown for space: {unshown} stor" in line
    assert "topic.per_source_cap (1 per feed and section)" in line


def test_a_damaged_local_model_is_one_error_and_no_feed_is_touched(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    env, _config, _period = cli_env
    models = Path(env["NEWSLETTER_DATA_DIR"]) / "models"
    models.mkdir(parents=True)
    (models / "reading-bad.json.gz").write_bytes(b"not a model")
    (models / "history").write_text("reading-bad.json.gz\n", encoding="utf-8")
    (models / "current").write_text("reading-bad.json.gz", encoding="utf-8")
    ingested = CliRunner().invoke(main, ["ingest"], env=env)
    assert ingested.exit_code == 1
    lines = [line for line in ingested.output.splitlines() if line.strip()]
    assert lines == [lines[0]] and lines[0].startswith("error: cannot read model")
    assert "`newsletter model rollback` goes back to the previous model" in lines[0]
    assert "Traceback" not in ingested.output
    feeds = json.loads(run(env, "feeds", "--format", "json").output)
    assert [(f["name"], f["consecutive_failures"], f["items"]) for f in feeds] == [
        ("Stories", 0, 0)
    ]
    # Rolling back returns to the shipped model, and ingest works again.
    assert run(env, "model", "rollback").exit_code == 0
    assert "8 new items" in run(env, "ingest").output


def test_each_command_is_found_in_the_module_that_declares_it() -> None:
    """The group imports a command's module only when that command runs: the table of where
    each command lives must agree with the modules' own COMMANDS."""
    import importlib

    main_module = importlib.import_module("newsletter.cli.main")

    declared = {
        command.name: module
        for module in main_module.COMMAND_MODULES
        for command in importlib.import_module(f"newsletter.cli.{module}").COMMANDS
    }
    assert declared == main_module.COMMAND_HOME
    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(declared)
    for name in declared:
        assert main.get_command(ctx, name) is not None
    assert main.get_command(ctx, "no-such-command") is None


def test_ingest_starts_without_migrations_rendering_or_the_reading(tmp_path: Path) -> None:
    """`newsletter ingest` imports no Alembic (the schema is up to date), no rendering, and no
    parser or detectors in its own process (they run in the parsing processes)."""
    heavy = (
        "alembic",
        "premailer",
        "jinja2",
        "feedparser",
        "newsletter.email.render",
        "newsletter.domain.editorial.classify",
        "newsletter.feeds.parse",
        "newsletter.web",
        "numpy",
    )
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from newsletter.cli import main\n"
        "result = CliRunner().invoke(main, ['ingest'])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_CONFIG": str(write_config(tmp_path, [])),
    }
    env.pop("NEWSLETTER_DATABASE_URL", None)
    upgrade = subprocess.run(
        [sys.executable, "-m", "newsletter", "db", "upgrade"], env=env, capture_output=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# What a poll of unchanged feeds never needs: the ORM and the table classes (feed states are
# read and written with Core), pydantic-settings (the settings are read by
# newsletter.config.settings), and, before its requests, rich (it prints after them).
ORM_AND_SETTINGS = (
    "sqlmodel",
    "sqlalchemy.orm",
    "newsletter.storage.models",
    "newsletter.storage.queries.feeds",
    "newsletter.storage.queries.items",
    "pydantic_settings",
    "alembic",
    "feedparser",
    "numpy",
)
BEFORE_THE_FIRST_REQUEST = (*ORM_AND_SETTINGS, "rich", "rich.console", "rich.progress")


def test_a_poll_of_unchanged_feeds_imports_no_orm_and_no_rich_before_its_requests(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`newsletter ingest` of feeds that answer 304 (as users run it, in its own process) has
    not imported the ORM, pydantic-settings or rich when its first request goes out, and never
    imports the ORM or pydantic-settings. Asserted on sys.modules, not on time."""
    feed_server.routes["/feed.xml"] = Route(
        rss([("Story", "k1", datetime.now(UTC))]), "application/rss+xml"
    )
    entry = {"name": "Feed", "url": feed_server.url("/feed.xml"), "section": "headlines"}
    env = {
        **os.environ,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_CONFIG": str(write_config(tmp_path, [entry])),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
    }
    env.pop("NEWSLETTER_DATABASE_URL", None)
    for args in (["db", "upgrade"], ["ingest"]):  # the schema, then the first poll
        done = subprocess.run(
            [sys.executable, "-m", "newsletter", *args],
            env=env,
            capture_output=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    script = (
        "import sys\n"
        "import newsletter.cli\n"  # first, as the command does (newsletter.cli.startup)
        "from newsletter.feeds import fetch\n"
        "first = []\n"
        "real = fetch.fetch_feed\n"
        "def fetch_feed(*args, **kwargs):\n"
        "    if not first:\n"
        "        first.append(sorted(sys.modules))\n"
        "    return real(*args, **kwargs)\n"
        "fetch.fetch_feed = fetch_feed\n"
        "from newsletter.cli import main\n"
        "main.main(['ingest'], standalone_mode=False)\n"
        f"print('FIRST', sorted(set(first[0]) & set({BEFORE_THE_FIRST_REQUEST!r})))\n"
        f"print('END', sorted(set(sys.modules) & set({ORM_AND_SETTINGS!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "0 new items; 0 of 1 feeds failed" in done.stdout
    assert "if-none-match" in feed_server.requests[-1][1]  # answered 304
    lines = [line for line in done.stdout.splitlines() if line.startswith(("FIRST", "END"))]
    assert lines == ["FIRST []", "END []"]


def test_no_progress_bar_and_no_rich_where_standard_error_is_no_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """progress() draws nothing when standard error is no terminal, as rich would decide, and
    then does not build rich's Progress at all; rich's variables that make a stream a
    terminal still give rich's own bar."""
    import io

    from rich.progress import Progress

    from newsletter.cli import boundary

    for name in ("FORCE_TERMINAL", "FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with boundary.progress() as bar:
        task = bar.add_task("Polling feeds", total=3)
        bar.advance(task)
    assert not isinstance(bar, Progress)
    monkeypatch.setenv("FORCE_TERMINAL", "1")
    assert isinstance(boundary.progress(), Progress)


def test_ingest_over_many_feeds_lists_only_the_feeds_worth_a_look(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    """Over 30 feeds, the table keeps the feeds with an error or a note and counts the others in
    one line; --all-feeds lists every feed."""
    when = datetime.now(UTC)
    entries = []
    for n in range(33):
        path = f"/feed{n}.xml"
        feed_server.routes[path] = Route(
            rss([(f"Story {n}", f"k{n}", when)]), "application/rss+xml"
        )
        entries.append(
            {"name": f"Feed {n:02d}", "url": feed_server.url(path), "section": "headlines"}
        )
    entries.append({"name": "Gone", "url": feed_server.url("/missing.xml"), "section": "headlines"})
    config = write_config(tmp_path, entries)
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_CONFIG": str(config),
    }
    first = run(env, "ingest")
    assert first.exit_code == 0
    assert "Gone" in first.output and "Feed 00" not in first.output
    assert "33 other feeds without a note (33 ok); `newsletter ingest --all-feeds`" in " ".join(
        first.output.split()
    )
    assert "33 new items; 1 of 34 feeds failed" in first.output
    again = run(env, "ingest", "--all-feeds")
    assert again.exit_code == 0
    assert all(f"Feed {n:02d}" in again.output for n in range(33))
    assert "other feeds" not in again.output
    assert "0 new items; 1 of 34 feeds failed" in again.output


def test_start_up_collector_thresholds_are_put_back_once_the_app_is_open(
    cli_env: tuple[dict[str, str], Path, str],
) -> None:
    """The collector runs less often while a command's modules load, and as usual once its app
    is open: a long-running command (run, serve, the workers) never keeps the raised thresholds."""
    import gc

    from newsletter.cli import startup

    startup.end()  # importing newsletter.cli began it; no app was opened in this test yet
    gc.unfreeze()  # what an earlier test's app froze: this test's end must freeze again
    defaults = gc.get_threshold()
    env, _config, _period = cli_env
    try:
        startup.begin()
        assert gc.get_threshold() == startup.STARTUP_THRESHOLD
        assert run(env, "db", "upgrade").exit_code == 0
        assert run(env, "ingest").exit_code == 0
        assert gc.get_threshold() == defaults
        assert gc.get_freeze_count() > 0  # the start-up's objects, out of the collector's way
        startup.end()  # a second end is a no-op
        assert gc.get_threshold() == defaults
    finally:
        gc.set_threshold(*defaults)
        gc.unfreeze()


def test_a_skipped_build_says_that_nothing_was_written(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path
) -> None:
    env, _config, period = cli_env
    assert run(env, "ingest").exit_code == 0
    preview = tmp_path / "issue.html"
    built = run(env, "build", "--week", period, "--out", str(preview))
    assert built.exit_code == 0 and preview.read_text(encoding="utf-8").startswith("<!DOCTYPE")
    earlier = preview.read_bytes()

    # A week with no items: skipped (exit 0, as documented), and the file is the earlier build.
    empty = "2020-W10"
    again = run(env, "build", "--week", empty, "--out", str(preview))
    assert again.exit_code == 0
    assert f"Issue {empty} skipped: only 0 item(s)" in again.stderr
    assert f"{preview} was not written: it still holds an earlier build." in again.stderr
    assert preview.read_bytes() == earlier

    fresh = tmp_path / "new.html"
    assert (
        f"{fresh} was not written."
        in run(env, "build", "--week", empty, "--out", str(fresh)).stderr
    )
    assert not fresh.exists()

    to_stdout = run(env, "build", "--week", empty)
    assert to_stdout.exit_code == 0 and to_stdout.stdout == ""
    assert "Nothing was written to standard output." in to_stdout.stderr


def test_chinese_summaries_are_cut_to_the_room_of_an_english_one(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    from newsletter.domain.text import display_width

    config = write_config(tmp_path, [])
    nl = load_config(config).newsletter
    period = latest_due_period(datetime.now(UTC), nl.schedule.weekday, nl.schedule.at, nl.tz)
    when = format_datetime(min(period.end, datetime.now(UTC)) - timedelta(hours=3))
    chinese = (
        "国家医保局发布2027年国家基本医疗保险药品目录调整工作方案，创新药和罕见病用药继续作为重点。"
        "方案明确了申报条件、专家评审和谈判的时间安排，预计年内公布结果。"
        "业内人士认为，本轮调整将进一步加快创新药从获批到进入医保的速度，对创新药企业的商业化具有重要意义。"
    ) * 2  # 190 characters: under the 280 characters an English summary keeps, 380 columns
    english = "Regulators finalized the rules for algorithm updates in medical devices. " * 3
    items = [
        ("国家医保局发布2027年医保目录调整工作方案", "zh1", chinese),
        ("FDA finalizes guidance on AI-enabled device updates", "en1", english.strip()),
    ]
    feed_server.routes["/mixed.xml"] = Route(
        (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
            + "".join(
                f"<item><title>{t}</title><link>https://example.com/{g}</link><guid>{g}</guid>"
                f"<pubDate>{when}</pubDate><description>{s}</description></item>"
                for t, g, s in items
            )
            + "</channel></rss>"
        ).encode(),
        "application/rss+xml",
    )
    feed = {"name": "Mixed", "url": feed_server.url("/mixed.xml"), "section": "industry"}
    config = write_config(tmp_path, [feed])
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_CONFIG": str(config),
    }
    assert run(env, "ingest").exit_code == 0
    built = run(env, "build", "--week", period.label, "--format", "text", "--force")
    assert built.exit_code == 0, built.output
    lines = [line.strip() for line in built.stdout.splitlines()]
    (shown,) = [line for line in lines if line.startswith("国家医保局发布2027年国家基本")]
    assert shown.endswith("…") and chinese.startswith(shown[:-1])
    assert 250 <= display_width(shown) <= 281 and len(shown) < len(chinese)
    assert english.strip() in lines  # 225 characters of English: whole, as before
    html = run(env, "build", "--week", period.label, "--format", "html", "--force").stdout
    assert f">{shown}</p>" in html


def test_a_new_newsletter_is_told_what_to_do_next(tmp_path: Path, database_url: str) -> None:
    """Only the starter's disabled example feed: `ingest` says to add one; `send` of the due
    issue, empty, says which issue comes next and how to preview or send it."""
    from newsletter.domain.periods import period_containing

    feed = {"name": "Example", "url": "https://example.com/feed.xml", "section": "headlines"}
    config = write_config(tmp_path, [{**feed, "enabled": False}])
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_CONFIG": str(config),
    }
    ingested = run(env, "ingest")
    assert ingested.exit_code == 0
    assert f"warning: no enabled feed in {config}" in ingested.stderr

    sent = run(env, "send")
    assert sent.exit_code == 0 and "skipped: only 0 item(s)" in sent.stdout
    nl = load_config(config).newsletter
    upcoming = period_containing(datetime.now(UTC), nl.schedule.weekday, nl.schedule.at, nl.tz)
    assert f"The next issue, {upcoming.label}, goes on" in sent.stderr
    assert f"`newsletter send --week {upcoming.label}` sends it now" in sent.stderr
    # Named with --week, the issue is what was asked for: no pointer elsewhere.
    assert "The next issue" not in run(env, "send", "--week", "2020-W10").stderr


def test_config_before_the_command_is_the_commands_config(
    cli_env: tuple[dict[str, str], Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, config, period = cli_env
    env = {**env, "NEWSLETTER_CONFIG": None}  # type: ignore[dict-item]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no ./feeds.yaml: only --config can find it
    ingested = run(env, "--config", str(config), "ingest")
    assert ingested.exit_code == 0 and "8 new items" in ingested.output
    feeds = json.loads(run(env, "--config", str(config), "feeds", "--format", "json").stdout)
    assert feeds[0]["items"] == 8
    shown = run(env, "--config", str(config), "issue", "show", "--week", period, "--format", "json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["period"] == period
    # The command's own --config wins over the one before it.
    missing = run(env, "--config", str(config), "feeds", "--config", "nope.yaml")
    assert missing.exit_code == 1 and "nope.yaml: file not found" in missing.output
    assert run(env, "feeds").exit_code == 1  # and without either, nothing is found


def test_the_command_never_imports_httpx_s_command_line(tmp_path: Path) -> None:
    """newsletter.cli.startup keeps httpx from importing its own command-line tool (rich's
    syntax highlighting and pygments); httpx itself works as before."""
    code = (
        "import sys, newsletter.cli, httpx; "
        "from newsletter.feeds.fetch import FetchLimits, make_client; "
        "make_client(FetchLimits(5, 1000, True)).close(); "
        "print('pygments' in sys.modules, 'rich.syntax' in sys.modules, callable(httpx.main))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.split() == ["False", "False", "True"]


def test_the_lazy_console_is_one_console_whichever_threads_print_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Threads that print at once get the same Console (and so its lock), even when making
    one is slow."""
    import threading
    import time

    import rich.console

    from newsletter.cli import boundary

    made: list[object] = []

    class SlowConsole(rich.console.Console):
        def __init__(self, **options: object) -> None:
            time.sleep(0.05)
            super().__init__(**options)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(rich.console, "Console", SlowConsole)
    lazy = boundary._LazyConsole(stderr=True)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(lazy.made())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and all(console is made[0] for console in got) and len(got) == 8
