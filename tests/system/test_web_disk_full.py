"""A real `newsletter serve` whose writes the kernel refuses, as on a full disk.

The server runs with RLIMIT_FSIZE at 0 (``ulimit -f 0``): every write to a file fails (EFBIG,
where a full disk gives ENOSPC; SQLite reports "disk I/O error" or "database or disk is full",
both the same OperationalError to us), while reads work, as on a full disk. No root, no loop
device, no tmpfs needed. The SQLite file and its WAL index are opened first by this test, so the
server only reads and writes existing files, as a long-running server on a disk that filled up
would.
"""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import httpx
import pytest

from newsletter.config import Settings
from newsletter.service.app import open_app
from tests.system.web_server import SECRET, environment, serving
from tests.web_helpers import add_issue, add_link, add_row, snapshot

pytestmark = pytest.mark.slow


def _no_file_may_grow() -> None:
    """In the server process before exec: a write past 0 bytes fails with EFBIG instead of
    killing the process with SIGXFSZ (an ignored signal stays ignored across exec)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def test_a_server_that_cannot_write_still_redirects_and_answers_503(tmp_path: Path) -> None:
    env = environment(tmp_path)
    app = open_app(
        Settings(
            data_dir=tmp_path / "data",
            database_url=env["NEWSLETTER_DATABASE_URL"],
            secret_key=SECRET,
        ),
        tmp_path / "feeds.yaml",
    )
    reader = add_row(app, "reader@example.com", "active")
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    link = add_link(app, issue.id, "https://example.com/story", "fulltoken01")
    before = snapshot(app, reader.email)
    keeper = app.engine.connect()  # keeps the -wal and -shm files in place
    try:
        with serving(tmp_path, preexec_fn=_no_file_may_grow) as server:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                redirect = http.get(f"/c/{link.token}")
                assert redirect.status_code == 302, server.output
                assert redirect.headers["location"] == "https://example.com/story"

                unsubscribe = http.post(
                    f"/unsubscribe/{reader.token}", data={"List-Unsubscribe": "One-Click"}
                )
                assert unsubscribe.status_code == 503, server.output
                assert unsubscribe.headers["retry-after"] == "30"
                assert "try again in a minute" in unsubscribe.text

                subscribe = http.post("/api/subscribers", json={"email": "new@example.com"})
                assert subscribe.status_code == 503, server.output

                health = http.get("/healthz")
                assert health.status_code == 503
                assert health.json() == {"status": "error", "database": "not writable"}

                assert http.get("/archive").status_code == 200  # reads still work
            log = server.stop()
    finally:
        keeper.close()
    assert "Traceback" not in log, log
    assert "click counts queued, not written" in log, log
    assert "disk I/O error" in log or "database or disk is full" in log, log
    assert "1 queued clicks not written before stopping" in log, log
    assert snapshot(app, reader.email) == before
    app.engine.dispose()
