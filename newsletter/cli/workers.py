"""`newsletter worker`, `ingest-worker`, `status` and `run`: long-running work, stopped cleanly by a signal."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from newsletter.cli.boundary import (
    at_least_info,
    config_option,
    err,
    fail,
    handle_errors,
    load_app,
    out,
    stop_on_signals,
)
from newsletter.domain.text import shorten

BOUNCE_DAYS = 30  # `status` counts bounces and complaints of this many days


@click.command()
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
    from newsletter.service.workers import run_worker

    at_least_info()  # before the database is opened: its migration is logged too
    app = load_app(config_path)
    # Repeated signals only repeat the request: the senders give back what they hold first.
    stop = stop_on_signals(second_exits=False)
    err.print(
        f"newsletter worker: {connections or app.settings.smtp_connections} connection(s) via "
        f"{app.settings.mail_transport}; Ctrl-C to stop"
    )
    total = run_worker(app, stop, connections=connections, once=once, poll_seconds=poll_seconds)
    err.print(f"newsletter worker: stopped ({total} sent)")


@click.command("ingest-worker")
@config_option
@click.option("--once", is_flag=True, help="Poll what is due now, then exit.")
@click.option(
    "--idle",
    "idle_seconds",
    type=click.FloatRange(0.1, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between looks for due feeds when none is due.",
)
@handle_errors
def ingest_worker(config_path: Path | None, once: bool, idle_seconds: float) -> None:
    """Poll feeds as they fall due; run as many as you like on PostgreSQL.

    Workers claim due feeds in batches (NEWSLETTER_INGEST_BATCH) with a lease
    (NEWSLETTER_INGEST_LEASE_SECONDS) renewed while they poll; on PostgreSQL any number of
    workers on any number of machines share the feeds without polling one twice, and a dead
    worker's feeds are taken again when its lease ends. Each feed is due again at its adaptive
    poll time (see `newsletter feeds`). On SQLite run one, on the database's machine.
    SIGTERM or Ctrl-C: start no new request, store the feeds of the batch in hand that
    answer, give back the claims (the others are still due), exit.
    """
    from newsletter.service.ingest_workers import run_ingest_worker

    at_least_info()
    app = load_app(config_path)
    stop = stop_on_signals(second_exits=False)
    s = app.settings
    err.print(
        f"newsletter ingest-worker: {len(app.config.feeds)} feeds configured; batches of "
        f"{s.ingest_batch}, lease {s.ingest_lease_seconds:g} s, polls every "
        f"{s.poll_min_minutes:g}-{s.poll_max_minutes:g} min; Ctrl-C to stop"
    )
    report = run_ingest_worker(app, stop, once=once, idle_seconds=idle_seconds)
    err.print(
        f"newsletter ingest-worker: stopped ({report.polled} feeds polled, {report.failed} "
        f"failed, {report.new_items} new items)"
    )


@click.command()
@config_option
@click.option("--week", default=None, help="An issue (YYYY-Www); default the newest frozen one.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@handle_errors
def status(config_path: Path | None, week: str | None, fmt: str) -> None:
    """Next scheduled runs, the current issue's deliveries and error rate, and feed health."""
    from newsletter.service.bounces import counts_since, history
    from newsletter.service.catalog import feed_health
    from newsletter.service.schedule import scheduled_runs
    from newsletter.service.sending import issue_status

    app = load_app(config_path)
    runs = scheduled_runs(app)
    current = issue_status(app, week)
    health = feed_health(app)
    failing = [f for f in health if f.status == "error"]
    since = datetime.now(UTC) - timedelta(days=BOUNCE_DAYS)
    bounce_counts = counts_since(app, since)
    recent_bounces = history(app, limit=5)
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
                "counts": current.counts.to_dict(),
                "error_rate": current.error_rate,
                "paused_reason": current.paused_reason,
                "next_retry_at": current.next_retry_at.isoformat()
                if current.next_retry_at
                else None,
                "recent_errors": [
                    {"email": e.email, "reply": e.reply} for e in current.last_errors
                ],
                "held": current.holders,
            },
            "feeds": {"total": len(health), "failing": [f.name for f in failing]},
            "bounces": {
                "days": BOUNCE_DAYS,
                "counts": bounce_counts,
                "recent": [
                    {
                        "occurred_at": b.occurred_at.isoformat(),
                        "email": b.email,
                        "kind": b.kind,
                        "source": b.source,
                        "diagnostic": b.diagnostic,
                        "suppressed": b.suppressed,
                    }
                    for b in recent_bounces
                ],
            },
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
            f"issue {current.period}: {current.status}; queued {c.queued}, "
            f"sending {c.sending}, sent {c.sent}, failed {c.failed}, "
            f"bounced {c.bounced}, skipped {c.skipped}, "
            f"deferred {c.deferred}; error rate {rate}"
        )
        if current.paused_reason:
            out.print(f"  paused: {current.paused_reason}")
        for holder in current.holders:
            out.print(f"  sending: {holder}")
        if current.next_retry_at:
            out.print(f"  next retry: {current.next_retry_at:%Y-%m-%d %H:%M} UTC")
        for error in current.last_errors:
            out.print(f"  {error.email}: {shorten(error.reply, 120)}")
    out.print(
        f"feeds: {len(app.config.feeds)} in {app.config.path.name}, {len(failing)} failing"
        + (": " + ", ".join(f.name for f in failing[:10]) if failing else "")
    )
    counted = ", ".join(f"{n} {kind}" for kind, n in sorted(bounce_counts.items())) or "none"
    out.print(f"bounces and complaints, last {BOUNCE_DAYS} days: {counted}")
    for b in recent_bounces:
        out.print(
            f"  {b.occurred_at:%Y-%m-%d %H:%M} UTC {b.email}: {b.kind} ({b.source})"
            + (", suppressed" if b.suppressed else "")
            + (f"; {shorten(b.diagnostic, 100)}" if b.diagnostic else "")
        )


@click.command()
@config_option
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Serve this process's Prometheus metrics (ingest durations) on this port; "
    "open to anyone who can reach it (see --metrics-host).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics port listens on.",
)
@handle_errors
def run(config_path: Path | None, metrics_port: int | None, metrics_host: str) -> None:
    """Run the scheduler: poll feeds every NEWSLETTER_POLL_MINUTES, build and send weekly.

    Jobs are stored in the database; a restart after the send time sends the issue once, late
    (within NEWSLETTER_MISFIRE_GRACE_HOURS), and a second run for the same period sends nothing.
    Stop with Ctrl-C or SIGTERM.
    """
    from newsletter.cli.scheduler import run_scheduler
    from newsletter.service.metrics import serve_process_metrics

    at_least_info()
    stop = stop_on_signals(second_exits=True)  # systemd stops services with SIGTERM
    app = load_app(config_path)
    if metrics_port is not None:
        try:
            serve_process_metrics(metrics_port, metrics_host)
        except OSError as exc:
            fail(f"--metrics-port {metrics_port}: cannot listen on {metrics_host}: {exc}")
        err.print(f"newsletter run: metrics on http://{metrics_host}:{metrics_port}/metrics")
    path = (config_path or app.settings.config).resolve()
    err.print("newsletter run: starting (catching up, then building the next draft)")
    nl = app.config.newsletter
    run_scheduler(
        app,
        path,
        stop,
        started=lambda: err.print(
            f"newsletter run: polling {len(app.config.feeds)} feeds every "
            f"{app.settings.poll_minutes} min; issue every {nl.schedule.day} at "
            f"{nl.schedule.time} {nl.timezone}; Ctrl-C to stop"
        ),
    )
    err.print("newsletter run: stopped")


COMMANDS = [worker, ingest_worker, status, run]
