"""Benchmark: the delivery pipeline's cost per recipient, throughput and memory.

Three parts, each a ratio measured in the same run:

1. CPU per recipient after the one-time render: ``MessageTemplate.personalize`` (the template
   compiled once, as the pipeline does) against building a whole ``EmailMessage`` per recipient
   (``compose``: the bodies personalized, then ``build_message(MessageParts(...))``), on a real
   rendered issue, over varied ASCII and Chinese names and addresses (``time.process_time``).
2. Throughput: 5,000 messages of about 60 KB to an aiosmtpd sink in its own process, sent by
   ``newsletter.service.delivery.deliver`` (SQLite, the issue frozen first) and by the bare
   socket client of ``bench/smtp_bare.py``, the same bytes, the same connections, alternating.
3. Memory: queue and send an issue to 10,000 and to 100,000 subscribers, each size in a fresh
   process; peak RSS of the sending process.
4. DKIM: the cost of signing one ~60 KB message (RSA 2048 and Ed25519 with OpenSSL through
   ``cryptography``; dkimpy's pure-Python RSA for comparison). ``--dkim rsa`` or
   ``--dkim ed25519`` makes part 2 sign every message the pipeline sends (the bare client
   sends the same messages unsigned).

Run: ``.venv/bin/python bench/bench_delivery.py`` (``--quick`` for a smoke run; ``--only cpu``,
``--only throughput``, ``--only memory`` or ``--only dkim`` for one part; ``--profile`` to
profile the pipeline).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from bench_build import ingest_week
from harness import ROOT, machine_summary, start_watchdog
from smtp_bare import Prepared, prepare, run_bare
from smtp_sink import Sink, running_sink
from sqlmodel import SQLModel

from newsletter.config import Settings, load_config
from newsletter.domain.periods import Period, latest_due_period
from newsletter.email.compiled import MessageTemplate
from newsletter.email.headers import envelope_address
from newsletter.email.tokens import message_id, new_token
from newsletter.email.transports import SmtpSettings, SmtpTransport, Transport
from newsletter.service import delivery, variants
from newsletter.service.app import App, open_app
from newsletter.service.issues import BuiltIssue, build_issue
from newsletter.service.sending import compose, freeze_issue
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues

TABLES = SQLModel.metadata.tables
SECRET = "bench-secret"

# ---- recipients --------------------------------------------------------------------------

ASCII_NAMES = (
    "Alex Reader",
    "Dr. María-José Núñez",
    "O'Brien, Pat",
    "Jean-Luc Picard",
    "Priya Raghunathan",
    "Anne-Marie van der Berg-Oosterhout",
    "Li Wei",
)
CHINESE_NAMES = (
    "张伟",
    "李娜（医学编辑）",
    "欧阳娜娜",
    "王小明 北京协和医院心内科主任医师",
    "Zhang Wei 张伟",
    "陈静",
    "司马相如",
)
DOMAINS = (
    "example.com",
    "mail.example.org",
    "hospital.example.cn",
    "university.example.edu",
    "医院.example".encode("idna").decode("ascii"),  # stored as normalize_email stores it
    "sub.domain.example.co.uk",
)


@dataclass(frozen=True)
class Recipient:
    """One subscriber's personal parts."""

    email: str
    name: str | None
    token: str
    message_id: str


def make_recipient(n: int, rng: random.Random) -> tuple[str, str | None]:
    """A varied (address, name): half Chinese names, some without a name, long and short."""
    roll = rng.random()
    if roll < 0.45:
        name: str | None = rng.choice(CHINESE_NAMES)
    elif roll < 0.9:
        name = rng.choice(ASCII_NAMES)
    else:
        name = None
    local = rng.choice(
        (
            f"reader{n}",
            f"first.last.{n}",
            f"news+weekly-{n}",
            f"zhang.wei{n}",
            f"a{n}",
            f"very.long.local-part.for.testing.{n}",
        )
    )
    return f"{local}@{rng.choice(DOMAINS)}", name


def recipients(count: int, period: str, domain: str, seed: int = 7) -> list[Recipient]:
    """``count`` varied recipients with tokens and deterministic Message-IDs."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        email, name = make_recipient(n, rng)
        out.append(
            Recipient(email, name, new_token(), message_id(SECRET.encode(), period, n, domain))
        )
    return out


def add_subscribers(app: App, count: int, seed: int = 11) -> None:
    """Insert ``count`` active subscribers (the varied addresses and names) in one statement."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    table = TABLES["subscriber"]
    chunk = 20_000
    with app.engine.begin() as conn:
        for start in range(0, count, chunk):
            rows = []
            for n in range(start, min(count, start + chunk)):
                email, name = make_recipient(n, rng)
                rows.append(
                    {
                        "email": email,
                        "name": name,
                        "status": "active",
                        "token": new_token(),
                        "source": "bench",
                        "consent_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            conn.execute(sa.insert(table), rows)


# ---- the issue ---------------------------------------------------------------------------


def due_period(now: datetime) -> Period:
    """The latest period whose send time has passed, by the project's feeds.yaml schedule."""
    nl = load_config(ROOT / "feeds.yaml").newsletter
    return latest_due_period(now, nl.schedule.weekday, nl.schedule.at, nl.tz)


def settings_for(folder: Path, **overrides: Any) -> Settings:
    """What harness.make_app uses, for re-opening the same database (in a child process too)."""
    values: dict[str, Any] = {
        "data_dir": folder,
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "outbox_dir": folder / "outbox",
        "allow_private_addresses": True,
        "secret_key": SECRET,
        "base_url": "https://news.example.com",
        "mail_transport": "file",
    }
    values.update(overrides)
    return Settings(**values)


def scale_sections(folder: Path, scale: float) -> None:
    """Shrink every section's max_items in the folder's feeds.yaml (a smaller issue)."""
    path = folder / "feeds.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section in data["sections"]:
        section["max_items"] = max(1, math.floor(section.get("max_items", 8) * scale))
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def make_issue(folder: Path, now: datetime, scale: float, extra_feeds: int) -> tuple[App, Period]:
    """A database with a week of items (the demo feeds plus generated ones); the issue's
    sections cut to ``scale`` of their size. Returns the app (re-opened) and the period."""
    period = due_period(now)
    app = ingest_week(folder, period, now, extra_feeds, 30)
    app.engine.dispose()
    if scale < 1:
        scale_sections(folder, scale)
    return open_app(settings_for(folder), folder / "feeds.yaml"), period


def issue_id_of(app: App, period: Period) -> int:
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period.label)
        assert issue is not None and issue.id is not None
        return int(issue.id)


def template_of(app: App, issue_id: int, built: BuiltIssue) -> MessageTemplate:
    """The issue's message template exactly as the pipeline compiles it."""
    made = variants.Variants(app, built, variants.issue_links(app, issue_id, built))
    template = made.get(None, None)
    assert template is not None
    return template


def message_size(app: App, built: BuiltIssue) -> int:
    return len(
        compose(app, built, "reader@example.com", "张伟", "T" * 22, "<a@b>", datetime.now(UTC))
    )


# ---- 1. CPU per recipient ----------------------------------------------------------------


def cpu_per_recipient(args: argparse.Namespace, folder: Path, now: datetime) -> dict[str, float]:
    print("\n== 1. CPU per recipient: personalize (compiled once) vs a whole EmailMessage ==")
    app, period = make_issue(folder, now, 1.0, args.extra_feeds)
    built = build_issue(app, period)
    assert built.rendered is not None and not built.skipped, built.content.skipped_reason
    html_kb = len(built.rendered.html.encode()) / 1000
    text_kb = len(built.rendered.text.encode()) / 1000
    domain = app.config.newsletter.sender.domain
    people = recipients(args.recipients, period.label, domain)
    issue_id = issue_id_of(app, period)

    started = time.process_time()
    template = template_of(app, issue_id, built)
    compile_ms = (time.process_time() - started) * 1000

    def new_path(batch: list[Recipient]) -> int:
        size = 0
        for r in batch:
            size += len(
                template.personalize(variants.personal(app, r.email, r.name, r.token, r.message_id))
            )
        return size

    def full_build(batch: list[Recipient]) -> int:
        size = 0
        for r in batch:
            size += len(compose(app, built, r.email, r.name, r.token, r.message_id, now))
        return size

    new_path(people[:50])  # warm-up (regex and codec caches)
    full_build(people[:20])
    baseline_count = min(len(people), args.baseline_recipients)
    started = time.process_time()
    full_size = full_build(people[:baseline_count])
    full_us = (time.process_time() - started) / baseline_count * 1e6
    started = time.process_time()
    new_size = new_path(people)
    new_us = (time.process_time() - started) / len(people) * 1e6
    started = time.process_time()
    full_build(people[:baseline_count])  # again, after the fast path: no order effect
    full_us = min(full_us, (time.process_time() - started) / baseline_count * 1e6)
    ratio = full_us / new_us
    chinese = sum(1 for r in people if r.name and not r.name.isascii())
    print(
        f"issue: {built.content.item_count} items, HTML {html_kb:.1f} KB, text {text_kb:.1f} KB, "
        f"{len(built.rendered.attachments)} calendar files; message "
        f"{new_size / len(people) / 1000:.1f} KB (personalize) / "
        f"{full_size / baseline_count / 1000:.1f} KB (build_message)"
    )
    print(
        f"recipients: {len(people):,} for personalize, {baseline_count:,} for build_message "
        f"({chinese * 100 // len(people)}% Chinese names, {len(DOMAINS)} domains incl. IDN)"
    )
    print(f"one-time compile_template (with link rewriting): {compile_ms:.1f} ms CPU")
    print(f"build_message(MessageParts(...)) per recipient : {full_us:10.1f} µs CPU")
    print(f"MessageTemplate.personalize per recipient     : {new_us:10.1f} µs CPU")
    print(f"ratio: {ratio:,.0f}x (target >= 200x) -> {'OK' if ratio >= 200 else 'MISSED'}")
    if ratio < 200 or args.profile:
        profile_personalize(app, template, people)
    app.engine.dispose()
    return {"full_us": full_us, "new_us": new_us, "ratio": ratio}


def profile_personalize(app: App, template: MessageTemplate, people: list[Recipient]) -> None:
    """Where personalize's time goes (cProfile, the top functions by own time)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for r in people:
        template.personalize(variants.personal(app, r.email, r.name, r.token, r.message_id))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    print("profile of personalize + personal (by own time):")
    print("\n".join(out.getvalue().splitlines()[:40]))


# ---- 2. throughput -----------------------------------------------------------------------


def reset_deliveries(app: App, issue_id: int) -> None:
    """Every delivery back to queued, as if never sent (setup between runs, not timed)."""
    d = TABLES["delivery"]
    with app.engine.begin() as conn:
        conn.execute(
            sa.update(d)
            .where(d.c.issue_id == issue_id)
            .values(
                status="queued",
                attempts=0,
                lease_until=None,
                next_attempt_at=None,
                message_id=None,
                last_reply=None,
                smtp_code=None,
                worker=None,
                sent_at=None,
            )
        )
        conn.execute(
            sa.update(TABLES["issue"])
            .where(TABLES["issue"].c.id == issue_id)
            .values(status="sending")
        )


def pipeline_messages(app: App, issue_id: int, built: BuiltIssue) -> list[tuple[str, str, bytes]]:
    """The bytes the pipeline sends for each queued delivery (for the bare client)."""
    template = template_of(app, issue_id, built)
    sub, dl = TABLES["subscriber"].c, TABLES["delivery"].c
    stmt = (
        sa.select(sub.id, sub.email, sub.name, sub.token)
        .join_from(TABLES["delivery"], TABLES["subscriber"], dl.subscriber_id == sub.id)
        .where(dl.issue_id == issue_id)
        .order_by(dl.id)
    )
    sender = app.config.newsletter.sender
    secret = app.secret()
    with app.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for sid, email, name, token in rows:
        msg_id = message_id(secret, built.period.label, sid, sender.domain)
        data = template.personalize(variants.personal(app, email, name, token, msg_id))
        out.append((sender.email, envelope_address(email), data))
    return out


@dataclass
class PipelineResult:
    messages: int
    seconds: float
    cpu_seconds: float
    connections: int

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds


def run_pipeline(
    app: App,
    issue_id: int,
    built: BuiltIssue,
    sink: Sink,
    connections: int,
    profiler: Callable[[], Any] | None = None,
) -> PipelineResult:
    """``deliver`` over ``connections`` SMTP connections to the sink, timed."""

    def factory() -> Transport:
        return SmtpTransport(SmtpSettings("127.0.0.1", sink.port, "none", timeout=60))

    began, began_cpu = time.perf_counter(), time.process_time()
    tally = delivery.deliver(app, issue_id, built, factory, connections=connections)
    seconds, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    if tally.sent != sink.messages():
        raise SystemExit(f"the pipeline sent {tally.sent}, the sink counted {sink.messages()}")
    return PipelineResult(tally.sent, seconds, cpu, sink.connections())


@contextmanager
def profiled_senders(top: int = 25) -> Iterator[None]:
    """cProfile every sender thread of ``deliver`` and print the merged profile."""
    original = delivery._sender
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def wrapped(run: Any, factory: Any) -> None:
        # Each thread's own CPU time: where the sender threads spend CPU (waits not counted).
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        try:
            original(run, factory)
        finally:
            profile.disable()
            with lock:
                profiles.append(profile)

    delivery._sender = wrapped
    try:
        yield
    finally:
        delivery._sender = original
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for profile in profiles[1:]:
        stats.add(profile)
    stats.sort_stats("tottime").print_stats(top)
    print("profile of the sender threads (merged, by own CPU time, time.thread_time):")
    print("\n".join(out.getvalue().splitlines()[: top + 12]))


def dkim_key(folder: Path, kind: str) -> Path:
    """A new private key file (PKCS#8 PEM) of ``kind`` (rsa: 2048 bits, or ed25519)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ed25519.Ed25519PrivateKey.generate()
    )
    path = folder / f"dkim-{kind}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def with_dkim(app: App, folder: Path, kind: str) -> None:
    """Turn DKIM signing on for ``app`` (selector news2026, domain news.example.com)."""
    app.settings = app.settings.model_copy(
        update={
            "dkim_key_path": dkim_key(folder, kind),
            "dkim_selector": "news2026",
            "dkim_domain": "news.example.com",
        }
    )


def dkim_cost(args: argparse.Namespace, folder: Path, now: datetime) -> dict[str, float]:
    """Part 4: milliseconds to sign one ~60 KB message, each way (median of many)."""
    import dkim

    from newsletter.email.signing import load_signer

    print("\n== 4. DKIM: signing one message (relaxed/relaxed, 11 headers, 6 oversigned) ==")
    app, period = make_issue(folder, now, args.scale, args.extra_feeds)
    add_subscribers(app, 1)
    built = build_issue(app, period)
    assert built.rendered is not None
    assert freeze_issue(app, built) == 1
    built = build_issue(app, period)
    (_, _, message) = pipeline_messages(app, issue_id_of(app, period), built)[0]
    print(f"message: {len(message):,} bytes")
    results: dict[str, float] = {}
    rsa_path = dkim_key(folder, "rsa")
    for kind in ("rsa", "ed25519"):
        signer = load_signer(
            rsa_path if kind == "rsa" else dkim_key(folder, kind), "s", "news.example.com"
        )
        assert signer is not None
        results[kind] = _median_ms(lambda s=signer: s.sign(message), 300)
    pem = rsa_path.read_bytes()
    names = [h.lower().encode() for h in ("From", "To", "Subject", "Date", "Message-ID")]
    results["dkimpy rsa"] = _median_ms(
        lambda: dkim.sign(
            message,
            b"s",
            b"news.example.com",
            pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=names,
        ),
        30,
    )
    for kind, ms in results.items():
        print(f"{kind:>12}: {ms:.3f} ms per message (median)")
    app.engine.dispose()
    return results


def _median_ms(func: Callable[[], Any], times: int) -> float:
    spent = []
    for _ in range(times):
        began = time.perf_counter()
        func()
        spent.append(time.perf_counter() - began)
    return statistics.median(spent) * 1000


def throughput(args: argparse.Namespace, folder: Path, now: datetime) -> dict[str, float]:
    print("\n== 2. Throughput: deliver() vs a bare socket client, same sink, same connections ==")
    app, period = make_issue(folder, now, args.scale, args.extra_feeds)
    if args.dkim != "none":
        with_dkim(app, folder, args.dkim)
        print(f"DKIM on for the pipeline: {args.dkim} (the bare client sends unsigned bytes)")
    add_subscribers(app, args.messages)
    built = build_issue(app, period)
    assert built.rendered is not None and not built.skipped
    assert freeze_issue(app, built) == args.messages
    built = build_issue(app, period)  # the frozen issue, as a worker reads it
    issue_id = issue_id_of(app, period)
    messages = pipeline_messages(app, issue_id, built)
    prepared: list[Prepared] = prepare(messages)
    total = sum(len(m[2]) for m in messages)
    cap = app.settings.smtp_messages_per_connection
    print(
        f"{len(messages):,} messages, {total / len(messages) / 1000:.1f} KB each on average "
        f"(issue of {built.content.item_count} items), {args.connections} connections, "
        f"a new connection every {cap} messages (NEWSLETTER_SMTP_MESSAGES_PER_CONNECTION) "
        "for both; SQLite in a temp folder"
    )
    bare: list[float] = []
    ours: list[float] = []
    cpu: dict[str, list[float]] = {"bare": [], "pipeline": []}
    with running_sink() as sink:
        run_bare("127.0.0.1", sink.port, prepared[:200], args.connections)  # warm-up
        paired: list[float] = []  # each run's pipeline against the bare run just before it
        for n in range(args.runs):
            sink.reset()
            b = run_bare("127.0.0.1", sink.port, prepared, args.connections, cap)
            if sink.messages() != len(prepared) or sink.bytes() != total:
                raise SystemExit(f"bare: the sink counted {sink.messages()} / {sink.bytes()} B")
            bare.append(b.per_second)
            cpu["bare"].append(b.cpu_seconds)
            reset_deliveries(app, issue_id)
            sink.reset()
            p = run_pipeline(app, issue_id, built, sink, args.connections)
            if args.dkim != "none" and sink.bytes() <= total:
                raise SystemExit(f"pipeline: {sink.bytes()} B, no room for the signatures")
            if args.dkim == "none" and sink.bytes() != total:
                raise SystemExit(f"pipeline: the sink got {sink.bytes()} B, expected {total}")
            ours.append(p.per_second)
            cpu["pipeline"].append(p.cpu_seconds)
            paired.append(p.per_second / b.per_second)
            print(
                f"run {n + 1}: bare {b.per_second:7,.0f} msg/s ({b.seconds:.2f} s, CPU "
                f"{b.cpu_seconds:.2f} s)   pipeline {p.per_second:7,.0f} msg/s ({p.seconds:.2f} s, "
                f"CPU {p.cpu_seconds:.2f} s, {p.connections} connections)   this run's ratio "
                f"{paired[-1]:.0%}, load average {os.getloadavg()[0]:.1f}"
            )
        if args.profile:
            reset_deliveries(app, issue_id)
            sink.reset()
            with profiled_senders():
                print("profiled run (CPU per thread; slower than the timed runs):")
                run_pipeline(app, issue_id, built, sink, args.connections)
    best = max(ours) / max(bare)
    median = statistics.median(ours) / statistics.median(bare)
    print(
        f"bare socket client: best {max(bare):,.0f}, median {statistics.median(bare):,.0f} msg/s "
        f"({statistics.median(cpu['bare']) / len(messages) * 1e6:.0f} µs CPU per message)"
    )
    print(
        f"deliver() pipeline: best {max(ours):,.0f}, median {statistics.median(ours):,.0f} msg/s "
        f"({statistics.median(cpu['pipeline']) / len(messages) * 1e6:.0f} µs CPU per message)"
    )
    target = 0.9 if args.dkim == "none" else 0.8
    print(
        f"paired ratios (each run's pipeline / its bare run): "
        f"{', '.join(f'{r:.0%}' for r in paired)}; median {statistics.median(paired):.0%}"
    )
    print(
        f"ratio: {best:.0%} best/best, {median:.0%} median/median (target >= {target:.0%}) -> "
        f"{'OK' if min(best, median) >= target else ('OK (best)' if best >= target else 'MISSED')}"
    )
    app.engine.dispose()
    return {"bare": max(bare), "pipeline": max(ours), "ratio": best, "median_ratio": median}


# ---- 3. memory ---------------------------------------------------------------------------


def proc_status_kb(field: str) -> int:
    """A size from /proc/self/status (KB): VmRSS now, VmHWM the peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_kb() -> int:
    """Current resident set size (KB)."""
    return proc_status_kb("VmRSS")


def memory_child(folder: Path, port: int, connections: int, week: str) -> None:
    """In a fresh process: open the app, read the issue, queue it (freeze), send it to the
    sink; print JSON figures."""
    figures: dict[str, Any] = {"rss_start_kb": rss_kb()}
    app = open_app(settings_for(folder), folder / "feeds.yaml")
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, week)
        assert issue is not None
        period = Period(issue.period, issue.window_end, issue.window_start, issue.window_end)
    built = build_issue(app, period)
    assert built.rendered is not None
    figures["rss_ready_kb"] = rss_kb()
    started = time.perf_counter()
    figures["queued"] = freeze_issue(app, built)
    figures["queue_seconds"] = time.perf_counter() - started
    figures["rss_queued_kb"] = rss_kb()
    built = build_issue(app, period)
    issue_id = issue_id_of(app, period)

    def factory() -> Transport:
        return SmtpTransport(SmtpSettings("127.0.0.1", port, "none", timeout=60))

    started = time.perf_counter()
    tally = delivery.deliver(app, issue_id, built, factory, connections=connections)
    figures["send_seconds"] = time.perf_counter() - started
    figures["sent"] = tally.sent
    figures["rss_end_kb"] = rss_kb()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (which holds
    # part 2's 300 MB of messages), VmHWM belongs to this process's own address space.
    figures["peak_rss_kb"] = max(proc_status_kb("VmHWM"), figures["rss_end_kb"])
    print(json.dumps(figures))


def memory(args: argparse.Namespace, root: Path, now: datetime) -> dict[str, float]:
    print("\n== 3. Memory: queue + send, each size in a fresh process (peak RSS) ==")
    folder = root / "memory"
    folder.mkdir()
    app, period = make_issue(folder, now, args.memory_scale, args.extra_feeds)
    built = build_issue(app, period)
    assert built.rendered is not None and not built.skipped
    size_kb = message_size(app, built) / 1000
    app.engine.dispose()
    print(
        f"a smaller issue than part 2 ({built.content.item_count} items, about {size_kb:.0f} KB "
        f"per message) to keep 100,000 sends short: the claim is about memory per subscriber"
    )
    results: dict[int, dict[str, Any]] = {}
    with running_sink() as sink:
        for count in args.memory_sizes:
            run_folder = root / f"memory-{count}"
            run_folder.mkdir()
            # Each size starts from the same database (items and the draft), plus its subscribers.
            (run_folder / "bench.db").write_bytes((folder / "bench.db").read_bytes())
            (run_folder / "feeds.yaml").write_bytes((folder / "feeds.yaml").read_bytes())
            setup = open_app(settings_for(run_folder), run_folder / "feeds.yaml")
            add_subscribers(setup, count)
            setup.engine.dispose()
            sink.reset()
            child = subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--memory-child",
                    str(run_folder),
                    "--port",
                    str(sink.port),
                    "--connections",
                    str(args.connections),
                    "--week",
                    period.label,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                raise SystemExit(f"memory child for {count} failed:\n{child.stderr[-3000:]}")
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            if figures["sent"] != count or sink.messages() != count:
                raise SystemExit(f"{count}: sent {figures['sent']}, sink {sink.messages()}")
            results[count] = figures
            print(
                f"{count:>8,} subscribers: queued in {figures['queue_seconds']:.2f} s, sent in "
                f"{figures['send_seconds']:.1f} s ({count / figures['send_seconds']:,.0f} msg/s); "
                f"RSS ready {figures['rss_ready_kb'] / 1024:.1f} MB, after queue "
                f"{figures['rss_queued_kb'] / 1024:.1f} MB, end {figures['rss_end_kb'] / 1024:.1f} "
                f"MB, peak {figures['peak_rss_kb'] / 1024:.1f} MB"
            )
    small, large = min(results), max(results)
    peak_small, peak_large = results[small]["peak_rss_kb"], results[large]["peak_rss_kb"]
    growth = (peak_large - peak_small) / 1024
    per_sub = (peak_large - peak_small) * 1024 / (large - small)
    ratio = peak_large / peak_small
    print(
        f"peak RSS {large:,} / {small:,}: {ratio:.2f}x ({growth:+.1f} MB, "
        f"{per_sub:.0f} bytes per extra subscriber) -> {'flat' if ratio < 1.1 else 'NOT flat'}"
    )
    return {"ratio": ratio, "bytes_per_subscriber": per_sub}


# ---- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--only", choices=["cpu", "throughput", "memory", "dkim"], default=None)
    parser.add_argument(
        "--dkim",
        choices=["none", "rsa", "ed25519"],
        default="none",
        help="sign the pipeline's messages in part 2 (none)",
    )
    parser.add_argument("--recipients", type=int, default=20_000, help="personalize (20,000)")
    parser.add_argument(
        "--baseline-recipients", type=int, default=2_000, help="build_message (2,000)"
    )
    parser.add_argument("--messages", type=int, default=5_000, help="throughput (5,000)")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections (4)")
    parser.add_argument("--runs", type=int, default=3, help="alternating timed runs (3)")
    parser.add_argument(
        "--scale", type=float, default=0.55, help="section sizes for ~60 KB messages (0.55)"
    )
    parser.add_argument(
        "--memory-scale", type=float, default=0.15, help="section sizes, memory part (0.15)"
    )
    parser.add_argument(
        "--memory-sizes", type=lambda s: [int(x) for x in s.split(",")], default=[10_000, 100_000]
    )
    parser.add_argument("--extra-feeds", type=int, default=20, help="generated feeds (20)")
    parser.add_argument("--profile", action="store_true", help="cProfile personalize and deliver")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--time-limit", type=float, default=1800, help="abort after this (s)")
    parser.add_argument("--memory-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--week", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.port, args.connections, args.week)
        return 0
    if args.quick:
        args.recipients, args.baseline_recipients, args.messages, args.runs = 2000, 300, 500, 1
        args.memory_sizes, args.extra_feeds = [1000, 5000], 4
    start_watchdog(args.time_limit)
    print(machine_summary())
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as tmp:
        root = Path(tmp)
        if args.only in (None, "cpu"):
            (root / "cpu").mkdir()
            cpu_per_recipient(args, root / "cpu", now)
        if args.only in (None, "throughput"):
            (root / "throughput").mkdir()
            throughput(args, root / "throughput", now)
        if args.only in (None, "memory"):
            memory(args, root, now)
        if args.only in (None, "dkim"):
            (root / "dkim").mkdir()
            dkim_cost(args, root / "dkim", now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
