"""`newsletter subscribers ...`: the list."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from newsletter.cli.boundary import config_option, err, fail, handle_errors, load_app, out
from newsletter.domain.text import shorten


@click.group()
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

    result = add_subscriber(load_app(config_path), email, name)
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

    if remove_subscriber(load_app(config_path), email):
        out.print(f"{email.strip()}: unsubscribed")
    else:
        fail(f"{email.strip()} is not a subscriber")


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
    from newsletter.service.bounces import counts_by_email
    from newsletter.service.subscribers import list_subscribers

    app = load_app(config_path)
    subs = list_subscribers(app, status)
    bounced = counts_by_email(app)  # `newsletter bounces list --email X` shows the history
    if fmt == "json":
        rows = [
            {
                "email": s.email,
                "name": s.name,
                "status": s.status,
                "created_at": s.created_at.isoformat(),
                "suppressed_reason": s.suppressed_reason,
                "bounces": bounced.get(s.email, {}),
            }
            for s in subs
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("email", "name", "status", "since", "bounces", "why suppressed")
    for s in subs:
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(bounced.get(s.email, {}).items()))
        table.add_row(
            s.email,
            s.name or "",
            s.status,
            f"{s.created_at:%Y-%m-%d}",
            counts,
            shorten(s.suppressed_reason or "", 80),
        )
    out.print(table)
    out.print(f"{len(subs)} subscriber(s)")


@subscribers.command("import")
@config_option
@click.argument("csv_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--email-column",
    default=None,
    metavar="NAME|N",
    help="The address column, by header name or 1-based number (default: recognised).",
)
@click.option(
    "--name-column",
    default=None,
    metavar="NAME|N",
    help="The name column (default: name, or First Name + Last Name, when present).",
)
@click.option(
    "--update-names",
    is_flag=True,
    help="Give existing subscribers the file's names (default: keep the names they have).",
)
@handle_errors
def subscribers_import(
    config_path: Path | None,
    csv_file: Path,
    email_column: str | None,
    name_column: str | None,
    update_names: bool,
) -> None:
    """Import subscribers from a CSV: `email[,name]` rows, or an audience export with a header
    row (Mailchimp, Substack, Buttondown are recognised by their column names).

    Rows the export marks as unsubscribed, cleaned or disabled are not imported; unsubscribed
    and bounced addresses here stay suppressed. Running the same import again is safe. Rows
    that cannot be imported (a bad address, a duplicate, a field over 128 KB) are listed and
    skipped, and the exit code is then 1.
    """
    from newsletter.service.subscribers import import_csv

    report = import_csv(load_app(config_path), csv_file, email_column, name_column, update_names)
    for line, problem in report.errors:
        err.print(f"{csv_file}, line {line}: {problem}; row skipped", markup=False)
    left = f", {report.left} who left in the export not imported" if report.left else ""
    out.print(
        f"{report.kind}: {report.added} added, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.suppressed} suppressed (not re-added)"
        f"{left}, {len(report.errors)} rows skipped"
    )
    if report.errors:
        first_line, first_problem = report.errors[0]
        fail(
            f"{len(report.errors)} row(s) of {csv_file} skipped, each listed above with its "
            f"line and reason (first: line {first_line}, {first_problem}); the other rows are "
            "imported: fix those rows and run the same import again"
        )


@subscribers.command("export")
@config_option
@handle_errors
def subscribers_export(config_path: Path | None) -> None:
    """Write every subscriber as CSV (email, name, status, created_at) to standard output."""
    from newsletter.service.subscribers import export_csv

    sys.stdout.write(export_csv(load_app(config_path)))


COMMANDS = [subscribers]
