"""`newsletter ingest`, `build`, `send` and `demo`: the pipeline's steps on demand."""

from __future__ import annotations

import difflib
import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli import exiting
from newsletter.cli.boundary import (
    as_date,
    config_option,
    err,
    fail,
    handle_errors,
    load_app,
    out,
    period_options,
    progress,
    stopping_on_signals,
)
from newsletter.config import Settings, load_settings
from newsletter.service.app import App

if TYPE_CHECKING:
    from collections.abc import Sequence

    from newsletter.config import FeedConfig
    from newsletter.service.ingest import FeedOutcome

# rich's Table is imported where a command prints one: `newsletter ingest` imports rich only
# once its requests are done (cli/boundary.py makes the consoles on first use).


FEED_TABLE_ALL_BELOW = 31  # up to this many feeds, every one has a row in ingest's table


@click.command()
@config_option
@click.option("--feed", "feeds", multiple=True, help="Only this feed (by name); repeatable.")
@click.option(
    "--all-feeds",
    is_flag=True,
    help=f"A row for every feed. By default, over {FEED_TABLE_ALL_BELOW - 1} feeds, only feeds "
    "with an error, a note or a held poll get a row, and the others are counted in one line.",
)
@handle_errors
def ingest(config_path: Path | None, feeds: tuple[str, ...], all_feeds: bool) -> None:
    """Fetch every enabled feed once and store new items (ingesting twice adds nothing).

    A failing feed is recorded on the feed (see `newsletter feeds`) and never stops the others.
    Exit code 0 even when some feeds failed; 1 when all of them failed, or when the database's
    disk is full (ingest stops there; the line counts only the items stored before it).

    Ctrl-C or SIGTERM: no new request starts; the requests in flight finish (or time out) and
    every feed that answered is stored as usual; the feeds not polled stay due, with no error
    recorded. Exit code 130; run ingest again to poll them. A second Ctrl-C stops at once
    (what had arrived but was not stored yet is fetched again next time; nothing is
    half-written).
    """
    from newsletter.service.ingest import PollStop
    from newsletter.service.ingest import ingest as run_ingest

    app = load_app(config_path)
    exiting.skip_teardown(app.engine)  # no interpreter teardown at the end (cli/exiting.py)
    problems = unknown_feed_names(feeds, app.config.feeds, app.config.path)
    if problems and len(problems) == len(set(feeds)):
        fail("; ".join(problems))  # nothing named can be polled
    for problem in problems:  # the others are polled; say which names were not
        err.print(f"note: {problem}", markup=False)
    enabled = [f for f in app.config.feeds if f.enabled and (not feeds or f.name in feeds)]
    if not feeds and not any(f.enabled for f in app.config.feeds):
        err.print(
            f"warning: no enabled feed in {app.config.path}: add yours under `feeds:` (or remove "
            '`enabled: false` from one); see docs/editors-guide.md, "Adding a feed"'
        )
    polling = PollStop()

    def stopping() -> None:
        in_flight = polling.request()
        err.print(
            f"stopping: finishing {_requests(in_flight)} in flight and storing what has arrived "
            "(Ctrl-C again to stop at once)",
            markup=False,
        )

    with stopping_on_signals(stopping) as stopped, progress() as bar:
        task = bar.add_task("Polling feeds", total=len(enabled))
        report = run_ingest(
            app,
            only=set(feeds) or None,
            progress=lambda o: bar.advance(task),
            stop=polling,
            failures_shown=True,  # in the table below
        )
    shown: list[FeedOutcome] = report.outcomes
    quiet: list[FeedOutcome] = []
    if not all_feeds and len(report.outcomes) >= FEED_TABLE_ALL_BELOW:
        shown = []
        for o in report.outcomes:
            plain = o.status in ("ok", "not_modified", "unchanged") and not (o.error or o.warning)
            (quiet if plain else shown).append(o)
    from rich.table import Table

    from newsletter.domain.text import shorten  # not on ingest's start-up path (nh3)

    table = Table("feed", "status", "new", "note")
    for o in shown:
        color = {"error": "red", "ok": "green"}.get(o.status, "yellow")
        table.add_row(
            o.name,
            f"[{color}]{o.status}[/]",
            str(o.new_items),
            shorten(o.error or o.warning or "", 300),
        )
    if shown:
        out.print(table)
    if quiet:
        out.print(_tally(quiet, listed=bool(shown)))
    held = Counter(o.status for o in report.outcomes if o.status in ("deferred", "disabled"))
    out.print(
        f"{report.new_items} new items; {len(report.failed)} of {len(report.outcomes)} feeds failed"
        + "".join(f"; {held[s]} {s}" for s in ("deferred", "disabled") if held[s])
    )
    if held["deferred"]:
        err.print(
            "note: a deferred feed failed before (or its server asked to wait) and waits for "
            "its next try; "
            "`newsletter ingest --feed NAME` polls it now",
            markup=False,
        )
    if report.stopped or stopped.is_set():
        # Not an `error:`: the user asked for it, and the line says what is left to do.
        err.print(_interrupted(report.not_polled, len(report.outcomes)), markup=False)
        sys.exit(130)
    if report.outcomes and len(report.failed) == len(report.outcomes):
        fail("every feed failed; see the notes above")


def _requests(count: int) -> str:
    return f"{count} request{'' if count == 1 else 's'}"


def _interrupted(not_polled: list[str], polled: int) -> str:
    """The last line of an ingest stopped by a signal: what it left for the next one."""
    if not not_polled:
        return "interrupted after every feed was polled and stored"
    total = len(not_polled) + polled
    return (
        f"interrupted: {len(not_polled)} of {total} feeds not polled; "
        "run `newsletter ingest` again to poll them"
    )


def unknown_feed_names(
    names: tuple[str, ...], configured: Sequence[FeedConfig], path: Path
) -> list[str]:
    """Why ``ingest --feed NAME`` polls nothing for each of ``names`` that is no feed or one with
    ``enabled: false``, one line each; empty when every name is a feed to poll."""
    by_name = {f.name: f for f in configured}
    problems: list[str] = []
    for name in dict.fromkeys(names):
        feed = by_name.get(name)
        if feed is None:
            close = [f.name for f in configured if f.name.casefold() == name.casefold()]
            close = close or difflib.get_close_matches(name, list(by_name), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(
                f"no feed named '{name}' in {path}; {hint}names are exact, as in `newsletter feeds`"
            )
        elif not feed.enabled:
            problems.append(
                f"feed '{name}' has enabled: false in {path}; remove that line to poll it"
            )
    return problems


def _tally(outcomes: list[FeedOutcome], listed: bool) -> str:
    """One line for the feeds left out of ingest's table: how many of each status."""
    counts = Counter(o.status for o in outcomes)
    parts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
    return (
        f"{len(outcomes)} {'other ' if listed else ''}feeds without a note ({parts}); "
        "`newsletter ingest --all-feeds` or `newsletter feeds` lists them"
    )


@click.command()
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
    from newsletter.email.render import personalize, preview_values
    from newsletter.service.issues import build_issue, resolve_period

    app = load_app(config_path)
    period = resolve_period(app, week, as_date(as_of))
    built = build_issue(app, period, force=force or fmt == "json")
    if built.skipped and not force and fmt != "json":
        err.print(
            f"Issue {period.label} skipped: {built.content.skipped_reason}. "
            f"{_nothing_written(out_path)} Use --force to render it anyway."
        )
        return
    for warning in built.warnings:
        err.print(f"warning: {warning}")
    preview = preview_values(app.settings.base_url)
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


def _nothing_written(out_path: Path | None) -> str:
    """Where a skipped build wrote nothing: a file left as it was is easy to take for the new
    preview."""
    if out_path is None:
        return "Nothing was written to standard output."
    if out_path.exists():
        return f"{out_path} was not written: it still holds an earlier build."
    return f"{out_path} was not written."


@click.command()
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

    app = load_app(config_path)
    period = resolve_period(app, week, as_date(as_of), due=not test_address)
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
    with progress() as bar:
        task = bar.add_task(f"Sending {period.label}", total=None)
        report = send_issue(app, period, progress=lambda a, s: bar.advance(task))
    if report.status in ("skipped", "already-sent"):
        out.print(f"Issue {period.label}: {report.status}: {report.reason}")
        if week is None and as_of is None:
            _point_to_next_issue(app)
        return
    if report.status == "paused":
        fail(f"issue {period.label} is paused: {report.reason}")
    out.print(
        f"Issue {period.label}: {report.status}; {report.sent} sent, {report.failed} failed, "
        f"{report.deferred} deferred, {report.skipped_subscribers} skipped (unsubscribed)"
    )
    if report.status == "partial" or report.failed:
        fail(
            report.reason
            or f"{report.failed} deliveries failed permanently; see their SMTP replies"
        )


def _point_to_next_issue(app: App) -> None:
    """After `send` found nothing to send in the due issue: the one still collecting items,
    when it goes, and how to preview it or send it now (a new newsletter's first `send`)."""
    from newsletter.service.issues import resolve_period

    upcoming = resolve_period(app)
    local = upcoming.send_at.astimezone(app.config.newsletter.tz)
    err.print(
        f"The next issue, {upcoming.label}, goes on {local:%a %d %b %Y %H:%M} "
        f"({app.config.newsletter.timezone}) when `newsletter run` is running: `newsletter build` "
        f"previews it, `newsletter send --week {upcoming.label}` sends it now."
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


@click.command()
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
    from newsletter.service.skeleton import SKELETON

    settings: Settings = load_settings()
    project_config = config_path or settings.config
    named = config_path is not None or "config" in settings.model_fields_set
    if not named and not project_config.exists():
        # Anywhere, even before `newsletter init`: the starter's sections and templates.
        project_config = SKELETON / "feeds.yaml"
        err.print(
            "No feeds.yaml here: the demo uses the starter's sections and the bundled "
            "templates (`newsletter init` puts them here for you to edit)"
        )
    report = run_demo(settings, project_config, out_dir, say=lambda m: err.print(m))
    from rich.table import Table

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
    # The emails' own links (View in browser, Add to calendar, the click redirect, unsubscribe)
    # lead to the web app: this runs it over the demo's database.
    out.print(
        f"Web app: NEWSLETTER_DATA_DIR={report.out_dir} "
        f"NEWSLETTER_DATABASE_URL=sqlite:///{report.database} "
        f"newsletter serve --config {report.out_dir / 'feeds.yaml'}\n"
        f"         then open {settings.base_url}/archive/{report.period} "
        "(the emails' links lead there)"
    )
    if not report.eml_files:
        fail(f"the demo sent nothing ({report.send.status}: {report.send.reason})")


COMMANDS = [ingest, build, send, demo]
