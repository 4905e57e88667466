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

import pytest

from newsletter.demo.server import FeedServer, Route
from tests.conftest import write_config
from tests.helpers import rss

# A program that ends the way `newsletter` does (its entry point says it is the program and,
# once the command has ended, ends the process), with witnesses: an exit handler registered
# before newsletter.cli and one after (both must have run), a thread still working (it must
# have been joined), an engine to dispose (it must be disposed) and an object whose __del__
# speaks only in the teardown.
PROGRAM = """
import atexit, sys, threading, time
atexit.register(lambda: sys.__stdout__.write("early handler ran\\n"))
from newsletter.cli import exiting
class Engine:
    def dispose(self):
        sys.__stdout__.write("disposed\\n")
class Witness:
    def __del__(self):
        sys.stderr.write("torn down\\n")
witness = Witness()
atexit.register(lambda: sys.__stdout__.write("handler ran\\n"))
def work():
    time.sleep(0.3)
    sys.__stdout__.write("thread done\\n")
threading.Thread(target=work).start()
sys.stdout.write("unflushed output\\n")  # a pipe: block-buffered, flushed only at the end
if {program}:
    exiting.program()
if {skip}:
    exiting.skip_teardown(Engine())
{after}
def command():
    try:
        sys.exit({code})
    except SystemExit as exc:
        exiting.end_now(exc.code)
        raise
{call}
"""
ENDED = ["unflushed output", "thread done", "handler ran", "early handler ran", "disposed"]


def run_program(
    *,
    skip: bool = True,
    code: object = 3,
    program: bool = True,
    after: str = "",
    call: str = "command()",
) -> subprocess.CompletedProcess[str]:
    source = PROGRAM.format(skip=skip, code=repr(code), program=program, after=after, call=call)
    return subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, timeout=60
    )


def test_a_command_that_asks_ends_without_the_teardown_after_threads_and_exit_handlers() -> None:
    done = run_program()
    assert done.returncode == 3
    assert done.stdout.splitlines() == ENDED
    assert "torn down" not in done.stderr


def test_exit_codes_are_python_s_own() -> None:
    assert run_program(code=None).returncode == 0
    message = run_program(code="error: what to fix")
    assert message.returncode == 1
    assert message.stderr.splitlines() == ["error: what to fix"]  # once, and no teardown


def test_otherwise_the_process_ends_as_usual() -> None:
    """Not asked; not the program (``run`` called from a module that is not __main__); or the
    command run on another thread while the program goes on and exits with its own code: the
    usual exit, every handler run, the program's exit code, nothing disposed by us."""
    in_a_thread = "t = threading.Thread(target=command); t.start(); t.join(); sys.exit(7)"
    for done, status in (
        (run_program(skip=False, code=4), 4),
        (run_program(program=False, code=4), 4),
        (run_program(call=in_a_thread), 7),
    ):
        assert done.returncode == status
        assert "torn down" in done.stderr
        assert "disposed" not in done.stdout
        assert "early handler ran" in done.stdout


def test_a_closed_standard_output_is_no_error() -> None:
    """`newsletter ingest >&-`: Python has no sys.stdout; the end says nothing about it."""
    done = run_program(after="sys.stdout.flush(); sys.stdout = None")
    assert done.returncode == 3
    assert done.stdout.splitlines() == ENDED
    assert done.stderr == ""


def test_in_process_the_entry_point_and_the_commands_change_nothing(
    monkeypatch: pytest.MonkeyPatch, cli_env_plain: dict[str, str]
) -> None:
    """``run`` called from a test is not the program: nothing recorded, no engine held (click's
    test runner runs `ingest` as often as it likes without keeping its connections), and the
    test process goes on."""
    from click.testing import CliRunner

    from newsletter.cli import exiting, main, run

    monkeypatch.setattr(sys, "argv", ["newsletter", "--help"])
    with pytest.raises(SystemExit) as stopped:
        run()
    assert stopped.value.code == 0
    for _ in range(3):
        done = CliRunner().invoke(main, ["ingest"], env=cli_env_plain, catch_exceptions=False)
        assert done.exit_code == 0, done.output
    assert (exiting._program, exiting._wanted, exiting._engines) == (False, False, [])


def test_the_installed_script_ends_a_poll_without_the_teardown(
    cli_env_plain: dict[str, str], tmp_path: Path
) -> None:
    """The console script beside this Python (pyproject's entry point, newsletter.cli:run), as
    users run it, with a witness of the teardown loaded first (PYTHONSTARTUP is not read by
    scripts, so through sitecustomize)."""
    script = Path(sys.executable).with_name("newsletter")
    if not script.exists():
        pytest.skip(f"no installed `newsletter` script beside {sys.executable}")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os\n"
        "class Witness:\n"
        "    def __del__(self, write=os.write):\n"
        "        write(2, b'torn down\\n')\n"
        "witness = Witness()\n",
        encoding="utf-8",
    )
    env = {**os.environ, **cli_env_plain, "PYTHONPATH": str(site)}
    env.pop("NEWSLETTER_TEST_POSTGRES_URL", None)
    for args, witnessed in ((["--help"], True), (["db", "upgrade"], True), (["ingest"], False)):
        done = subprocess.run(
            [str(script), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert ("torn down" in done.stderr) == witnessed, (args, done.stderr)
    assert done.stdout.rstrip().endswith("1 new items; 0 of 1 feeds failed")


@pytest.fixture
def cli_env_plain(tmp_path: Path, feed_server: FeedServer) -> dict[str, str]:
    feed_server.routes["/feed.xml"] = Route(
        rss([("Story one", "k1", datetime.now(UTC))]), "application/rss+xml"
    )
    entry = {"name": "Feed", "url": feed_server.url("/feed.xml"), "section": "headlines"}
    return {
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'plain.db'}",
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_CONFIG": str(write_config(tmp_path, [entry])),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
    }


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


INTERRUPTED_WHILE_LOADING = """
import os, signal, sys
class Interrupt:  # Ctrl-C arrives while the command's modules load
    def find_spec(self, name, path=None, target=None):
        if name == "newsletter.cli.main":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
{setup}
import newsletter.cli
print("loaded", signal.getsignal(signal.SIGINT) is {expected})
"""


def test_ctrl_c_while_the_modules_load_is_one_line_and_exit_130() -> None:
    """A Ctrl-C in the second the command's modules take to load used to print a
    KeyboardInterrupt traceback from inside some import; a process that ignores SIGINT (a
    background job) keeps ignoring it, and the usual handler is back once loaded."""
    loading = subprocess.run(
        [
            sys.executable,
            "-c",
            INTERRUPTED_WHILE_LOADING.format(setup="", expected="signal.default_int_handler"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loading.returncode == 130
    assert loading.stderr == "error: interrupted\n" and loading.stdout == ""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import signal, newsletter.cli; "
            "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.stdout.strip() == "True", loaded.stderr  # the commands' Ctrl-C handling
    ignoring = subprocess.run(
        [
            sys.executable,
            "-c",
            INTERRUPTED_WHILE_LOADING.format(
                setup="signal.signal(signal.SIGINT, signal.SIG_IGN)", expected="signal.SIG_IGN"
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ignoring.returncode == 0, ignoring.stderr
    assert ignoring.stdout.strip() == "loaded True"
