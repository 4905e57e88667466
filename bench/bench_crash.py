"""Benchmark: a `newsletter send` killed with SIGKILL part way, and `send` run again at once.

5,000 subscribers (about 60 KB messages), 4 SMTP connections, SQLite, the default lease
(600 s) and heartbeat staleness (NEWSLETTER_SENDER_STALE_SECONDS, 30 s). The first `send`
is killed once a third of the messages arrived; the second starts at once. It sends the rest,
waits for the dead process's heartbeat to go stale, takes its claims over and finishes.
The SMTP server (aiosmtpd, in this process, which only waits meanwhile) keeps the recipient
and Message-ID of every message, so the script can count who is missing and who got it twice.

Reported: the messages received at the kill, the deliveries the dead process held, missing
(target 0), duplicates (target <= 4, one per connection), the rerun's time (target < 90 s),
its exit code and what it said.

Run: ``.venv/bin/python bench/bench_crash.py`` (``--messages``, ``--connections``,
``--stale`` to change the sizes; ``--quick`` for 1,000 messages).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from bench_delivery import SECRET, add_subscribers, issue_id_of, make_issue
from harness import machine_summary, start_watchdog
from sqlmodel import SQLModel

from newsletter.email.tokens import message_id
from newsletter.service.issues import build_issue
from newsletter.service.sending import freeze_issue

TABLES = SQLModel.metadata.tables
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)[ \t]*\r?$", re.MULTILINE | re.IGNORECASE)


class IdHandler:
    """Accepts everything; keeps (recipient, Message-ID) of each message."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        found = _MESSAGE_ID.search(data.split(b"\r\n\r\n", 1)[0])
        msg_id = found.group(1).decode("ascii", "replace") if found else ""
        with self.lock:
            self.ids.extend((rcpt, msg_id) for rcpt in envelope.rcpt_tos)
        return "250 2.0.0 accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.ids)

    def snapshot(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.ids)


def send_command(week: str) -> list[str]:
    return [sys.executable, "-m", "newsletter", "send", "--week", week]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--stale", type=float, default=30.0, help="sender_stale_seconds (30)")
    parser.add_argument("--kill-at", type=float, default=1 / 3, help="fraction received (1/3)")
    parser.add_argument("--scale", type=float, default=0.55, help="section sizes (~60 KB)")
    parser.add_argument("--extra-feeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="1,000 messages")
    parser.add_argument("--time-limit", type=float, default=900)
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.extra_feeds = 1_000, 4
    start_watchdog(args.time_limit)
    print(machine_summary())
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    now = datetime.now(UTC)
    handler = IdHandler()
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=0)
    controller.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-crash-") as tmp:
            folder = Path(tmp)
            app, period = make_issue(folder, now, args.scale, args.extra_feeds)
            add_subscribers(app, args.messages)
            built = build_issue(app, period)
            assert built.rendered is not None and not built.skipped
            assert freeze_issue(app, built) == args.messages
            issue_id = issue_id_of(app, period)
            env = {
                **os.environ,
                "NEWSLETTER_DATABASE_URL": str(app.engine.url),
                "NEWSLETTER_CONFIG": str(folder / "feeds.yaml"),
                "NEWSLETTER_DATA_DIR": str(folder),
                "NEWSLETTER_SECRET_KEY": SECRET,
                "NEWSLETTER_BASE_URL": "https://news.example.com",
                "NEWSLETTER_MAIL_TRANSPORT": "smtp",
                "NEWSLETTER_SMTP_HOST": "127.0.0.1",
                "NEWSLETTER_SMTP_PORT": str(port),
                "NEWSLETTER_SMTP_TLS": "none",
                "NEWSLETTER_SMTP_CONNECTIONS": str(args.connections),
                "NEWSLETTER_SENDER_STALE_SECONDS": str(args.stale),
                "NEWSLETTER_LOG_LEVEL": "WARNING",
            }
            log = folder / "first.log"
            with log.open("wb") as out:
                first = subprocess.Popen(
                    send_command(period.label), env=env, stdout=out, stderr=subprocess.STDOUT
                )
            target = int(args.messages * args.kill_at)
            started = time.monotonic()
            while handler.count() < target:
                if first.poll() is not None:
                    raise SystemExit(f"the first send exited early:\n{log.read_text()}")
                if time.monotonic() - started > 300:
                    raise SystemExit("no progress in 300 s")
                time.sleep(0.01)
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            at_kill = handler.count()
            d = TABLES["delivery"].c
            with app.engine.connect() as conn:
                held = conn.execute(
                    sa.select(sa.func.count()).where(d.issue_id == issue_id, d.status == "sending")
                ).scalar_one()
            began = time.monotonic()
            rerun = subprocess.run(
                send_command(period.label),
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            rerun_seconds = time.monotonic() - began
            received = handler.snapshot()
            domain = app.config.newsletter.sender.domain
            s = TABLES["subscriber"].c
            with app.engine.connect() as conn:
                ids = [int(i) for (i,) in conn.execute(sa.select(s.id))]
                statuses = dict(
                    conn.execute(
                        sa.select(d.status, sa.func.count())
                        .where(d.issue_id == issue_id)
                        .group_by(d.status)
                    ).all()
                )
            app.engine.dispose()
    finally:
        controller.stop()
    expected = {message_id(SECRET.encode(), period.label, sid, domain) for sid in ids}
    by_id = Counter(msg_id for _, msg_id in received)
    missing = len(expected - set(by_id))
    unknown = len(set(by_id) - expected)
    duplicates = sum(n - 1 for n in by_id.values())
    print(
        f"{args.messages:,} messages, {args.connections} connections, SQLite, lease 600 s, "
        f"stale after {args.stale:g} s"
    )
    print(f"killed (SIGKILL) at {at_kill:,} received; the dead process held {held} deliveries")
    print(f"rerun: exit code {rerun.returncode} in {rerun_seconds:.1f} s (target < 90 s)")
    for line in (rerun.stdout + rerun.stderr).strip().splitlines():
        print(f"  | {line}")
    print(f"deliveries after the rerun: {statuses}")
    print(
        f"missing {missing} (target 0), unknown {unknown}, duplicates {duplicates} "
        f"(target <= {args.connections}) -> "
        + (
            "OK"
            if missing == 0 and duplicates <= args.connections and rerun_seconds < 90
            else "MISSED"
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
