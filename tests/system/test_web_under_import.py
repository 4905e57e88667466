"""Load on loopback: one-click unsubscribes and click redirects against a real `newsletter
serve` while `newsletter subscribers import` writes 40,000 rows to the same SQLite file.

Before the import wrote in short batches, it held SQLite's one write lock for 24 s: requests
waited for the 10 s busy timeout, got 500, and those unsubscribes were lost. Now every
unsubscribe is answered 200 and stored, every click is redirected and counted. A 503 (which
a mail provider retries) is retried here like a provider would, so "lost" means a request
that was never stored, whatever it was answered; the test also requires there was none.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from newsletter.config import Settings
from newsletter.service.app import App, open_app
from newsletter.storage.db import session_scope
from newsletter.storage.models import Link, Subscriber
from tests.system.web_server import SECRET, environment, newsletter, serving
from tests.web_helpers import add_issue, add_link, add_row

pytestmark = pytest.mark.slow

IMPORT_ROWS = 40_000
READERS = 120  # unsubscribe tokens available; the clients stop when the import ends
CLIENTS = 3
PAUSE = 0.05  # between one client's requests: a steady trickle, not a flood


def _write_csv(path: Path) -> None:
    lines = ["email,name"]
    lines += [f"import{i}@example{i % 50}.org,Imported Reader {i}" for i in range(IMPORT_ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_unsubscribes_and_clicks_during_a_40000_row_import(tmp_path: Path) -> None:
    env = environment(tmp_path)
    app = open_app(
        Settings(
            data_dir=tmp_path / "data",
            database_url=env["NEWSLETTER_DATABASE_URL"],
            secret_key=SECRET,
        ),
        tmp_path / "feeds.yaml",
    )
    readers = [add_row(app, f"reader{i}@example.com", "active") for i in range(READERS)]
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    link = add_link(app, issue.id, "https://example.com/story", "loadtoken01")
    csv = tmp_path / "subscribers.csv"
    _write_csv(csv)

    tokens = iter([r.token for r in readers])
    token_lock = threading.Lock()
    statuses: Counter[str] = Counter()
    unsubscribed: list[str] = []
    clicks = 0
    slowest = 0.0
    stop = threading.Event()

    def client(base_url: str) -> None:
        nonlocal clicks, slowest
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while not stop.is_set():
                with token_lock:
                    token = next(tokens, None)
                if token is None:
                    return
                for attempt in range(5):
                    started = time.monotonic()
                    answer = http.post(
                        f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
                    )
                    slowest = max(slowest, time.monotonic() - started)
                    statuses[f"unsubscribe {answer.status_code}"] += 1
                    if answer.status_code != 503:
                        break
                    time.sleep(0.5 * (attempt + 1))  # as a provider retries a 503
                if answer.status_code == 200:
                    unsubscribed.append(token)
                started = time.monotonic()
                redirect = http.get(f"/c/{link.token}")
                slowest = max(slowest, time.monotonic() - started)
                statuses[f"click {redirect.status_code}"] += 1
                if redirect.status_code == 302:
                    clicks += 1
                time.sleep(PAUSE)

    with serving(tmp_path) as server:
        importer = subprocess.Popen(
            newsletter("subscribers", "import", str(csv)),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        import_started = time.monotonic()
        # Start the load once the import is writing.
        deadline = time.monotonic() + 60
        while _count(app) == READERS and importer.poll() is None:
            assert time.monotonic() < deadline, "the import wrote nothing for 60 s"
            time.sleep(0.02)
        threads = [threading.Thread(target=client, args=(server.base_url,)) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        output, _ = importer.communicate(timeout=120)
        import_seconds = time.monotonic() - import_started
        during_import = len(unsubscribed)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        log = server.stop()

    assert importer.returncode == 0, output.decode()
    assert f"{IMPORT_ROWS} added" in output.decode()
    # The load ran while the import was writing, not after it.
    assert during_import >= 30, (during_import, statuses)
    assert not [key for key in statuses if key.endswith((" 500", " 503"))], (statuses, log)
    with session_scope(app.engine) as session:
        stored = {
            s.token
            for s in session.exec(select(Subscriber).where(Subscriber.status == "unsubscribed"))
        }
        counted = session.exec(select(Link).where(Link.id == link.id)).one().clicks
    assert set(unsubscribed) <= stored and len(stored) == len(unsubscribed)  # 0 lost
    assert counted == clicks  # every click counted (the last ones when the server stopped)
    assert _count(app) == READERS + IMPORT_ROWS
    app.engine.dispose()
    print(
        f"\n{during_import} unsubscribes during the import, {statuses}, "
        f"slowest answer {slowest:.2f} s, import {import_seconds:.1f} s"
    )


def _count(app: App) -> int:
    with session_scope(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(Subscriber)).one())
