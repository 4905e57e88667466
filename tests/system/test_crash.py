"""Crash safety of the delivery pipeline, with real processes and a real SMTP server.

A `newsletter send` of 2,000 messages over 4 connections to an aiosmtpd server on loopback is
killed with SIGKILL part way, and `send` is run again at once: it sends the rest, waits for the
dead process's heartbeat to go stale, takes its claims over and finishes. Every subscriber gets
the issue, and at most one copy per connection (the message on the wire at the kill) goes
twice. (`bench/bench_crash.py` does the same with 5,000 messages and times the rerun.) On
PostgreSQL three workers share the issue, one is killed, and the two others finish it; and a
10-second database outage (a TCP proxy cut) is ridden out by the workers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from newsletter.demo.server import FeedServer
from newsletter.domain.periods import Period
from newsletter.email.tokens import message_id
from newsletter.service.app import App
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from newsletter.service.sending import freeze_issue, work_once
from tests.conftest import POSTGRES_URL
from tests.helpers import add_subscribers, serve_stories
from tests.smtp_server import RecordingHandler, SmtpServer
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not

TABLES = SQLModel.metadata.tables
SUBSCRIBERS = 2_000  # the bench sends 5,000; this keeps the test under half a minute
LEASE_SECONDS = 600.0  # the default: a dead sender is noticed by its heartbeat, not its lease
STALE_SECONDS = 3.0
CONNECTIONS = 4
BATCH = 50
SECRET = "test-secret"
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)[ \t]*\r?$", re.MULTILINE | re.IGNORECASE)

# ---- an SMTP server that keeps only (recipient, Message-ID) --------------------------------


@dataclass
class IdHandler(RecordingHandler):
    """Accepts everything and keeps only the recipient and Message-ID of each message (5,000
    messages of tens of KB are not kept whole)."""

    ids: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data: bytes = envelope.original_content or envelope.content
        head = data.split(b"\r\n\r\n", 1)[0]
        found = _MESSAGE_ID.search(head)
        msg_id = found.group(1).decode("ascii", "replace") if found else ""
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.ids.append((rcpt, msg_id))
        return "250 2.0.0 accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.ids)

    def snapshot(self) -> list[tuple[str, str]]:
        with self.lock:
            return list(self.ids)


class IdServer(SmtpServer):
    """tests.smtp_server.SmtpServer with the Message-ID recording handler."""

    handler: IdHandler

    def __init__(self) -> None:
        super().__init__()
        self.handler = IdHandler()
        self.controller.handler = self.handler


@pytest.fixture
def id_server() -> Iterator[IdServer]:
    server = IdServer()
    with server:
        yield server


# ---- a frozen issue for many subscribers -----------------------------------------------------


@dataclass
class Frozen:
    """A frozen issue, and what a worker process needs to send it."""

    app: App
    period: Period
    issue_id: int
    config: Path
    database_url: str
    emails: dict[int, str]  # subscriber id -> address


def freeze_for(
    make_app: Any, feed_server: FeedServer, database_url: str, tmp_path: Path, count: int
) -> Frozen:
    """Stories ingested from the loopback feed server, ``count`` subscribers, the due issue
    built and frozen (one queued delivery per subscriber)."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == 8
    emails = add_subscribers(app, count)
    built = build_issue(app, period)
    assert built.rendered is not None and not built.skipped
    assert freeze_issue(app, built) == count
    with app.engine.connect() as conn:
        issue_id = conn.execute(
            sa.select(TABLES["issue"].c.id).where(TABLES["issue"].c.period == period.label)
        ).scalar_one()
    # make_app writes the feeds.yaml into the test's tmp_path.
    config = tmp_path / "feeds.yaml"
    assert config.is_file()
    return Frozen(app, period, int(issue_id), config, database_url, emails=emails)


def worker_env(frozen: Frozen, smtp_port: int, tmp_path: Path) -> dict[str, str]:
    """The environment of a `newsletter worker` process sending to the test SMTP server."""
    return {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": frozen.database_url,
        "NEWSLETTER_CONFIG": str(frozen.config),
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_BASE_URL": "https://news.example.com",
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_MAIL_TRANSPORT": "smtp",
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp_port),
        "NEWSLETTER_SMTP_TLS": "none",
        "NEWSLETTER_SMTP_TIMEOUT": "30",
        "NEWSLETTER_SMTP_CONNECTIONS": str(CONNECTIONS),
        "NEWSLETTER_DELIVERY_BATCH": str(BATCH),
        "NEWSLETTER_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        "NEWSLETTER_SENDER_STALE_SECONDS": str(STALE_SECONDS),
        "NEWSLETTER_LOG_LEVEL": "WARNING",
    }


def start_send(env: dict[str, str], log: Path, week: str) -> subprocess.Popen[bytes]:
    """`python -m newsletter send --week W` as a real process, output to ``log``."""
    args = [sys.executable, "-m", "newsletter", "send", "--week", week]
    handle = log.open("ab")
    try:
        return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
    finally:
        handle.close()


def start_worker(env: dict[str, str], log: Path, once: bool = True) -> subprocess.Popen[bytes]:
    """`python -m newsletter worker [--once]` as a real process, output to ``log``."""
    args = [sys.executable, "-m", "newsletter", "worker", "--poll", "0.2"]
    if once:
        args.append("--once")
    handle = log.open("ab")
    try:
        return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)
    finally:
        handle.close()


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    processes: Sequence[subprocess.Popen[bytes]] = (),
) -> None:
    """Poll until ``predicate()`` holds; fail with ``what`` (and any dead worker's code)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        for process in processes:
            if process.poll() not in (None, 0):
                raise AssertionError(f"a worker exited with {process.returncode} ({what})")
        time.sleep(0.02)


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL, no chance to give anything back."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def finish(process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    """Wait for a worker to exit by itself; fail with its output if it did not exit 0."""
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.wait()
        output = log.read_text(errors="replace")
        raise AssertionError(f"worker did not finish:\n{output}") from exc
    assert code == 0, log.read_text(errors="replace")


@dataclass
class InFlight:
    """Deliveries left claimed (status sending) at a kill."""

    delivery_ids: set[int]
    message_ids: set[str]


def in_flight(frozen: Frozen, worker_pid: int | None = None) -> InFlight:
    """The deliveries in status sending (of one worker process, by its pid, if given)."""
    delivery = TABLES["delivery"].c
    stmt = sa.select(delivery.id, delivery.subscriber_id, delivery.worker).where(
        delivery.issue_id == frozen.issue_id, delivery.status == "sending"
    )
    with frozen.app.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    if worker_pid is not None:
        rows = [r for r in rows if r.worker and f":{worker_pid}:" in r.worker]
    domain = frozen.app.config.newsletter.sender.domain
    return InFlight(
        {int(r.id) for r in rows},
        {
            message_id(SECRET.encode(), frozen.period.label, int(r.subscriber_id), domain)
            for r in rows
        },
    )


def delivery_statuses(frozen: Frozen) -> Counter[str]:
    delivery = TABLES["delivery"].c
    stmt = sa.select(delivery.status, sa.func.count()).where(delivery.issue_id == frozen.issue_id)
    with frozen.app.engine.connect() as conn:
        return Counter(
            {status: int(n) for status, n in conn.execute(stmt.group_by(delivery.status))}
        )


def issue_status(frozen: Frozen) -> str:
    issue = TABLES["issue"].c
    with frozen.app.engine.connect() as conn:
        return str(
            conn.execute(sa.select(issue.status).where(issue.id == frozen.issue_id)).scalar_one()
        )


def assert_everyone_once(
    frozen: Frozen, received: list[tuple[str, str]], killed: InFlight, most_twice: int
) -> Counter[str]:
    """Every subscriber got the issue with its own deterministic Message-ID; only deliveries
    the killed process held were sent twice, at most ``most_twice`` of them (one per
    connection: the messages on the wire). Returns the Message-ID counts."""
    domain = frozen.app.config.newsletter.sender.domain
    expected = {
        email: message_id(SECRET.encode(), frozen.period.label, sid, domain)
        for sid, email in frozen.emails.items()
    }
    by_id = Counter(msg_id for _, msg_id in received)
    # Nobody missing, nobody unknown; a resent copy carries the same Message-ID.
    assert {rcpt for rcpt, _ in received} == set(expected)
    assert set(by_id) == set(expected.values())
    for rcpt, msg_id in received:
        assert expected[rcpt] == msg_id, f"{rcpt} got Message-ID {msg_id}"
    twice = {msg_id for msg_id, n in by_id.items() if n > 1}
    duplicates = sum(n - 1 for n in by_id.values())
    assert max(by_id.values()) <= 2, "a message went out three times"
    assert duplicates <= min(most_twice, len(killed.delivery_ids)), duplicates
    assert twice <= killed.message_ids, "a copy sent twice was not in flight at the kill"
    statuses = delivery_statuses(frozen)
    assert statuses == Counter({"sent": len(expected)}), statuses
    assert issue_status(frozen) == "sent"
    return by_id


# ---- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_send_killed_mid_send_then_run_again_at_once_sends_everyone_once(
    make_app: Any,
    feed_server: FeedServer,
    id_server: IdServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    frozen = freeze_for(make_app, feed_server, database_url, tmp_path, SUBSCRIBERS)
    env = worker_env(frozen, id_server.port, tmp_path)
    log = tmp_path / "send.log"

    first = start_send(env, log, frozen.period.label)
    try:
        wait_for(
            lambda: id_server.handler.count() >= SUBSCRIBERS // 3,
            60,
            "a third of the messages",
            [first],
        )
    finally:
        kill(first)
    killed = in_flight(frozen)
    received_at_kill = id_server.handler.count()
    assert received_at_kill < SUBSCRIBERS, "the send finished before it was killed"
    # Claimed but not sent: up to a batch per connection, all of the dead process.
    assert 0 < len(killed.delivery_ids) <= CONNECTIONS * BATCH
    statuses = delivery_statuses(frozen)
    assert statuses["queued"] > 0 and statuses["sent"] > 0
    # `status` says what is held, by which process, since when.
    progress = issue_status_of(frozen)
    assert progress.holders and f"process {first.pid} on" in progress.holders[0]
    assert f"{len(killed.delivery_ids)} held by" in progress.holders[0]

    # Run again at once: it sends the rest, then takes over the dead process's claims once
    # its heartbeat is STALE_SECONDS old, and finishes the issue.
    rerun = subprocess.run(
        [sys.executable, "-m", "newsletter", "send", "--week", frozen.period.label],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, output
    assert "Traceback" not in output, output
    assert f"Issue {frozen.period.label}: sent;" in rerun.stdout, output
    # It said whose claims it found and that it took them over.
    assert f"held by process {first.pid} on" in rerun.stderr, output
    assert "took over" in rerun.stderr, output

    by_id = assert_everyone_once(frozen, id_server.handler.snapshot(), killed, CONNECTIONS)
    print(
        f"\nkilled at {received_at_kill} received; {len(killed.delivery_ids)} held by the dead "
        f"process; {sum(n - 1 for n in by_id.values())} sent twice; the rerun said:\n"
        f"{rerun.stderr.strip()}"
    )


def issue_status_of(frozen: Frozen) -> Any:
    from newsletter.service.sending import issue_status

    progress = issue_status(frozen.app, frozen.period.label)
    assert progress is not None
    return progress


@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set NEWSLETTER_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) "
    "to run the 3-worker crash test on PostgreSQL",
)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_workers_on_postgresql_one_killed(
    make_app: Any,
    feed_server: FeedServer,
    id_server: IdServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    frozen = freeze_for(make_app, feed_server, database_url, tmp_path, SUBSCRIBERS)
    env = worker_env(frozen, id_server.port, tmp_path)
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    workers = [start_worker(env, logs[n]) for n in range(3)]
    victim = workers[1]
    try:
        wait_for(
            lambda: id_server.handler.count() >= SUBSCRIBERS // 3,
            60,
            "a third of the messages",
            workers,
        )
        kill(victim)
        killed = in_flight(frozen, victim.pid)
        assert id_server.handler.count() < SUBSCRIBERS, "the workers finished before the kill"
        assert 0 < len(killed.delivery_ids) <= CONNECTIONS * BATCH
        # The survivors send everything else, then take the victim's claims over once its
        # heartbeat is stale, and finish the issue: no restart, no lease to wait for.
        for n in (0, 2):
            finish(workers[n], logs[n])
            assert "Traceback" not in logs[n].read_text(errors="replace")
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
                process.wait()

    by_id = assert_everyone_once(frozen, id_server.handler.snapshot(), killed, CONNECTIONS)
    # Each of the three workers really sent part of the issue.
    senders = Counter(worker.split(":")[1] for (worker,) in _workers_of_sent(frozen))
    assert {str(w.pid) for w in workers} <= set(senders)
    print(
        f"\n{len(killed.delivery_ids)} in flight at the kill; "
        f"{sum(n - 1 for n in by_id.values())} sent twice; sent per worker pid {dict(senders)}"
    )


@pytest.mark.skipif(
    not POSTGRES_URL,
    reason="set NEWSLETTER_TEST_POSTGRES_URL to run the database outage test on PostgreSQL",
)
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_workers_ride_out_a_ten_second_database_outage(
    make_app: Any,
    feed_server: FeedServer,
    id_server: IdServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    """Two workers reach PostgreSQL through a TCP proxy on loopback; the proxy is cut (every
    connection dropped, new ones refused) for 10 s in the middle of the send. The workers
    keep their claims, retry with backoff, say so once, and finish: everyone once."""
    count = 1_000
    frozen = freeze_for(make_app, feed_server, database_url, tmp_path, count)
    url = sa.engine.make_url(database_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = {
            **worker_env(frozen, id_server.port, tmp_path),
            "NEWSLETTER_DATABASE_URL": proxied,
            "NEWSLETTER_SMTP_CONNECTIONS": "2",
            "NEWSLETTER_SEND_RATE_PER_SECOND": "40",  # per process: the send lasts ~12 s
            "NEWSLETTER_SENDER_STALE_SECONDS": "30",  # the default: the outage is shorter
        }
        logs = [tmp_path / f"worker{n}.log" for n in range(2)]
        workers = [start_worker(env, logs[n]) for n in range(2)]
        try:
            wait_for(lambda: id_server.handler.count() >= count // 4, 60, "a quarter", workers)
            proxy.cut()
            at_cut = id_server.handler.count()
            time.sleep(10)
            during = id_server.handler.count() - at_cut
            proxy.restore()
            for n in range(2):
                finish(workers[n], logs[n], timeout=180)
        finally:
            for process in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    outputs = [log.read_text(errors="replace") for log in logs]
    for output in outputs:
        assert "Traceback" not in output and "Exception in thread" not in output, output
        # Logged once when it went, once when it came back (not once per retry).
        assert output.count("the database is unreachable") <= 2, output
    assert any("the database is unreachable" in o for o in outputs), outputs
    assert any("the database answers again" in o for o in outputs), outputs
    # Nothing was sent twice: results waited for the database instead of being dropped.
    by_id = assert_everyone_once(frozen, id_server.handler.snapshot(), InFlight(set(), set()), 0)
    assert max(by_id.values()) == 1
    print(f"\n{during} messages went out during the outage (each waited for its record)")


def _workers_of_sent(frozen: Frozen) -> list[tuple[str]]:
    delivery = TABLES["delivery"].c
    stmt = sa.select(delivery.worker).where(
        delivery.issue_id == frozen.issue_id, delivery.status == "sent"
    )
    with frozen.app.engine.connect() as conn:
        return [(str(w),) for (w,) in conn.execute(stmt)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_live_workers_claims_are_not_sent_twice_when_its_lease_runs_out(
    make_app: Any,
    feed_server: FeedServer,
    id_server: IdServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    """A worker held back by the rate limit keeps a batch longer than its lease; a second worker
    (another process, or the scheduler's poll resuming the issue) then takes the expired claims.
    The first worker must not send those too: its claims are no longer its own."""
    frozen = freeze_for(make_app, feed_server, database_url, tmp_path, 30)
    common: dict[str, Any] = {
        "mail_transport": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": id_server.port,
        "smtp_tls": "none",
        "smtp_connections": 1,
        "delivery_batch": 10,
        "delivery_lease_seconds": 1.0,
    }
    slow = make_app(send_rate_per_second=2.0, **common)  # a batch of 10 takes 5 s
    fast = make_app(**common)
    stop = threading.Event()
    first = threading.Thread(target=work_once, args=(slow, stop), kwargs={"connections": 1})
    first.start()
    try:
        # The slow worker's lease ended while it still holds most of its first batch.
        wait_for(lambda: id_server.handler.count() >= 2, 30, "the first messages")
        time.sleep(1.5)
        work_once(fast, threading.Event(), connections=1)
    finally:
        first.join(timeout=60)
        stop.set()
    assert not first.is_alive()
    work_once(fast, threading.Event(), connections=1)  # whatever the slow worker left
    received = id_server.handler.snapshot()
    by_id = Counter(msg_id for _, msg_id in received)
    assert {rcpt for rcpt, _ in received} == set(frozen.emails.values())
    twice = sorted({rcpt for rcpt, msg_id in received if by_id[msg_id] > 1})
    assert not twice, f"{len(twice)} subscribers got the issue twice: {twice}"
    assert delivery_statuses(frozen) == Counter({"sent": 30})
