"""`newsletter ingest` as a user runs it, on a disk that fills during the poll: one `error:`
line (no traceback), a non-zero exit, the count of what was really stored, and after space is
freed the next ingest stores the rest.

SQLite runs on a real small filesystem (a tmpfs mounted for the test: root only, skipped
otherwise) nearly filled by another file, so the error is the kernel's ENOSPC as SQLite meets
it. PostgreSQL's disk cannot be filled from a test: there a trigger raises the real SQLSTATE
53100 (disk_full) once the item table holds a number of rows, through the real driver.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from newsletter.demo.server import FeedServer, Route
from newsletter.storage import db
from tests.conftest import write_config
from tests.db_faults import disk_full

pytestmark = pytest.mark.slow

FEEDS = 30
ITEMS = 40  # per feed; each item carries about 2.7 KB of summary
# Free space left on the small disk: room for the first write batches (a few feeds each, with
# their WAL pages), not for all 30 feeds.
ROOM = 6 * 1024 * 1024


def _feed(n: int, now: datetime) -> bytes:
    items = "".join(
        f"<item><title>Feed {n} story {i}</title><link>https://example.com/{n}/{i}</link>"
        f"<guid>f{n}-{i}</guid>"
        f"<pubDate>{(now - timedelta(hours=i + 1)).strftime('%a, %d %b %Y %H:%M:%S +0000')}"
        f"</pubDate><description>&lt;p&gt;{f'Story {i} of feed {n}, in words. ' * 100}"
        "&lt;/p&gt;</description></item>"
        for i in range(ITEMS)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{n}</title>{items}'
        "</channel></rss>"
    ).encode()


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _count_items(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = int(conn.execute(sa.text("SELECT count(*) FROM item")).scalar_one())
    engine.dispose()
    return count


def _ingest(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "newsletter", "ingest"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_ingest_on_a_full_disk_is_one_error_line_with_what_was_stored(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    now = datetime.now(UTC)
    feeds = []
    for n in range(FEEDS):
        # Answers spread over 1.8 s, so the feeds finish in several write batches (a batch holds
        # what finished within BATCH_SECONDS) however fast the machine: some are stored before
        # the disk fills.
        feed_server.routes[f"/f{n}.xml"] = Route(
            _feed(n, now), "application/rss+xml", delay=0.06 * n
        )
        feeds.append(
            {"name": f"Feed {n}", "url": feed_server.url(f"/f{n}.xml"), "section": "headlines"}
        )
    config = write_config(tmp_path, feeds)
    with contextlib.ExitStack() as stack:
        filler: Path | None = None
        if database_url.startswith("sqlite"):
            disk = stack.enter_context(small_disk(tmp_path / "disk", "48m"))
            database_url = f"sqlite:///{disk / 'newsletter.db'}"
        engine = db.make_engine(database_url)
        db.upgrade(engine)
        if database_url.startswith("sqlite"):
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            filler = disk / "filler"
            filler.write_bytes(b"\0" * (free - ROOM))
        else:
            stack.enter_context(disk_full(engine, items=FEEDS * ITEMS // 2))
        env = {
            "NEWSLETTER_DATABASE_URL": database_url,
            "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
            "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
            "NEWSLETTER_CONFIG": str(config),
        }
        full = _ingest(env)
        assert full.returncode == 1, full.stdout + full.stderr
        assert "Traceback" not in full.stderr + full.stdout
        lines = [line for line in full.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ingest stopped: the disk holding")
        assert "free space and run the command again" in lines[0]
        found = re.search(r"; (\d+) new items from (\d+) feeds were stored before it", lines[0])
        assert found is not None, lines[0]
        stored = int(found.group(1))
        assert stored == _count_items(database_url) < FEEDS * ITEMS
        if database_url.startswith("sqlite"):
            assert "database or disk is full" in lines[0]
            assert stored > 0, full.stderr  # the batches before the disk filled are kept
            assert filler is not None
            filler.unlink()
        else:
            assert "No space left on device" in lines[0]
            stack.close()  # the trigger is dropped: the disk has room again
        again = _ingest(env)
        assert again.returncode == 0, again.stderr
        assert f"{FEEDS * ITEMS - stored} new items; 0 of {FEEDS} feeds failed" in again.stdout
        assert _count_items(database_url) == FEEDS * ITEMS
        engine.dispose()
