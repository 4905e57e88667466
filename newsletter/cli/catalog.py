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

from newsletter.cli.boundary import config_option, err, fail, handle_errors, load_app, out
from newsletter.domain.text import shorten

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
    """Every stored item with its feed, title, published time, section and the reason (JSON adds
    the link).

    An item left out as not relevant has no section ("-" in the table, null in JSON) and says
    why; JSON adds relevant, relevance (0-1), suggested_section and date_unknown
    (docs/editorial.md)."""
    from newsletter.service.catalog import list_items

    app = load_app(config_path)
    if section is not None and section not in app.config.section_ids:
        fail(f"no section {section!r}; sections are {', '.join(app.config.section_ids)}")
    rows = list_items(
        app,
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


@click.group(invoke_without_command=True)
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.pass_context
@handle_errors
def feeds(ctx: click.Context, config_path: Path | None, fmt: str) -> None:
    """Each feed's status, last error, consecutive failures and stored item count; `feeds
    import FILE.opml` and `feeds export FILE.opml` move the feed list to and from feed readers."""
    if ctx.invoked_subcommand is not None:
        return
    from newsletter.service.catalog import feed_health

    rows = feed_health(load_app(config_path))
    if fmt == "json":
        data = [{**dataclasses.asdict(row), "next_poll": row.next_poll} for row in rows]
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("feed", "status", "items", "failures", "last fetched (UTC)", "next poll (UTC)")
    # On a narrow terminal (or a pipe: 80 columns) long words fold onto the next line instead of
    # ending in an ellipsis: the feed's name and its error are what the reader came for.
    table.add_column("last error", overflow="fold")
    table.columns[0].overflow = "fold"
    for r in rows:
        color = {"error": "red", "ok": "green", "not_modified": "green"}.get(r.status, "yellow")
        table.add_row(
            r.name,
            f"[{color}]{r.status}[/]",
            str(r.items),
            str(r.consecutive_failures),
            (r.last_fetched_at or "never")[:16].replace("T", " "),
            _next_poll(r),
            (f"moved to {r.redirect_url}; " if r.redirect_url else "")
            + shorten(r.last_error or "", 100),
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


@feeds.command("export")
@config_option
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@handle_errors
def feeds_export(config_path: Path | None, path: Path) -> None:
    """Write the configured feeds as OPML 2.0 (one folder per section; `-` for standard output)."""
    from newsletter.config import load_config, load_settings
    from newsletter.service.feedlist import export_opml

    config = load_config(config_path or load_settings().config)
    document = export_opml(config, datetime.now(UTC))
    if str(path) == "-":
        sys.stdout.write(document)
        return
    try:
        path.write_text(document, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc}")
    err.print(f"{len(config.feeds)} feeds written to {path}")


@feeds.command("import")
@config_option
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--section",
    default=None,
    metavar="ID",
    help="Section for feeds whose OPML folder names no section (default: the first section).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be added; change nothing.")
@handle_errors
def feeds_import(config_path: Path | None, path: Path, section: str | None, dry_run: bool) -> None:
    """Add the feeds of an OPML file (nested folders allowed) to feeds.yaml.

    A feed's section is its innermost folder whose title or id names a section, else --section.
    Feeds whose URL is already configured are skipped. The result is validated before anything
    is written; the previous file is kept as feeds.yaml.bak and the new one replaces it in one
    step, comments and order kept."""
    from newsletter.config import load_config, load_settings
    from newsletter.service.feedlist import import_opml

    config = load_config(config_path or load_settings().config)
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc}")
    report = import_opml(config, data, section, dry_run=dry_run, source=str(path))
    verb = "would add" if dry_run else "added"
    for feed in report.added:
        out.print(f"{verb}: {feed.name} ({feed.section}) {feed.url}", markup=False)
    for skipped in report.skipped:
        out.print(f"skipped: {skipped.title} {skipped.url}: {skipped.reason}", markup=False)
    summary = f"{len(report.added)} feeds {'would be added' if dry_run else 'added'}, "
    summary += f"{len(report.skipped)} skipped"
    if report.backup:
        summary += f"; the previous file is {report.backup}"
    out.print(summary, markup=False)


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
        if line.warning:
            mark = "[yellow]WARN[/] "
        text = f"{line.subject}: {line.detail}".replace("[", "\\[")  # not rich markup
        out.print(f"{mark} {text}")
    if not report.ok:
        fail(f"{sum(1 for line in report.lines if not line.ok)} problem(s) found")
    out.print("All checks passed")


COMMANDS = [items, feeds, check]
