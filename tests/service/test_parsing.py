"""newsletter.service.parsing: what a parsing process imports and what it sends back.

The parsing processes start from the forkserver's preloaded modules and never import the HTTP
client or the storage layer; the main process reads their results without importing the
parser or the detectors. Both are asserted on sys.modules of a fresh interpreter, not on time.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsletter.config import load_config
from newsletter.feeds.limits import FetchLimits, Validators
from newsletter.learning.store import shipped_path
from newsletter.service.parsing import (
    PRELOAD,
    FeedJob,
    ReadingInputs,
    item_rows,
    parse_job,
    parse_pool,
    read_job,
)
from tests.conftest import write_config
from tests.helpers import rss

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
BODY = rss(
    [
        ("Medora raises $120 million in a Series B round", "a", NOW - HOUR),
        ("Digital health summit will be held on June 12 in Boston", "b", NOW - 2 * HOUR),
        ("A story without facts", "c", NOW - 3 * HOUR),
    ]
)


def reading_inputs(tmp_path: Path) -> ReadingInputs:
    config = load_config(write_config(tmp_path, []))
    return ReadingInputs(config.rule_order, config.topic, str(shipped_path()), config.newsletter.tz)


def job() -> FeedJob:
    return FeedJob(
        7,
        "Trade press",
        "https://example.com/feed.xml",
        "industry",
        "en",
        None,
        Validators('"v1"', None),
        None,
        limits=FetchLimits(allow_private_hosts=frozenset({"example.com"})),
    )


def fresh_python(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_parsing_processes_preload_no_http_client_storage_or_cli() -> None:
    """What the forkserver imports for the parsing processes is all a job needs (the next
    test), and none of it is httpx, SQLAlchemy or rich."""
    heavy = ("httpx", "sqlalchemy", "sqlmodel", "rich", "click", "newsletter.storage")
    out = fresh_python(
        "import sys\n"
        f"for name in {list(PRELOAD)!r}:\n"
        "    __import__(name)\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    assert out == "[]"


def test_a_job_is_read_in_a_process_with_only_the_preloaded_modules(tmp_path: Path) -> None:
    """Unpickling and running a job (its FeedJob, limits, validators, reading inputs) imports
    nothing heavy beyond the preload: the HTTP client stays in the main process."""
    from functools import partial

    work = partial(read_job, BODY, job().url, None, job(), NOW, 200, reading_inputs(tmp_path))
    blob = tmp_path / "job.pickle"
    blob.write_bytes(pickle.dumps(work))
    out = fresh_python(
        "import pickle, sys\n"
        f"for name in {list(PRELOAD)!r}:\n"
        "    __import__(name)\n"
        f"read = pickle.loads(open({str(blob)!r}, 'rb').read())()\n"
        "print(read.entries, sorted(m for m in ('httpx', 'sqlalchemy', 'rich') "
        "if m in sys.modules))\n"
    )
    assert out == "3 []"


def test_the_main_process_reads_the_results_without_the_parser_or_detectors(
    tmp_path: Path,
) -> None:
    read = read_job(BODY, job().url, None, job(), NOW, 200, reading_inputs(tmp_path))
    blob = tmp_path / "read.pickle"
    blob.write_bytes(pickle.dumps(read))
    out = fresh_python(
        "import pickle, sys\n"
        "import newsletter.service.ingest\n"
        f"read = pickle.loads(open({str(blob)!r}, 'rb').read())\n"
        "print(len(read.items), sorted(m for m in ('newsletter.feeds.parse', "
        "'newsletter.domain.editorial.classify', 'feedparser', 'nh3', 'lxml') "
        "if m in sys.modules))\n"
    )
    assert out == "3 []"


def test_item_rows_hold_the_entries_and_their_readings(tmp_path: Path) -> None:
    """The rows built from read_job's plain values are the parsed entries and their readings,
    column by column, as before the parsing processes sent plain values."""
    inputs = reading_inputs(tmp_path)
    parsed = parse_job(BODY, job().url, None, job(), NOW, 200, inputs)
    seen = NOW + HOUR
    rows = item_rows(job(), read_job(BODY, job().url, None, job(), NOW, 200, inputs), seen)
    assert len(rows) == len(parsed.parsed.entries) == 3
    for row, entry, reading in zip(rows, parsed.parsed.entries, parsed.readings, strict=True):
        assert row == {
            "feed_id": 7,
            "key": entry.key,
            "url": entry.url,
            "title": entry.title,
            "summary_html": entry.summary_html,
            "summary_text": entry.summary_text,
            "author": entry.author,
            "published": entry.published,
            "published_source": "feed",
            "first_seen": seen,
            "language": "en",
            "section": reading.section,
            "section_reason": reading.reason,
            "relevance": reading.relevance,
            "suggested_section": reading.suggested,
            "facts": reading.facts,
            "cluster": None,
            "content_hash": entry.content_hash,
        }
    assert rows[0]["facts"]["financing"]["round"] == "b"


def test_an_entry_without_a_usable_date_is_dated_when_first_seen(tmp_path: Path) -> None:
    body = BODY.replace(b"<pubDate>", b"<pubDate>not a date ", 1)
    read = read_job(body, job().url, None, job(), NOW, 200, reading_inputs(tmp_path))
    assert read.items[0]["published"] is None
    rows = item_rows(job(), read, NOW + HOUR)
    assert (rows[0]["published"], rows[0]["published_source"]) == (NOW + HOUR, "first_seen")
    assert rows[1]["published_source"] == "feed"


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_a_parsing_pool_with_a_killed_process_still_shuts_down() -> None:
    """When one parsing process dies (the OOM killer), the pool ends the others with SIGTERM
    and waits for them: they must not ignore it (they did, and ingest then hung for ever)."""
    pool = parse_pool(2)
    pids = sorted({f.result(timeout=60) for f in [pool.submit(_pid_after, 0.3) for _ in range(6)]})
    assert len(pids) == 2
    time.sleep(0.5)  # both idle
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:  # the pool notices the death at its next look (the other process may run a
        try:  # job first)
            pool.submit(os.getpid).result(timeout=30)
        except BrokenProcessPool:
            break
        assert time.monotonic() < deadline, "the pool never noticed its killed process"
        time.sleep(0.05)
    closing = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, daemon=True)
    closing.start()
    closing.join(30)
    assert not closing.is_alive(), "the pool's shutdown hung on a parsing process"
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]  # ended and reaped
