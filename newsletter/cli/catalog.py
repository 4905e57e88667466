"""`newsletter items`, `feeds` and `check`: what is stored and configured."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from newsletter.cli.boundary import config_option, fail, handle_errors, load_app, out

if TYPE_CHECKING:
    from newsletter.service.catalog import FeedHealth


@click.group()
def items() -> None:
    """Inspect stored items."""


@items.command("list")
@config_option
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    default=None,
    help="Published after (UTC).",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
    default=None,
    help="Published up to (UTC).",
)
@click.option("--section", default=None, help="Only items in this section id.")
@click.option(
    "--left-out/--relevant",
    "left_out",
    default=None,
    help="Only items left out as not relevant (with the reason), or only relevant ones.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def items_list(
    config_path: Path | None,
    since: datetime | None,
    until: datetime | None,
    section: str | None,
    left_out: bool | None,
    fmt: str,
) -> None:
    """Every stored item with its feed, title, link, published time, section and the reason.

    An item left out as not relevant has no section ("-" in the table, null in JSON) and says
    why; JSON adds relevant, relevance (0-1), suggested_section and date_unknown
    (docs/editorial.md)."""
    from newsletter.service.catalog import list_items

    rows = list_items(
        load_app(config_path),
        since.replace(tzinfo=UTC) if since else None,
        until.replace(tzinfo=UTC) if until else None,
        section,
        left_out,
    )
    if fmt == "json":
        data = [dataclasses.asdict(row) for row in rows]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("id", "published (UTC)", "feed", "section", "relevance", "title", "reason")
    for r in rows:
        table.add_row(
            str(r.id),
            r.published[:16].replace("T", " ") + (" ?" if r.date_unknown else ""),
            r.feed,
            r.section or "-",
            "" if r.relevance is None else f"{r.relevance:.2f}",
            r.title[:70],
            r.section_reason,
        )
    out.print(table)
    shown = sum(1 for r in rows if r.relevant)
    out.print(
        f"{len(rows)} item(s), {len(rows) - shown} left out (not relevant or excluded by a rule)"
    )
    if any(r.date_unknown for r in rows):
        out.print("? the feed gave no readable date: the time is when the item was first seen")


@click.command()
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def feeds(config_path: Path | None, fmt: str) -> None:
    """Each feed's status, last error, consecutive failures and stored item count."""
    from newsletter.service.catalog import feed_health

    rows = feed_health(load_app(config_path))
    if fmt == "json":
        data = [{**dataclasses.asdict(row), "next_poll": row.next_poll} for row in rows]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(
        "feed", "status", "items", "failures", "last fetched (UTC)", "next poll (UTC)", "last error"
    )
    for r in rows:
        color = {"error": "red", "ok": "green", "not_modified": "green"}.get(r.status, "yellow")
        table.add_row(
            r.name,
            f"[{color}]{r.status}[/]",
            str(r.items),
            str(r.consecutive_failures),
            (r.last_fetched_at or "never")[:16].replace("T", " "),
            _next_poll(r),
            (f"moved to {r.redirect_url}; " if r.redirect_url else "") + (r.last_error or "")[:100],
        )
    out.print(table)


def _next_poll(row: FeedHealth) -> str:
    """The next poll time and why, or "due" when nothing holds the feed back."""
    if not row.enabled:
        return "-"
    when = row.next_poll
    text = when[:16].replace("T", " ") if when else "due"
    if row.lease_owner:
        text += " (polling now)"
    elif row.poll_reason and when == row.poll_due_at:
        text += f" ({row.poll_reason[:60]})"
    return text


@click.command()
@config_option
@handle_errors
def check(config_path: Path | None) -> None:
    """Check the setup offline: NEWSLETTER_* settings, feeds.yaml, every template, and a render
    of the demo issue (bundled sample feeds, your sections and templates).

    Prints one OK line per file, or the first error in it with the file and line. Exit code 1
    when anything failed. Run it after editing feeds.yaml or a template; nothing is fetched,
    stored or sent.
    """
    from newsletter.service.checks import run_checks

    report = run_checks(config_path)
    for line in report.lines:
        mark = "[green]OK[/]   " if line.ok else "[bold red]ERROR[/]"
        text = f"{line.subject}: {line.detail}".replace("[", "\\[")  # not rich markup
        out.print(f"{mark} {text}")
    if not report.ok:
        fail(f"{sum(1 for line in report.lines if not line.ok)} problem(s) found")
    out.print("All checks passed")


COMMANDS = [items, feeds, check]
