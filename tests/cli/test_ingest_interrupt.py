"""`newsletter ingest` as a real process stopped by Ctrl-C: the first SIGINT lets the requests
in flight finish and stores every feed that answered, the feeds never requested are left due
with no error, and the next ingest polls them; a second SIGINT stops at once.

The signal goes to the process group, as a terminal's Ctrl-C does: the parsing processes get
it too."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.helpers import rss
from tests.hostile_server import HeldRoute, HostileFeedServer

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not

FAST = [f"a-fast-{n}" for n in range(5)]  # answer at once
HELD = [f"b-held-{n}" for n in range(2)]  # answer when the test releases them
REST = [f"c-rest-{n}" for n in range(3)]  # queued behind the held ones (2 requests at a time)
ITEMS = 3  # per feed
WAIT = 60.0  # seconds: generous, event-based waits (a loaded machine)


def _feed_body(name: str) -> bytes:
    now = datetime.now(UTC)
    return rss(
        [(f"{name} story {i}", f"{name}-{i}", now - timedelta(hours=i + 1)) for i in range(ITEMS)]
    )


@contextmanager
def _server() -> Iterator[HostileFeedServer]:
    with HostileFeedServer() as server:
        for name in FAST + REST:
            server.routes[f"/{name}.xml"] = HeldRoute(_feed_body(name), "application/rss+xml")
            server.routes[f"/{name}.xml"].release.set()  # type: ignore[attr-defined]
        for name in HELD:
            server.routes[f"/{name}.xml"] = HeldRoute(_feed_body(name), "application/rss+xml")
        try:
            yield server
        finally:
            for route in server.routes.values():
                if isinstance(route, HeldRoute):
                    route.release.set()


def _env(tmp_path: Path, server: HostileFeedServer) -> dict[str, str]:
    feeds = [
        {"name": name, "url": server.url(f"/{name}.xml"), "section": "headlines"}
        for name in FAST + HELD + REST
    ]
    config = write_config(tmp_path, feeds)
    return {
        **os.environ,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{tmp_path / 'ingest.db'}",
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_FETCH_CONCURRENCY": "2",
        "NEWSLETTER_FETCH_TIMEOUT": "90",
        "NEWSLETTER_PARSE_WORKERS": "2",  # 5 bodies waiting start the parsing processes
    }


class Ingest:
    """A `newsletter ingest` process in a session of its own (its own process group), its
    standard error read line by line as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "ingest", "--all-feeds"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self._stdout: list[str] = []
        self._readers = [
            threading.Thread(target=self._read_stderr, daemon=True),
            threading.Thread(target=self._read_stdout, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.put(line)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self._stdout.extend(self.process.stdout)

    def ctrl_c(self) -> None:
        """SIGINT to the whole process group, as a terminal sends it."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait_for_line(self, start: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self._lines.empty():
                    break
                continue
            self.stderr.append(line)
            if line.startswith(start):
                return line
        raise AssertionError(f"no line starting {start!r} on stderr: {''.join(self.stderr)}")

    def finish(self) -> tuple[int, str, str]:
        """Exit code, standard output, the whole standard error."""
        try:
            self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"ingest did not exit: {''.join(self.stderr)}") from None
        for reader in self._readers:
            reader.join(timeout=WAIT)
        while not self._lines.empty():
            self.stderr.append(self._lines.get())
        return self.process.returncode, "".join(self._stdout), "".join(self.stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _wait_for_requests(server: HostileFeedServer, paths: set[str]) -> None:
    """Until the server has seen a request for each of ``paths``."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with server.lock:
            seen = {path for path, _ in server.requests}
        if paths <= seen:
            return
        time.sleep(0.05)
    raise AssertionError(f"requests never came: {sorted(paths - seen)}")


def _wait_for_parsing_processes(group: int) -> None:
    """Until the process group holds the forkserver and at least one parsing process forked
    from it: the ones a terminal's Ctrl-C reaches too. (While the forkserver is being
    started, for some milliseconds, ingest ignores SIGINT: see parse_pool. A test that sent
    it just then would see it ignored.)"""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        listed = subprocess.run(
            ["ps", "-e", "-ww", "-o", "pgid=,args="], capture_output=True, text=True, check=True
        ).stdout
        forkservers = [
            line
            for line in listed.splitlines()
            if line.split(None, 1)[0] == str(group) and "multiprocessing.forkserver" in line
        ]
        if len(forkservers) >= 2:
            return
        time.sleep(0.1)
    raise AssertionError("the parsing processes never started")


def _processes_left(group: int) -> list[str]:
    """The processes of the group still running once they have had time to end (each parsing
    process ends with the main process, and the forkserver and resource tracker after them)."""
    deadline = time.monotonic() + WAIT
    while True:
        listed = subprocess.run(
            ["ps", "-e", "-ww", "-o", "pgid=,stat=,args="],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        left = [
            line
            for line in listed.splitlines()
            if line.split(None, 1)[0] == str(group) and line.split()[1][0] != "Z"
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _requested(server: HostileFeedServer) -> list[str]:
    with server.lock:
        return [path.strip("/").removesuffix(".xml") for path, _ in server.requests]


def _feeds(db: Path) -> dict[str, dict[str, Any]]:
    """Each feed's state and item count, read from the SQLite file."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT feed.name, feed.last_fetched_at, feed.last_error, feed.last_status, "
            "feed.consecutive_failures, feed.next_poll_at, "
            "(SELECT count(*) FROM item WHERE item.feed_id = feed.id) AS items "
            "FROM feed"
        ).fetchall()
    return {row["name"]: dict(row) for row in rows}


def _item_keys(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return [(row[0], row[1]) for row in conn.execute("SELECT feed_id, key FROM item")]


def test_first_ctrl_c_stores_what_answered_and_the_next_ingest_polls_the_rest(
    tmp_path: Path,
) -> None:
    with _server() as server:
        env = _env(tmp_path, server)
        db = tmp_path / "ingest.db"
        ingest = Ingest(env)
        try:
            # Two requests at a time: both held feeds requested means every fast feed has
            # answered, and the rest wait for a free slot.
            _wait_for_requests(server, {f"/{name}.xml" for name in HELD})
            _wait_for_parsing_processes(ingest.process.pid)
            ingest.ctrl_c()
            stopping = ingest.wait_for_line("stopping:")
            for name in HELD:  # the requests in flight answer after the stop
                route = server.routes[f"/{name}.xml"]
                assert isinstance(route, HeldRoute)
                route.release.set()
            code, stdout, stderr = ingest.finish()
        finally:
            ingest.kill()
        assert code == 130, stdout + stderr
        assert stopping.startswith(
            "stopping: finishing 2 requests in flight and storing what has arrived "
            "(Ctrl-C again to stop at once)"
        ), stderr
        assert (
            f"interrupted: {len(REST)} of {len(FAST + HELD + REST)} feeds not polled; "
            "run `newsletter ingest` again to poll them"
        ) in stderr, stderr
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
        assert f"{len(FAST + HELD) * ITEMS} new items; 0 of {len(FAST + HELD)} feeds failed" in (
            stdout
        ), stdout
        assert set(_requested(server)) == set(FAST + HELD), "a request started after the stop"

        feeds = _feeds(db)
        for name in FAST + HELD:  # stored as a complete poll stores them
            assert feeds[name]["items"] == ITEMS, feeds[name]
            assert feeds[name]["last_status"] == "ok", feeds[name]
            assert feeds[name]["last_fetched_at"] is not None
        for name in REST:  # never polled: no error, no back-off, due as before
            state = feeds[name]
            assert state["items"] == 0, state
            assert state["last_fetched_at"] is None, state
            assert state["last_error"] is None, state
            assert state["consecutive_failures"] == 0, state
            assert state["next_poll_at"] is None, state
            assert state["last_status"] == "never", state

        # The next ingest polls the rest; what was stored is not stored twice.
        server.requests.clear()
        again = subprocess.run(
            [sys.executable, "-m", "newsletter", "ingest", "--all-feeds"],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT * 2,
        )
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(REST) * ITEMS} new items; 0 of {len(FAST + HELD + REST)} feeds failed" in (
        again.stdout
    ), again.stdout
    feeds = _feeds(db)
    assert {name: state["items"] for name, state in feeds.items()} == dict.fromkeys(
        FAST + HELD + REST, ITEMS
    )
    keys = _item_keys(db)
    assert len(keys) == len(set(keys)) == len(FAST + HELD + REST) * ITEMS


def test_second_ctrl_c_stops_at_once_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    with _server() as server:
        env = _env(tmp_path, server)
        db = tmp_path / "ingest.db"
        ingest = Ingest(env)
        try:
            _wait_for_requests(server, {f"/{name}.xml" for name in HELD})
            _wait_for_parsing_processes(ingest.process.pid)
            ingest.ctrl_c()
            ingest.wait_for_line("stopping:")
            ingest.ctrl_c()  # the held feeds are never released: only this ends the process
            code, stdout, stderr = ingest.finish()
        finally:
            ingest.kill()
        assert code == 130, stdout + stderr
        assert "error: interrupted again; stopping at once" in stderr, stderr
        # The parsing processes ignore SIGINT: they end because the main process ended.
        assert _processes_left(ingest.process.pid) == []
        assert "interrupted:" not in stderr  # no summary: it stopped at once
        assert "Traceback" not in stderr, stderr
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Atomic per feed: a feed has its items and its poll recorded, or neither.
        for name, state in _feeds(db).items():
            assert (state["items"] == ITEMS) == (state["last_fetched_at"] is not None), (
                name,
                state,
            )
            assert state["last_error"] is None, (name, state)

        # Nothing is left in a state the next ingest cannot take up.
        for route in server.routes.values():
            if isinstance(route, HeldRoute):
                route.release.set()
        again = subprocess.run(
            [sys.executable, "-m", "newsletter", "ingest"],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT * 2,
        )
    assert again.returncode == 0, again.stdout + again.stderr
    assert {name: state["items"] for name, state in _feeds(db).items()} == dict.fromkeys(
        FAST + HELD + REST, ITEMS
    )


class Screen:
    """What a terminal shows after some output: lines of text, the cursor's row and column,
    and whether the cursor is shown. Knows what rich's progress bar and our reset write:
    text, CR, LF, erase line (CSI 2K), cursor up (CSI nA), show/hide cursor (CSI ?25h/l);
    colours and other CSI sequences change no text."""

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.row = 0
        self.column = 0
        self.cursor_shown = True

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            char = text[i]
            if char == "\x1b" and text[i + 1 : i + 2] == "[":
                end = i + 2
                while end < len(text) and not ("@" <= text[end] <= "~"):
                    end += 1
                self._csi(text[i + 2 : end], text[end] if end < len(text) else "")
                i = end + 1
                continue
            if char == "\r":
                self.column = 0
            elif char == "\n":
                self.row += 1
                if self.row == len(self.lines):
                    self.lines.append("")
            else:
                line = self.lines[self.row].ljust(self.column)
                self.lines[self.row] = line[: self.column] + char + line[self.column + 1 :]
                self.column += 1
            i += 1

    def _csi(self, params: str, final: str) -> None:
        if final == "K":
            self.lines[self.row] = "" if params == "2" else self.lines[self.row][: self.column]
        elif final == "A":
            self.row = max(0, self.row - int(params or "1"))
        elif params == "?25" and final in "hl":
            self.cursor_shown = final == "h"

    @property
    def text(self) -> list[str]:
        return [line.rstrip() for line in self.lines if line.strip()]


def _in_a_terminal(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """`newsletter ingest` on a pseudo-terminal that is its controlling terminal: writing
    Ctrl-C (0x03) to it makes the terminal send SIGINT to the process group, as a user's does."""
    import fcntl
    import termios

    master, slave = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "ingest", "--all-feeds"],
        env={**env, "COLUMNS": "100", "TERM": "xterm"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    return process, master


def _read_terminal(master: int, process: subprocess.Popen[bytes], until: Any) -> bytes:
    """What the process wrote to the terminal until ``until(output)`` holds or it exited."""
    import select

    output = b""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not until(output):
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                output += os.read(master, 65536)
            except OSError:  # the process exited and closed the terminal
                break
        elif process.poll() is not None:
            break
    return output


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_in_a_terminal_leaves_it_clean(tmp_path: Path, presses: int) -> None:
    """Ctrl-C typed on a terminal while the progress bar is drawn: the stopping line has a
    line of its own, and at the end no trace of the bar is left and the cursor is shown
    (after one press: the summary; after two: the one error line)."""
    with _server() as server:
        env = _env(tmp_path, server)
        process, master = _in_a_terminal(env)
        try:
            _wait_for_requests(server, {f"/{name}.xml" for name in HELD})
            _wait_for_parsing_processes(process.pid)
            output = _read_terminal(master, process, lambda out: b"Polling feeds" in out)
            os.write(master, b"\x03")
            output += _read_terminal(master, process, lambda out: b"stopping:" in out)
            if presses == 2:
                os.write(master, b"\x03")
            else:
                for name in HELD:
                    route = server.routes[f"/{name}.xml"]
                    assert isinstance(route, HeldRoute)
                    route.release.set()
            output += _read_terminal(master, process, lambda out: False)
            process.wait(timeout=WAIT)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            os.close(master)
    assert process.returncode == 130, output
    screen = Screen()
    screen.feed(output.decode("utf-8", "replace"))
    shown = screen.text
    assert screen.cursor_shown, shown
    assert not any("Polling feeds" in line for line in shown), shown
    stopping = [line for line in shown if "stopping:" in line]
    assert stopping == [
        "stopping: finishing 2 requests in flight and storing what has arrived "
        "(Ctrl-C again to stop at once)"
    ], shown
    if presses == 1:
        assert shown[-2:] == [
            f"{len(FAST + HELD) * ITEMS} new items; 0 of {len(FAST + HELD)} feeds failed",
            f"interrupted: {len(REST)} of {len(FAST + HELD + REST)} feeds not polled; "
            "run `newsletter ingest` again to poll them",
        ], shown
    else:
        assert shown[-1] == "error: interrupted again; stopping at once", shown
