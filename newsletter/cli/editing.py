"""`newsletter issue ...`: the editor's controls over one issue."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.table import Table

from newsletter.cli.boundary import (
    F,
    as_date,
    config_option,
    err,
    fail,
    handle_errors,
    load_app,
    out,
    period_options,
)
from newsletter.errors import IssueError
from newsletter.service.app import App

if TYPE_CHECKING:
    from newsletter.domain.periods import Period


@click.group()
def issue() -> None:
    """Editor controls for an issue: show it, pin, drop or move items, approve or hold it.

    Without --week these act on the next issue to go. Every change is logged and shown by
    `newsletter issue show`. An approved issue is frozen as approved: `issue unapprove` returns
    it to a draft to change it. With auto_approve: false in feeds.yaml the scheduler sends only
    approved issues; a held issue is never sent.
    """


def _issue_period(app: App, week: str | None, as_of: datetime | None) -> Any:
    from newsletter.service.issues import resolve_period

    return resolve_period(app, week, as_date(as_of))


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

    app = load_app(config_path)
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
    if content.left_out:
        reasons = ", ".join(f"{reason} {n}" for reason, n in content.left_out_reasons[:5])
        out.print(
            f"Left out this week: {content.left_out}; top reasons: {reasons}. "
            f"List them with `newsletter items list --left-out --since "
            f"{content.window_start[:10]}`; bring one back with `newsletter issue restore ID`."
        )
    unshown = sum(max(0, s.available - len(s.items)) for s in content.sections)
    if unshown:
        out.print(
            f"Not shown for space: {unshown} stor{'y' if unshown == 1 else 'ies'} placed in a "
            f"section but over its max_items, or over topic.per_source_cap "
            f"({app.config.topic.per_source_cap} per feed and section). List a section's items "
            f"with `newsletter items list --since {content.window_start[:10]} --section ID`; "
            "put one in with `newsletter issue pin ID`."
        )
    for section in content.sections:
        heading = f"{section.title} ({len(section.items)} of {section.available})"
        if not section.items:  # one line, not an empty table
            why = "nothing this week" if not section.available else "none shown"
            out.print(f"{heading}: {why}", markup=False)
            continue
        table = Table("id", "score", "title", "source", "why", title=heading)
        for item in section.items:
            flag = ("📌 " if item.pinned else "") + ("(date unknown) " if item.date_unknown else "")
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
        from newsletter.service.editing import change_item, published_outside

        app = load_app(config_path)
        period = _issue_period(app, week, as_of)
        done = change_item(app, period, action, item_id, section, note)
        if isinstance(done, str):  # already so: nothing logged
            out.print(f"Issue {period.label}: item {item_id} {done}; nothing changed")
            return
        out.print(
            f"Issue {period.label}: {action} item {item_id}" + (f" ({section})" if section else "")
        )
        published = published_outside(app, period, item_id, unless_pinned=action != "pin")
        if published is not None:
            err.print(_outside_note(action, item_id, published, period), markup=False)


def _outside_note(action: str, item_id: int, published: datetime, period: Period) -> str:
    """The note after a change to an item published outside the issue's window: a pin brings
    it in, the other changes are logged but show nothing in this issue."""
    window = f"{period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC"
    head = (
        f"note: item {item_id} was published {published:%Y-%m-%d}, outside issue "
        f"{period.label} ({window}); "
    )
    if action == "pin":
        return head + "the pin brings it into this issue"
    return head + (
        f"{action} changes nothing in this issue (only `issue pin` brings in an item from "
        "another week); was it meant for another --week?"
    )


_item_command(
    "pin",
    "Keep ITEM_ID in the issue (first in its section, over the cap, even from outside the "
    "week); --section places it.",
    takes_section=True,
)
_item_command("unpin", "Undo a pin.")
_item_command("drop", "Leave ITEM_ID out of the issue.")
_item_command(
    "restore",
    "Undo a drop, or bring back an item left out as not relevant (shown in `issue show` and "
    "the preview); --section places it, else it goes to the section it would have had.",
    takes_section=True,
)
_item_command(
    "move", "Show ITEM_ID in another section (--section).", takes_section=True, needs_section=True
)


@issue.command("edit")
@config_option
@period_options
@click.argument("item_id", type=int)
@click.option("--title", default=None, help="The title readers see in this issue.")
@click.option("--summary", default=None, help="The summary (at most 280 characters).")
@click.option("--blurb", default=None, help="A short note from the editors (280 characters).")
@handle_errors
def issue_edit(
    config_path: Path | None,
    week: str | None,
    as_of: datetime | None,
    item_id: int,
    title: str | None,
    summary: str | None,
    blurb: str | None,
) -> None:
    """Override ITEM_ID's title, summary or blurb for this issue only (the stored item keeps
    the feed's text). An option left out keeps what was set before; an empty value ("") goes
    back to the feed's text. Logged; refused on an approved issue (unapprove it first)."""
    from newsletter.domain.overrides import EditError
    from newsletter.service.editing import edit_item

    app = load_app(config_path)
    period = _issue_period(app, week, as_of)
    try:
        action = edit_item(app, period, item_id, title, summary, blurb)
    except EditError as exc:  # named as the option the user typed, not the form field
        fail(f"--{exc.field}: {exc.reason}")
    out.print(f"Issue {period.label}: item {item_id} edited ({action.note})", markup=False)


@issue.command("facts")
@config_option
@period_options
@click.argument("item_id", type=int)
@click.option("--company", default=None, help="Financing: the company that raised.")
@click.option(
    "--round",
    "round_",
    default=None,
    help=(
        "Financing: seed, angel, pre-a, a … e+, pre-ipo, strategic, undisclosed ('Series B' "
        "works too), a tranche such as b3, a follow-on such as a++ or pre-a+, or two rounds "
        "such as a/a+."
    ),
)
@click.option(
    "--amount", default=None, help="Financing: 12.5M, 12,500,000, 300k or 1.2bn (with --currency)."
)
@click.option("--currency", default=None, help="Financing: a three-letter code (USD, EUR, CNY).")
@click.option("--investors", default=None, help="Financing: the lead investors, comma-separated.")
@click.option("--event-date", default=None, help="Event: the first day, YYYY-MM-DD.")
@click.option("--place", default=None, help="Event: a city, or online.")
@handle_errors
def issue_facts(
    config_path: Path | None,
    week: str | None,
    as_of: datetime | None,
    item_id: int,
    company: str | None,
    round_: str | None,
    amount: str | None,
    currency: str | None,
    investors: str | None,
    event_date: str | None,
    place: str | None,
) -> None:
    """Override ITEM_ID's financing or event facts for this issue only: the financing table,
    the week's total and the event listing use them. An option left out keeps what was set
    before; an empty value ("") goes back to the extracted fact. A value that cannot be read
    is refused with the option's name, and nothing is changed."""
    from newsletter.domain.overrides import EditError
    from newsletter.service.editing import edit_facts

    app = load_app(config_path)
    period = _issue_period(app, week, as_of)
    values = {
        "company": company,
        "round": round_,
        "amount": amount,
        "currency": currency,
        "investors": investors,
        "event_date": event_date,
        "place": place,
    }
    try:
        action = edit_facts(app, period, item_id, values)
    except EditError as exc:  # named as the option the user typed, not the form field
        fail(f"--{exc.field.replace('_', '-')}: {exc.reason}")
    out.print(f"Issue {period.label}: facts of item {item_id} set ({action.note})", markup=False)


def _reorder_command(direction: str) -> None:
    @issue.command(
        direction,
        help=f"Move ITEM_ID one place {direction} in its section (this issue only; logged).",
    )
    @config_option
    @period_options
    @click.argument("item_id", type=int)
    @handle_errors
    def command(
        config_path: Path | None, week: str | None, as_of: datetime | None, item_id: int
    ) -> None:
        from newsletter.service.editing import reorder_item

        app = load_app(config_path)
        period = _issue_period(app, week, as_of)
        action = reorder_item(app, period, item_id, direction)
        out.print(f"Issue {period.label}: item {item_id} {direction}, {action.note}")


_reorder_command("up")
_reorder_command("down")


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
    grace time. The content is frozen from then on: to pin, drop, restore or move an item,
    run `newsletter issue unapprove` first, then approve again.
    """
    from newsletter.service.editing import set_status

    app = load_app(config_path)
    period = _issue_period(app, week, as_of)
    out.print(f"Issue {period.label}: {set_status(app, period, 'approved', note)}")


@issue.command("special")
@config_option
@click.argument("name")
@click.option(
    "--from",
    "first_day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="First day of the items it covers (YYYY-MM-DD, the newsletter's timezone).",
)
@click.option(
    "--to",
    "last_day",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last day of the items it covers (included).",
)
@click.option("--title", required=True, help="Its title, in the subject and masthead.")
@handle_errors
def issue_special(
    config_path: Path | None, name: str, first_day: datetime, last_day: datetime, title: str
) -> None:
    """Create a one-off special issue NAME (such as 2026-asco, period special-2026-asco) beside
    the weekly ones, over the items published from --from to --to.

    It builds, previews, is approved and sent like a weekly issue (use --week
    special-2026-asco with `build`, `issue show`, `issue approve`, `send`); its subject and
    masthead show its title instead of an issue number, and the weekly numbering is not
    changed. Once approved, the scheduler sends it at the first poll after its last day.
    """
    from newsletter.service.specials import create_special_issue

    app = load_app(config_path)
    made = create_special_issue(app, name, first_day.date(), last_day.date(), title, None)
    tz = app.config.newsletter.tz
    out.print(
        f"Special issue {made.period} ({made.title}): items published from "
        f"{made.start.astimezone(tz):%Y-%m-%d %H:%M} to {made.end.astimezone(tz):%Y-%m-%d %H:%M} "
        f"({app.config.newsletter.timezone}); `newsletter build --week {made.period}` previews it"
    )


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

    app = load_app(config_path)
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

    app = load_app(config_path)
    period = _sent_period(app, week, as_of)
    count = resend_failed(app, period)
    out.print(f"Issue {period.label}: {count} failed deliveries queued again")


@issue.command("unapprove")
@config_option
@period_options
@click.option("--note", default=None, help="Kept in the change log.")
@handle_errors
def issue_unapprove(
    config_path: Path | None, week: str | None, as_of: datetime | None, note: str | None
) -> None:
    """Return an approved or held issue to a draft, so that it can be changed.

    The draft is built again: items that arrived since, the editor's pins, drops and moves and
    the current viewpoint file are in it. Approve it again when it is ready.
    """
    from newsletter.service.editing import unapprove

    app = load_app(config_path)
    period = _issue_period(app, week, as_of)
    out.print(f"Issue {period.label}: {unapprove(app, period, note)}")


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

    app = load_app(config_path)
    period = _issue_period(app, week, as_of)
    out.print(f"Issue {period.label}: {set_status(app, period, 'held', note)}")


COMMANDS = [issue]
