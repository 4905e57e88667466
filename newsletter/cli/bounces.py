"""`newsletter bounces ...`: read the bounce mailbox, show each address's bounce history."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from newsletter.cli.boundary import config_option, handle_errors, load_app, out
from newsletter.domain.text import shorten


@click.group()
def bounces() -> None:
    """Bounces, complaints and mailto: unsubscribes (mailbox and provider webhooks)."""


@bounces.command("fetch")
@config_option
@click.option(
    "--limit",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Read at most this many unread messages.",
)
@handle_errors
def bounces_fetch(config_path: Path | None, limit: int) -> None:
    """Read the bounce mailbox (NEWSLETTER_BOUNCE_IMAP_*) once: DSNs, complaints and mailto:
    unsubscribes are recorded, and suppress as docs/bounces.md says; messages are marked read."""
    from newsletter.service.bounces import fetch_mailbox

    report = fetch_mailbox(load_app(config_path), limit=limit)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.kinds.items())) or "nothing new"
    r = report.recorded
    out.print(
        f"read {report.read} message(s): {kinds}; {r.recorded} event(s) recorded, "
        f"{r.duplicates} already known, {len(r.suppressed)} address(es) suppressed"
        + (f" ({', '.join(r.suppressed[:20])})" if r.suppressed else "")
    )


@bounces.command("list")
@config_option
@click.option("--email", default=None, help="Only this address's history.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@handle_errors
def bounces_list(config_path: Path | None, email: str | None, limit: int, fmt: str) -> None:
    """The newest bounce and complaint events: time, address, kind, source, diagnostic."""
    from newsletter.service.bounces import history

    events = history(load_app(config_path), email, limit)
    if fmt == "json":
        rows = [
            {
                "occurred_at": e.occurred_at.isoformat(),
                "email": e.email,
                "kind": e.kind,
                "source": e.source,
                "diagnostic": e.diagnostic,
                "suppressed": e.suppressed,
            }
            for e in events
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("time (UTC)", "email", "kind", "source", "diagnostic", "suppressed")
    for e in events:
        table.add_row(
            f"{e.occurred_at:%Y-%m-%d %H:%M}",
            e.email,
            e.kind,
            e.source,
            shorten(e.diagnostic, 100),
            "yes" if e.suppressed else "",
        )
    out.print(table)
    out.print(f"{len(events)} event(s)")


COMMANDS = [bounces]
