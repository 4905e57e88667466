"""A real `newsletter serve` (and other CLI commands) on 127.0.0.1 for the system tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import write_config
from tests.smtp_server import free_port
from tests.web_helpers import FEEDS

SECRET = "web-system-test-secret"


def environment(folder: Path, base_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """NEWSLETTER_* settings for a feeds.yaml and SQLite database in ``folder``."""
    config = folder / "feeds.yaml"
    if not config.exists():
        write_config(folder, FEEDS)
    return {
        **os.environ,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATA_DIR": str(folder / "data"),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{folder / 'web.db'}",
        "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
        "NEWSLETTER_BASE_URL": base_url,
        "NEWSLETTER_SECRET_KEY": SECRET,
    }


def newsletter(*args: str) -> list[str]:
    """The command line of `newsletter ARGS` with this interpreter."""
    return [sys.executable, "-m", "newsletter", *args]


class Server:
    """A running `newsletter serve`: its base URL and everything it has printed so far."""

    def __init__(self, base_url: str, proc: subprocess.Popen[bytes]) -> None:
        self.base_url = base_url
        self.proc = proc
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.decode(errors="replace"))

    @property
    def output(self) -> str:
        """What the server printed (its log), so far."""
        return "".join(self.lines)

    def stop(self) -> str:
        """SIGTERM, wait, and the whole output."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        return self.output


@contextmanager
def serving(folder: Path, preexec_fn: Callable[[], None] | None = None) -> Iterator[Server]:
    """`newsletter serve` on a free port; its output goes through a pipe (no file: a test may
    forbid the process to write files), and it is stopped with SIGTERM."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        newsletter("serve", "--host", "127.0.0.1", "--port", str(port)),
        env=environment(folder, base_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=folder,
        preexec_fn=preexec_fn,
    )
    server = Server(base_url, proc)
    try:
        _wait_until_up(f"{base_url}/archive", server)
        yield server
    finally:
        server.stop()


def _wait_until_up(url: str, server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            server.stop()
            raise AssertionError(
                f"newsletter serve exited with {server.proc.returncode}:\n{server.output}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"newsletter serve did not answer at {url}")
