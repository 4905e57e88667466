"""newsletter.cli.exiting: a finished `newsletter ingest` ends without the interpreter's
teardown, after everything that matters at exit has run. Real processes: what is asserted
happens only when a process ends."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from newsletter.demo.server import FeedServer, Route
from tests.conftest import write_config
from tests.helpers import rss

# A program that ends the way `newsletter` does (an exit code recorded by the entry point),
# with witnesses: an exit handler registered after install (it must have run), an engine to
# dispose (it must be disposed) and an object whose __del__ speaks only in the teardown.
PROGRAM = """
import atexit, sys
from newsletter.cli import exiting
exiting.install()
class Engine:
    def dispose(self):
        sys.stdout.write("disposed\\n")
class Witness:
    def __del__(self):
        sys.stdout.write("torn down\\n")
        sys.stdout.flush()
witness = Witness()
atexit.register(lambda: sys.stdout.write("handler ran\\n"))
sys.stdout.write("unflushed output\\n")  # a pipe: block-buffered, flushed only at the end
if {skip}:
    exiting.skip_teardown(Engine())
try:
    sys.exit({code})
except SystemExit as exc:
    if {record}:
        exiting.ended(exc.code)
    raise
"""


def run_program(
    *, skip: bool, code: object, record: bool = True
) -> subprocess.CompletedProcess[str]:
    source = PROGRAM.format(skip=skip, code=repr(code), record=record)
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60
    )


def test_a_command_that_asks_ends_without_the_teardown_after_the_other_exit_handlers() -> None:
    done = run_program(skip=True, code=3)
    assert done.returncode == 3
    lines = done.stdout.splitlines()
    assert lines == ["unflushed output", "handler ran", "disposed"]  # no "torn down"


def test_exit_codes_are_python_s_own() -> None:
    assert run_program(skip=True, code=None).returncode == 0
    message = run_program(skip=True, code="error: what to fix")
    assert message.returncode == 1
    assert "error: what to fix" in message.stderr
    assert "torn down" not in message.stdout


def test_without_the_request_or_outside_the_entry_point_the_process_ends_as_usual() -> None:
    for done in (run_program(skip=False, code=4), run_program(skip=True, code=4, record=False)):
        assert done.returncode == 4
        assert done.stdout.splitlines()[-1] == "torn down"
        assert "disposed" not in done.stdout


def test_newsletter_ingest_ends_with_its_database_checkpointed_and_its_output_whole(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """The installed program's way (`python -m newsletter`, through newsletter.cli.run): the
    summary reaches a pipe, the exit code is the command's, and SQLite's write-ahead log is
    folded into the database file (disposed engine), so a copy of the file alone is whole."""
    feed_server.routes["/feed.xml"] = Route(
        rss([("Story one", "k1", datetime.now(UTC)), ("Story two", "k2", datetime.now(UTC))]),
        "application/rss+xml",
    )
    good = {"name": "Feed", "url": feed_server.url("/feed.xml"), "section": "headlines"}
    data = tmp_path / "data"
    env = {
        **os.environ,
        "NEWSLETTER_DATA_DIR": str(data),
        "NEWSLETTER_CONFIG": str(write_config(tmp_path, [good])),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
    }
    env.pop("NEWSLETTER_DATABASE_URL", None)

    def newsletter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "newsletter", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    assert newsletter("db", "upgrade").returncode == 0
    done = newsletter("ingest")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("2 new items; 0 of 1 feeds failed")
    databases = list(data.glob("*.db"))
    assert len(databases) == 1
    database = databases[0]
    wal = database.with_name(database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    copy = tmp_path / "copy.db"
    copy.write_bytes(database.read_bytes())  # the file alone, as a careless backup takes it
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM item").fetchone()[0] == 2

    # The re-poll, through the entry point with a witness of the teardown: none happens.
    witnessed = (
        "import sys\n"
        "from newsletter.cli import run\n"
        "class Witness:\n"
        "    def __del__(self):\n"
        "        print('torn down', flush=True)\n"
        "witness = Witness()\n"
        "sys.argv = ['newsletter', 'ingest']\n"
        "run()\n"
    )
    again = subprocess.run(
        [sys.executable, "-c", witnessed],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.rstrip().endswith("0 new items; 0 of 1 feeds failed")
    assert "torn down" not in again.stdout

    # Every feed failing: exit 1 and the one error line, as before.
    closed = {"name": "Gone", "url": "http://127.0.0.1:9/feed.xml", "section": "headlines"}
    write_config(tmp_path, [closed])
    failed = newsletter("ingest")
    assert failed.returncode == 1
    assert "error: every feed failed" in failed.stderr
    assert "Traceback" not in failed.stderr
