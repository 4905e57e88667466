"""The `newsletter` command: a thin layer over the service modules; errors become one line."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from newsletter import __version__
from newsletter.config import Settings, load_settings
from newsletter.errors import IssueError, MailError, NewsletterError
from newsletter.logs import configure_logging
from newsletter.service.app import App, open_app
from newsletter.storage import db

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn NewsletterError into one line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NewsletterError as exc:
            _fail(str(exc).replace("[", "\\["))
        except KeyboardInterrupt:
            _fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def config_option(func: F) -> F:
    """--config PATH on every command."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="feeds.yaml to use (default: $NEWSLETTER_CONFIG, else ./feeds.yaml).",
    )(func)


def period_options(func: F) -> F:
    """--week / --as-of."""
    func = click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="Build the issue that was next to go on this date (YYYY-MM-DD).",
    )(func)
    return click.option(
        "--week",
        default=None,
        metavar="YYYY-Www",
        help="ISO week of the issue, e.g. 2026-W48 (default: see the command's description).",
    )(func)


def _progress() -> Progress:
    """A progress bar on standard error that disappears when the work is done."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    )


def _app(config_path: Path | None, **overrides: Any) -> App:
    settings = load_settings(**overrides)
    return open_app(settings, config_path)


def _as_date(value: datetime | None) -> date | None:
    return value.date() if value else None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="newsletter")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Build and send a sectioned weekly email digest from RSS/Atom feeds.

    Configuration: feeds.yaml (newsletter, sections, feeds; see docs/configuration.md) and
    NEWSLETTER_* environment variables or a .env file (database, mail transport, SMTP, base URL).

    Typical use: `newsletter demo` to see it work offline; `newsletter ingest` then
    `newsletter build` to preview; `newsletter run` to leave it polling and sending on schedule.
    """
    import os

    base = logging.getLevelName(os.environ.get("NEWSLETTER_LOG_LEVEL", "WARNING").upper())
    level = (base if isinstance(base, int) else logging.WARNING) - 10 * verbose
    fmt = os.environ.get("NEWSLETTER_LOG_FORMAT", "").strip().lower()
    configure_logging(max(level, logging.DEBUG), "json" if fmt == "json" else "text")


# ---- db ------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@config_option
@handle_errors
def db_upgrade(config_path: Path | None) -> None:
    """Create or upgrade the database schema to the newest revision (idempotent)."""
    settings = load_settings()
    engine = db.make_engine(settings.resolved_database_url)
    before, after = db.upgrade(engine)
    if before == after:
        out.print(f"Database is up to date (revision {after}): {engine.url!r}")
    else:
        out.print(f"Database upgraded from {before or 'empty'} to {after}: {engine.url!r}")


@db_group.command("current")
@config_option
@handle_errors
def db_current(config_path: Path | None) -> None:
    """Show the database's schema revision and the newest one."""
    settings = load_settings()
    engine = db.make_engine(settings.resolved_database_url)
    out.print(
        f"database: {engine.url!r}\ncurrent revision: {db.current_revision(engine) or 'empty'}\nnewest revision: {db.head_revision()}"
    )


# ---- ingest --------------------------------------------------------------------------------


@main.command()
@config_option
@click.option("--feed", "feeds", multiple=True, help="Only this feed (by name); repeatable.")
@handle_errors
def ingest(config_path: Path | None, feeds: tuple[str, ...]) -> None:
    """Fetch every enabled feed once and store new items (ingesting twice adds nothing).

    A failing feed is recorded on the feed (see `newsletter feeds`) and never stops the others.
    Exit code 0 even when some feeds failed; 1 only when all of them failed.
    """
    from newsletter.service.ingest import ingest as run_ingest

    app = _app(config_path)
    enabled = [f for f in app.config.feeds if f.enabled and (not feeds or f.name in feeds)]
    with _progress() as bar:
        task = bar.add_task("Polling feeds", total=len(enabled))
        report = run_ingest(app, only=set(feeds) or None, progress=lambda o: bar.advance(task))
    table = Table("feed", "status", "new", "note")
    for o in report.outcomes:
        color = {"error": "red", "ok": "green"}.get(o.status, "yellow")
        table.add_row(
            o.name, f"[{color}]{o.status}[/]", str(o.new_items), (o.error or o.warning or "")[:120]
        )
    out.print(table)
    out.print(
        f"{report.new_items} new items; {len(report.failed)} of {len(report.outcomes)} feeds failed"
    )
    if report.outcomes and len(report.failed) == len(report.outcomes):
        _fail("every feed failed; see the notes above")


# ---- build ---------------------------------------------------------------------------------


@main.command()
@config_option
@period_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "text", "json"]),
    default="html",
    show_default=True,
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option(
    "--force", is_flag=True, help="Render even when the issue has fewer than min_items items."
)
@handle_errors
def build(
    config_path: Path | None,
    week: str | None,
    as_of: datetime | None,
    fmt: str,
    out_path: Path | None,
    force: bool,
) -> None:
    """Assemble and render the issue of a period (a preview; sends nothing).

    The issue of ISO week W covers items published in the seven days before W's send time
    (feeds.yaml newsletter.schedule). The JSON format is described in docs/issue-json.md.
    """
    from newsletter.email.render import (
        PREFERENCES_URL,
        SUBSCRIBER_EMAIL,
        UNSUBSCRIBE_URL,
        personalize,
    )
    from newsletter.service.issues import build_issue, resolve_period

    app = _app(config_path)
    period = resolve_period(app, week, _as_date(as_of))
    built = build_issue(app, period, force=force or fmt == "json")
    if built.skipped and not force and fmt != "json":
        err.print(
            f"Issue {period.label} skipped: {built.content.skipped_reason}. Use --force to render it anyway."
        )
        return
    for warning in built.warnings:
        err.print(f"warning: {warning}")
    preview = {
        UNSUBSCRIBE_URL: f"{app.settings.base_url}/unsubscribe/PREVIEW",
        PREFERENCES_URL: f"{app.settings.base_url}/preferences/PREVIEW",
        SUBSCRIBER_EMAIL: "preview@example.com",
    }
    if fmt == "json":
        text = (
            json.dumps(
                {**built.content.to_dict(), "status": built.status}, ensure_ascii=False, indent=2
            )
            + "\n"
        )
    else:
        assert built.rendered is not None
        text = personalize(built.rendered.html if fmt == "html" else built.rendered.text, preview)
    if out_path:
        out_path.write_text(text, encoding="utf-8")
        err.print(
            f"Issue {period.label} ({built.content.item_count} items, {built.status}) written to {out_path}"
        )
    else:
        sys.stdout.write(text)


# ---- send ----------------------------------------------------------------------------------


@main.command()
@config_option
@period_options
@click.option(
    "--test",
    "test_address",
    metavar="ADDRESS",
    default=None,
    help="Send one copy to ADDRESS only; deliveries are not touched.",
)
@click.option("--dry-run", is_flag=True, help="Show who would receive the issue; send nothing.")
@handle_errors
def send(
    config_path: Path | None,
    week: str | None,
    as_of: datetime | None,
    test_address: str | None,
    dry_run: bool,
) -> None:
    """Freeze the issue and send it to every active subscriber, once.

    Without --week or --as-of it sends the issue that is due: the latest period whose send time
    has passed (what the scheduler sends); a --test copy is of the next issue, as `build` shows.
    Running it again sends nothing twice: it resumes deliveries still queued (for example after
    an SMTP failure). Exit code 1 when some deliveries failed or wait for a retry.
    """
    from newsletter.service.issues import resolve_period
    from newsletter.service.sending import dry_run as run_dry
    from newsletter.service.sending import send_issue, send_test
    from newsletter.service.subscribers import normalize_email

    app = _app(config_path)
    period = resolve_period(app, week, _as_date(as_of), due=not test_address)
    _warn_local_links(app)
    if test_address:
        address = normalize_email(test_address)
        from newsletter.service.issues import build_issue

        preview = build_issue(app, period, render=False)
        if preview.skipped:
            err.print(
                f"warning: issue {period.label} would be skipped ({preview.content.skipped_reason}); sending the test copy anyway"
            )
        msg_id = send_test(app, period, app.transport(), address)
        out.print(
            f"Test copy of {period.label} sent to {address} (Message-ID {msg_id}); deliveries untouched"
        )
        return
    if dry_run:
        report = run_dry(app, period)
        if report.status != "dry-run":
            out.print(f"Issue {period.label}: {report.status}: {report.reason}")
            return
        for address in report.recipients:
            out.print(address)
        out.print(
            f"Issue {period.label} would go to {len(report.recipients)} subscriber(s) via {app.settings.mail_transport}"
        )
        return
    with _progress() as bar:
        task = bar.add_task(f"Sending {period.label}", total=None)
        report = send_issue(app, period, progress=lambda a, s: bar.advance(task))
    if report.status in ("skipped", "already-sent"):
        out.print(f"Issue {period.label}: {report.status}: {report.reason}")
        return
    if report.status == "paused":
        _fail(f"issue {period.label} is paused: {report.reason}")
    out.print(
        f"Issue {period.label}: {report.status}; {report.sent} sent, {report.failed} failed, "
        f"{report.deferred} deferred, {report.skipped_subscribers} skipped (unsubscribed)"
    )
    if report.status == "partial" or report.failed:
        _fail(
            report.reason
            or f"{report.failed} deliveries failed permanently; see their SMTP replies"
        )


def _warn_local_links(app: App) -> None:
    """Real mail with links to localhost is a configuration mistake worth a warning."""
    from urllib.parse import urlsplit

    host = urlsplit(app.settings.base_url).hostname or ""
    if app.settings.mail_transport == "smtp" and host in ("localhost", "127.0.0.1", "::1"):
        err.print(
            f"warning: NEWSLETTER_BASE_URL is {app.settings.base_url}; unsubscribe and archive "
            "links in real mail will not work for readers"
        )


# ---- issue (editor controls) ---------------------------------------------------------------


@main.group()
def issue() -> None:
    """Editor controls for an issue: show it, pin, drop or move items, approve or hold it.

    Without --week these act on the next issue to go. Every change is logged and shown by
    `newsletter issue show`. With auto_approve: false in feeds.yaml the scheduler sends only
    approved issues; a held issue is never sent.
    """


def _issue_period(app: App, week: str | None, as_of: datetime | None) -> Any:
    from newsletter.service.issues import resolve_period

    return resolve_period(app, week, _as_date(as_of))


@issue.command("show")
@config_option
@period_options
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def issue_show(
    config_path: Path | None, week: str | None, as_of: datetime | None, fmt: str
) -> None:
    """Show the issue: status, each section's items (with ids for pin/drop/move) and the change log."""
    from newsletter.service.editing import show_issue

    app = _app(config_path)
    view = show_issue(app, _issue_period(app, week, as_of))
    content = view.built.content
    log_rows: list[dict[str, Any]] = [
        {
            "at": a.created_at.isoformat(),
            "action": a.action,
            "item": a.item_id,
            "section": a.section,
            "note": a.note,
            "by": a.actor,
        }
        for a in view.actions
    ]
    if fmt == "json":
        sys.stdout.write(
            json.dumps(
                {**content.to_dict(), "status": view.built.status, "changes": log_rows},
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
        return
    out.print(
        f"Issue {content.period} ({view.built.status}): {content.item_count} items, subject: {content.subject}"
    )
    if content.skipped_reason:
        out.print(f"[yellow]Would be skipped:[/] {content.skipped_reason}")
    if content.viewpoint_source:
        out.print(f"Viewpoint: {content.viewpoint_source}")
    for section in content.sections:
        table = Table(
            "id",
            "score",
            "title",
            "source",
            "why",
            title=f"{section.title} ({len(section.items)} of {section.available})",
        )
        for item in section.items:
            flag = "📌 " if item.pinned else ""
            table.add_row(
                str(item.id),
                f"{item.score:.2f}",
                flag + item.title[:70],
                item.source,
                item.section_reason[:50],
            )
        out.print(table)
    if log_rows:
        changes = Table("when (UTC)", "action", "item", "section", "by", "note", title="Changes")
        for r in log_rows:
            changes.add_row(
                str(r["at"])[:16].replace("T", " "),
                str(r["action"]),
                str(r["item"] or ""),
                str(r["section"] or ""),
                str(r["by"] or ""),
                str(r["note"] or ""),
            )
        out.print(changes)


def _item_command(
    action: str, help_text: str, takes_section: bool = False, needs_section: bool = False
) -> None:
    def section_option(func: F) -> F:
        if not takes_section:
            return func
        return click.option("--section", default=None, required=needs_section, help="Section id.")(
            func
        )

    @issue.command(action, help=help_text)
    @section_option
    @config_option
    @period_options
    @click.argument("item_id", type=int)
    @click.option("--note", default=None, help="Why (kept in the change log).")
    @handle_errors
    def command(
        config_path: Path | None,
        week: str | None,
        as_of: datetime | None,
        item_id: int,
        note: str | None,
        section: str | None = None,
    ) -> None:
        from newsletter.service.editing import change_item

        app = _app(config_path)
        period = _issue_period(app, week, as_of)
        change_item(app, period, action, item_id, section, note)
        out.print(
            f"Issue {period.label}: {action} item {item_id}" + (f" ({section})" if section else "")
        )


_item_command(
    "pin",
    "Keep ITEM_ID in the issue (first in its section, over the cap, even from outside the "
    "week); --section places it.",
    takes_section=True,
)
_item_command("unpin", "Undo a pin.")
_item_command("drop", "Leave ITEM_ID out of the issue.")
_item_command("restore", "Undo a drop.")
_item_command(
    "move", "Show ITEM_ID in another section (--section).", takes_section=True, needs_section=True
)


@issue.command("approve")
@config_option
@period_options
@click.option("--note", default=None, help="Kept in the change log.")
@handle_errors
def issue_approve(
    config_path: Path | None, week: str | None, as_of: datetime | None, note: str | None
) -> None:
    """Approve the draft as it is now: the scheduler sends exactly this content at the send time.

    An issue whose send time has passed (use --week) goes out at the next feed poll, within the
    grace time. Pinning, dropping or moving an item afterwards needs a new approval.
    """
    from newsletter.service.editing import set_status

    app = _app(config_path)
    period = _issue_period(app, week, as_of)
    out.print(f"Issue {period.label}: {set_status(app, period, 'approved', note)}")


def _sent_period(app: App, week: str | None, as_of: datetime | None) -> Any:
    """The given issue, else the newest one that was frozen for sending."""
    if week or as_of:
        return _issue_period(app, week, as_of)
    from newsletter.service.sending import issue_status

    current = issue_status(app)
    if current is None:
        raise IssueError("no issue has been sent yet; pass --week YYYY-Www")
    return _issue_period(app, current.period, None)


@issue.command("resume")
@config_option
@period_options
@handle_errors
def issue_resume(config_path: Path | None, week: str | None, as_of: datetime | None) -> None:
    """Send a paused issue again, after fixing what made it pause (see `newsletter status`).

    An issue pauses itself when more than NEWSLETTER_PAUSE_ERROR_RATE of its messages are
    refused or deferred; the next poll of `newsletter run`, or any `newsletter worker`, goes on.
    """
    from newsletter.service.sending import resume_issue

    app = _app(config_path)
    period = _sent_period(app, week, as_of)
    out.print(f"Issue {period.label}: {resume_issue(app, period)}")


@issue.command("resend")
@config_option
@period_options
@click.option(
    "--failed",
    "failed",
    is_flag=True,
    required=True,
    help="Queue the deliveries that failed permanently again (required: nothing else is resent).",
)
@handle_errors
def issue_resend(
    config_path: Path | None, week: str | None, as_of: datetime | None, failed: bool
) -> None:
    """Retry only the failed deliveries of an issue; sent and bounced ones are left alone.

    The deliveries go back to the queue; `newsletter run` (next poll), `newsletter worker` or
    `newsletter send --week W` sends them. Hard-bounced addresses stay suppressed.
    """
    from newsletter.service.sending import resend_failed

    app = _app(config_path)
    period = _sent_period(app, week, as_of)
    count = resend_failed(app, period)
    out.print(f"Issue {period.label}: {count} failed deliveries queued again")


@issue.command("hold")
@config_option
@period_options
@click.option("--note", default=None, help="Kept in the change log.")
@handle_errors
def issue_hold(
    config_path: Path | None, week: str | None, as_of: datetime | None, note: str | None
) -> None:
    """Hold the issue: the scheduler will not send it until it is approved."""
    from newsletter.service.editing import set_status

    app = _app(config_path)
    period = _issue_period(app, week, as_of)
    out.print(f"Issue {period.label}: {set_status(app, period, 'held', note)}")


# ---- subscribers ---------------------------------------------------------------------------


@main.group()
def subscribers() -> None:
    """Manage subscribers (addresses are validated and normalized)."""


@subscribers.command("add")
@config_option
@click.argument("email")
@click.option("--name", default=None, help="Display name (may be Chinese).")
@handle_errors
def subscribers_add(config_path: Path | None, email: str, name: str | None) -> None:
    """Add an active subscriber (unsubscribed or bounced addresses stay suppressed)."""
    from newsletter.service.subscribers import add_subscriber

    result = add_subscriber(_app(config_path), email, name)
    if result.outcome == "suppressed":
        out.print(
            f"{result.email} unsubscribed or bounced earlier; not re-added (it needs a new confirmation)"
        )
    else:
        out.print(f"{result.email}: {result.outcome}")


@subscribers.command("remove")
@config_option
@click.argument("email")
@handle_errors
def subscribers_remove(config_path: Path | None, email: str) -> None:
    """Unsubscribe an address (kept as suppressed so it is never mailed again)."""
    from newsletter.service.subscribers import remove_subscriber

    if remove_subscriber(_app(config_path), email):
        out.print(f"{email.strip()}: unsubscribed")
    else:
        _fail(f"{email.strip()} is not a subscriber")


@subscribers.command("list")
@config_option
@click.option(
    "--status", type=click.Choice(["pending", "active", "unsubscribed", "bounced"]), default=None
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def subscribers_list(config_path: Path | None, status: str | None, fmt: str) -> None:
    """List subscribers with their status."""
    from newsletter.service.subscribers import list_subscribers

    subs = list_subscribers(_app(config_path), status)
    if fmt == "json":
        rows = [
            {
                "email": s.email,
                "name": s.name,
                "status": s.status,
                "created_at": s.created_at.isoformat(),
            }
            for s in subs
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("email", "name", "status", "since")
    for s in subs:
        table.add_row(s.email, s.name or "", s.status, f"{s.created_at:%Y-%m-%d}")
    out.print(table)
    out.print(f"{len(subs)} subscriber(s)")


@subscribers.command("import")
@config_option
@click.argument("csv_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@handle_errors
def subscribers_import(config_path: Path | None, csv_file: Path) -> None:
    """Import subscribers from a CSV of `email[,name]` rows; bad rows are reported and skipped."""
    from newsletter.service.subscribers import import_csv

    report = import_csv(_app(config_path), csv_file)
    for line, problem in report.errors:
        err.print(f"{csv_file}, line {line}: {problem}; row skipped")
    out.print(
        f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.suppressed} suppressed (not re-added), {len(report.errors)} rows skipped"
    )


@subscribers.command("export")
@config_option
@handle_errors
def subscribers_export(config_path: Path | None) -> None:
    """Write every subscriber as CSV (email, name, status, created_at) to standard output."""
    from newsletter.service.subscribers import export_csv

    sys.stdout.write(export_csv(_app(config_path)))


# ---- items and feeds -----------------------------------------------------------------------


@main.group()
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
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def items_list(
    config_path: Path | None,
    since: datetime | None,
    until: datetime | None,
    section: str | None,
    fmt: str,
) -> None:
    """Every stored item with its feed, title, link, published time, section and the reason."""
    from newsletter.service.catalog import list_items

    rows = list_items(
        _app(config_path),
        since.replace(tzinfo=UTC) if since else None,
        until.replace(tzinfo=UTC) if until else None,
        section,
    )
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("published (UTC)", "feed", "section", "title", "reason")
    for r in rows:
        table.add_row(
            r["published"][:16].replace("T", " "),
            r["feed"],
            r["section"],
            r["title"][:70],
            r["section_reason"],
        )
    out.print(table)
    out.print(f"{len(rows)} item(s)")


@main.command()
@config_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def feeds(config_path: Path | None, fmt: str) -> None:
    """Each feed's status, last error, consecutive failures and stored item count."""
    from newsletter.service.catalog import feed_health

    rows = feed_health(_app(config_path))
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("feed", "status", "items", "failures", "last fetched (UTC)", "last error")
    for r in rows:
        color = {"error": "red", "ok": "green", "not_modified": "green"}.get(r["status"], "yellow")
        table.add_row(
            r["name"],
            f"[{color}]{r['status']}[/]",
            str(r["items"]),
            str(r["consecutive_failures"]),
            (r["last_fetched_at"] or "never")[:16].replace("T", " "),
            (f"moved to {r['redirect_url']}; " if r["redirect_url"] else "")
            + (r["last_error"] or "")[:100],
        )
    out.print(table)


# ---- check ---------------------------------------------------------------------------------


@main.command()
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
        _fail(f"{sum(1 for line in report.lines if not line.ok)} problem(s) found")
    out.print("All checks passed")


# ---- delivery workers and status ---------------------------------------------------------


@main.command()
@config_option
@click.option(
    "--connections",
    type=click.IntRange(1, 64),
    default=None,
    help="Parallel SMTP connections (default NEWSLETTER_SMTP_CONNECTIONS).",
)
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--poll",
    "poll_seconds",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between looks for work when idle.",
)
@handle_errors
def worker(
    config_path: Path | None, connections: int | None, once: bool, poll_seconds: float
) -> None:
    """Send the deliveries of issues being sent; run as many as you like.

    Workers claim deliveries in batches with a lease (NEWSLETTER_DELIVERY_LEASE_SECONDS); on
    PostgreSQL any number of workers on any number of machines share one issue without
    overlap, and a dead worker's claims are taken again when its lease ends. On SQLite run one.
    `newsletter run` (or `send`) freezes the issue and queues its deliveries; workers send.
    SIGTERM or Ctrl-C: finish the message in hand, give back the rest, exit.
    """
    import threading

    from newsletter.service.sending import work_once

    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger().setLevel(logging.INFO)
    app = _app(config_path)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    err.print(
        f"newsletter worker: {connections or app.settings.smtp_connections} connection(s) via "
        f"{app.settings.mail_transport}; Ctrl-C to stop"
    )
    total = 0
    log = logging.getLogger("newsletter.worker")
    while not stop.is_set():
        try:
            reports = work_once(app, stop, connections=connections)
        except MailError as exc:
            # The mail system is down: the deliveries stay queued; look again later.
            log.error("%s", exc)
            if once:
                raise
            stop.wait(max(poll_seconds, 30.0))
            continue
        for report in reports:
            if not (report.sent or report.failed or report.deferred or report.skipped_subscribers):
                continue  # only retries waiting for their time: nothing to say
            total += report.sent
            log.info(
                "issue %s: %d sent, %d failed, %d deferred, %d skipped; %s",
                report.period,
                report.sent,
                report.failed,
                report.deferred,
                report.skipped_subscribers,
                report.reason or report.status,
            )
        if once:
            break
        stop.wait(poll_seconds)
    err.print(f"newsletter worker: stopped ({total} sent)")


@main.command()
@config_option
@click.option("--week", default=None, help="An issue (YYYY-Www); default the newest frozen one.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@handle_errors
def status(config_path: Path | None, week: str | None, fmt: str) -> None:
    """Next scheduled runs, the current issue's deliveries and error rate, and feed health."""
    from newsletter.cli.scheduler import scheduled_runs
    from newsletter.service.catalog import feed_health
    from newsletter.service.sending import issue_status

    app = _app(config_path)
    runs = scheduled_runs(app)
    current = issue_status(app, week)
    health = feed_health(app)
    failing = [f for f in health if f["status"] == "error"]
    if fmt == "json":
        data = {
            "scheduled": [
                {"job": name, "next_run": when.isoformat() if when else None} for name, when in runs
            ],
            "issue": None
            if current is None
            else {
                "period": current.period,
                "status": current.status,
                "counts": current.counts,
                "error_rate": current.error_rate,
                "paused_reason": current.paused_reason,
                "next_retry_at": current.next_retry_at.isoformat()
                if current.next_retry_at
                else None,
                "recent_errors": [{"email": e, "reply": r} for e, r in current.last_errors],
            },
            "feeds": {"total": len(health), "failing": [f["name"] for f in failing]},
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    if runs:
        for name, when in runs:
            shown = f"{when:%Y-%m-%d %H:%M %Z}" if when else "paused"
            out.print(f"next {name}: {shown}")
    else:
        out.print("scheduler: no jobs stored yet (start `newsletter run`)")
    if current is None:
        out.print("issue: none frozen yet")
    else:
        c = current.counts
        rate = f"{current.error_rate:.1%}" if current.error_rate is not None else "n/a"
        out.print(
            f"issue {current.period}: {current.status}; queued {c.get('queued', 0)}, "
            f"sending {c.get('sending', 0)}, sent {c.get('sent', 0)}, failed {c.get('failed', 0)}, "
            f"bounced {c.get('bounced', 0)}, skipped {c.get('skipped', 0)}, "
            f"deferred {c.get('deferred', 0)}; error rate {rate}"
        )
        if current.paused_reason:
            out.print(f"  paused: {current.paused_reason}")
        if current.next_retry_at:
            out.print(f"  next retry: {current.next_retry_at:%Y-%m-%d %H:%M} UTC")
        for email, reply in current.last_errors:
            out.print(f"  {email}: {reply[:120]}")
    out.print(
        f"feeds: {len(health)} configured, {len(failing)} failing"
        + (": " + ", ".join(f["name"] for f in failing[:10]) if failing else "")
    )


# ---- run and demo --------------------------------------------------------------------------


@main.command()
@config_option
@handle_errors
def run(config_path: Path | None) -> None:
    """Run the scheduler: poll feeds every NEWSLETTER_POLL_MINUTES, build and send weekly.

    Jobs are stored in the database; a restart after the send time sends the issue once, late
    (within NEWSLETTER_MISFIRE_GRACE_HOURS), and a second run for the same period sends nothing.
    Stop with Ctrl-C or SIGTERM.
    """
    from newsletter.cli.scheduler import build_scheduler, catch_up, draft_job

    if not logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger().setLevel(logging.INFO)
    app = _app(config_path)
    path = (config_path or app.settings.config).resolve()

    stopping = False
    scheduler: Any = None

    def stop(signum: int, _frame: object) -> None:
        # Stop between steps, never in the middle of one (a database write, a send): the
        # scheduler stops taking jobs and the running ones finish. A second signal forces it.
        nonlocal stopping
        if stopping:
            raise KeyboardInterrupt
        stopping = True
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)  # systemd stops services with SIGTERM
    signal.signal(signal.SIGINT, stop)
    try:
        catch_up(path)
        if not stopping:
            draft_job(str(path))  # the next issue's draft exists from the start
        if not stopping:
            scheduler = build_scheduler(app, path, blocking=True)
            nl = app.config.newsletter
            err.print(
                f"newsletter run: polling {len(app.config.feeds)} feeds every "
                f"{app.settings.poll_minutes} min; issue every {nl.schedule.day} at "
                f"{nl.schedule.time} {nl.timezone}; Ctrl-C to stop"
            )
            if not stopping:
                scheduler.start()
    except KeyboardInterrupt:
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
    err.print("newsletter run: stopped")


# ---- web -----------------------------------------------------------------------------------


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each keeps its own rate-limit counts).",
)
@click.option(
    "--access-log",
    is_flag=True,
    help="Log every request. Off by default: paths hold subscriber and confirmation tokens.",
)
@handle_errors
def serve(config_path: Path | None, host: str, port: int, workers: int, access_log: bool) -> None:
    """Run the web app: subscribe and confirm, one-click unsubscribe, preferences, the archive,
    the editors' preview and the click redirect (see docs/web.md).

    Put it behind a reverse proxy that terminates TLS, set NEWSLETTER_BASE_URL to the public
    address and NEWSLETTER_TRUST_PROXY_HEADERS=true. Stop with Ctrl-C or SIGTERM.
    """
    import os

    import uvicorn

    from newsletter.web import create_app

    app = _app(config_path)  # settings, feeds.yaml and the schema are checked once, here
    app.secret()  # created now if it has to be, not by several workers at once
    err.print(
        f"newsletter serve: listening on http://{host}:{port} with {workers} worker(s); "
        f"public address {app.settings.base_url}; Ctrl-C to stop"
    )
    if workers == 1:
        uvicorn.run(
            create_app(app),
            host=host,
            port=port,
            proxy_headers=False,  # X-Forwarded-For is read only with NEWSLETTER_TRUST_PROXY_HEADERS
            server_header=False,
            access_log=access_log,
        )
        return
    if config_path is not None:
        os.environ["NEWSLETTER_CONFIG"] = str(config_path.resolve())  # for the workers
    app.engine.dispose()
    uvicorn.run(
        "newsletter.web:make_app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        access_log=access_log,
    )


@main.command("preview-url")
@config_option
@handle_errors
def preview_url(config_path: Path | None) -> None:
    """Print the address of the editors' preview with its secret token (keep it private).

    The token is NEWSLETTER_PREVIEW_TOKEN, else derived from the secret key.
    """
    from newsletter.service.preview import preview_token

    app = _app(config_path)
    sys.stdout.write(f"{app.settings.base_url}/preview?token={preview_token(app)}\n")


@main.command()
@config_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("demo-output"),
    show_default=True,
    help="Folder for the demo database, outbox and preview.",
)
@handle_errors
def demo(config_path: Path | None, out_dir: Path) -> None:
    """Run the whole job offline on bundled sample feeds served over loopback HTTP.

    Writes a fresh demo database, one .eml file per sample subscriber in OUT/outbox,
    OUT/preview.html, OUT/preview.txt and OUT/issue.json. Your own database is not touched.
    """
    from newsletter.service.demo import run_demo

    settings: Settings = load_settings()
    report = run_demo(settings, config_path or settings.config, out_dir, say=lambda m: err.print(m))
    table = Table("section", "items")
    for title, count in report.sections.items():
        table.add_row(title, str(count))
    out.print(table)
    out.print(f"Issue {report.period}: {len(report.eml_files)} .eml files in {report.outbox}")
    for path in report.eml_files:
        out.print(f"  {path}")
    out.print(
        f"Preview: {report.preview_html}\nText:    {report.preview_text}\nJSON:    {report.issue_json}\nDatabase: {report.database}"
    )
    if not report.eml_files:
        _fail(f"the demo sent nothing ({report.send.status}: {report.send.reason})")


if __name__ == "__main__":
    main()
