"""Benchmark: build, render, queue and compose one weekly issue for 10,000 subscribers.

Setup (not timed): a fresh SQLite file, the bundled demo feeds plus generated ones served over
loopback HTTP and ingested for last week's period, and 10,000 active subscribers inserted in one
Core ``executemany``. Timed: ``build_issue`` (assemble, render, premailer once), ``freeze_issue``
(10,000 deliveries queued in one transaction) and ``compose`` for every subscriber, without
sending. Run: ``.venv/bin/python bench/bench_build.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from feedgen import is_chinese, make_feed
from harness import (
    FEED_CONTENT_TYPE,
    ROOT,
    feed_path,
    machine_summary,
    make_app,
    median_ms,
    start_watchdog,
    timed,
)
from sqlmodel import SQLModel

from newsletter.config import load_config
from newsletter.demo.samples import load_samples, render_samples
from newsletter.demo.server import FeedServer, Route
from newsletter.domain.assemble import assemble_issue
from newsletter.domain.periods import Period, latest_due_period
from newsletter.email.render import build_context, inline_css, make_environment, render_issue
from newsletter.email.tokens import message_id, new_token
from newsletter.service.app import App
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, candidates
from newsletter.service.sending import compose, freeze_issue
from newsletter.storage.db import session_scope

TABLES = SQLModel.metadata.tables
NAMES = ("Alex Reader", "张伟", "Li Na (医学编辑)", None, "Dr. María-José Núñez", "O'Brien, Pat")


@dataclass
class Step:
    """One timed step."""

    label: str
    ms: float
    per: int = 0  # subscribers it covers (for µs per subscriber)


def ingest_week(folder: Path, period: Period, now: datetime, extra_feeds: int, items: int) -> App:
    """An app whose database holds a week of items: the demo feeds plus generated ones."""
    samples = render_samples(now, earliest=period.start, latest=period.end)
    routes = {s.path: Route(body=s.body, content_type=s.content_type) for s in samples}
    window = period.end - period.start
    for i in range(extra_feeds):
        routes[feed_path(i)] = Route(
            body=make_feed(i, items, period.end, window), content_type=FEED_CONTENT_TYPE
        )
    with FeedServer(routes) as server:
        feeds: list[dict[str, Any]] = [
            {
                "name": s["title"],
                "url": server.url(f"/feeds/{s['slug']}.xml"),
                "section": s["section"],
                "weight": s.get("weight", 1.0),
                "language": s["language"],
            }
            for s in load_samples()
        ]
        feeds += [
            {
                "name": f"Bench feed {i:05d}",
                "url": server.url(feed_path(i)),
                "section": "industry" if i % 2 else "headlines",
                "language": "zh" if is_chinese(i) else "en",
            }
            for i in range(extra_feeds)
        ]
        app = make_app(folder, feeds)
        seconds, report = timed(lambda: ingest(app, now=now))
    if report.failed:
        raise RuntimeError(f"ingest failed: {[(o.name, o.error) for o in report.failed]}")
    print(
        f"setup: ingested {report.new_items} items from {len(report.outcomes)} feeds "
        f"in {seconds:.2f} s"
    )
    return app


def add_subscribers(app: App, count: int, now: datetime) -> float:
    """Insert ``count`` active subscribers in one transaction; returns seconds."""
    rows = [
        {
            "email": f"reader{n:06d}@example.com",
            "name": NAMES[n % len(NAMES)],
            "status": "active",
            "token": new_token(),
            "source": "bench",
            "consent_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]

    def insert() -> None:
        with app.engine.begin() as conn:
            conn.execute(sa.insert(TABLES["subscriber"]), rows)

    return timed(insert)[0]


def recipients(app: App, period: Period) -> list[tuple[str, str | None, str, str]]:
    """(email, name, token, Message-ID) of every queued delivery of the period's issue (the
    Message-ID is computed as the sender does: it is stored only once a delivery is sent)."""
    sub, delivery, issue = TABLES["subscriber"].c, TABLES["delivery"].c, TABLES["issue"].c
    secret, domain = app.secret(), app.config.newsletter.sender.domain
    stmt = (
        sa.select(sub.email, sub.name, sub.token, sub.id)
        .join_from(TABLES["subscriber"], TABLES["delivery"], delivery.subscriber_id == sub.id)
        .join(TABLES["issue"], issue.id == delivery.issue_id)
        .where(issue.period == period.label, delivery.status == "queued")
        .order_by(delivery.id)
    )
    with app.engine.connect() as conn:
        return [
            (row[0], row[1], row[2], message_id(secret, period.label, row[3], domain))
            for row in conn.execute(stmt)
        ]


def run(args: argparse.Namespace) -> list[Step]:
    """Set up, then time each step; returns the steps in order."""
    now = datetime.now(UTC)
    schedule = load_config(ROOT / "feeds.yaml").newsletter
    period = latest_due_period(now, schedule.schedule.weekday, schedule.schedule.at, schedule.tz)
    print(
        f"period {period.label}: {period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC"
    )
    steps: list[Step] = []
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        app = ingest_week(Path(tmp), period, now, args.extra_feeds, args.items)
        try:
            seconds = add_subscribers(app, args.subscribers, now)
            print(f"setup: inserted {args.subscribers:,} subscribers in {seconds:.2f} s")

            cold, built = timed(lambda: build_issue(app, period))
            assert built.rendered is not None and not built.skipped, built.content.skipped_reason
            steps.append(
                Step("build_issue, first call (assemble + render + premailer)", cold * 1000)
            )
            repeat = args.repeat
            steps.append(
                Step(
                    f"build_issue, median of {repeat}",
                    median_ms(lambda: build_issue(app, period), repeat),
                )
            )

            def assemble() -> Any:
                with session_scope(app.engine) as session:
                    return assemble_issue(app.config, period, candidates(app, session, period))

            content = assemble()
            env = make_environment(app.config.templates_dir)
            options = app.render_options()
            template = env.get_template("email/issue.html")
            raw_html = template.render(build_context(content, options))  # before CSS inlining
            html = built.rendered.html
            steps.append(
                Step("  of which candidates + assemble_issue", median_ms(assemble, repeat))
            )
            steps.append(
                Step(
                    "  of which render_issue (HTML + text, premailer once)",
                    median_ms(lambda: render_issue(env, content, options), repeat),
                )
            )
            steps.append(
                Step(
                    "    of which Jinja2 issue.html",
                    median_ms(lambda: template.render(build_context(content, options)), repeat),
                )
            )
            steps.append(
                Step(
                    "    of which premailer inline_css",
                    median_ms(lambda: inline_css(raw_html), repeat),
                )
            )
            print(
                f"issue: {built.content.item_count} items in {len(built.content.sections)} "
                f"sections, HTML {len(html.encode()):,} bytes, text "
                f"{len(built.rendered.text.encode()):,} bytes"
            )

            seconds, queued = timed(lambda: freeze_issue(app, built))
            assert queued == args.subscribers, f"queued {queued} of {args.subscribers}"
            steps.append(
                Step(
                    f"freeze_issue (queue {queued:,} deliveries, one transaction)",
                    seconds * 1000,
                    queued,
                )
            )
            seconds, frozen = timed(lambda: build_issue(app, period))
            assert frozen.status == "sending" and frozen.rendered is not None
            steps.append(Step("build_issue of the frozen issue (read back)", seconds * 1000))
            seconds, people = timed(lambda: recipients(app, period))
            steps.append(
                Step(f"load {len(people):,} recipients (one query)", seconds * 1000, len(people))
            )

            def compose_all() -> int:
                size = 0
                for email, name, token, msg_id in people:
                    size += len(compose(app, frozen, email, name, token, msg_id, now))
                return size

            seconds, size = timed(compose_all)
            steps.append(
                Step(f"compose x {len(people):,} (no sending)", seconds * 1000, len(people))
            )
            print(
                f"composed {size / 1e6:,.1f} MB, {size / max(1, len(people)) / 1024:.1f} KB "
                f"per message"
            )
            email, name, token, msg_id = people[0]
            sample = compose(app, frozen, email, name, token, msg_id, now)
            assert token.encode() in sample, "personal unsubscribe link missing"
        finally:
            app.engine.dispose()
    return steps


def print_steps(steps: list[Step]) -> None:
    """A table of milliseconds and microseconds per subscriber."""
    print(f"\n{'step':<62}{'ms':>11}{'µs/subscriber':>15}")
    for step in steps:
        per = f"{step.ms * 1000 / step.per:,.1f}" if step.per else ""
        print(f"{step.label:<62}{step.ms:>11,.1f}{per:>15}")
    top = [s for s in steps if not s.label.startswith(" ") and "median" not in s.label]
    print(
        f"{'total (first build, freeze, read back, load, compose)':<62}"
        f"{sum(s.ms for s in top):>11,.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=10_000, help="(10,000)")
    parser.add_argument(
        "--extra-feeds",
        type=int,
        default=20,
        help="generated feeds served besides the 6 demo feeds (20)",
    )
    parser.add_argument("--items", type=int, default=30, help="items per generated feed (30)")
    parser.add_argument("--repeat", type=int, default=5, help="runs for the medians (5)")
    parser.add_argument("--quick", action="store_true", help="1,000 subscribers: a smoke run")
    parser.add_argument("--time-limit", type=float, default=600, help="abort after this (s)")
    args = parser.parse_args(argv)
    if args.quick:
        args.subscribers, args.extra_feeds, args.repeat = 1_000, 4, 2
    start_watchdog(args.time_limit)
    print(machine_summary())
    print_steps(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
