"""A 40,000-row import through the workbench (/admin/subscribers/import) on a real `newsletter
serve` over SQLite, while readers unsubscribe through the same server: the import runs in the
CLI import's short batches, so every unsubscribe is answered and stored during it (none 500 or
503 after a provider's retries), and every imported row arrives."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from newsletter.config import Settings
from newsletter.service.accounts import add_account
from newsletter.service.app import App, open_app
from newsletter.storage.db import session_scope
from newsletter.storage.models import Subscriber
from tests.system.web_server import SECRET, environment, serving
from tests.web_helpers import add_row

pytestmark = pytest.mark.slow

IMPORT_ROWS = 40_000
READERS = 120
ADMIN = "admin@news.example.com"
PASSWORD = "import test password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
UPLOAD = re.compile(r'name="upload" value="([^"]+)"')


def _count(app: App) -> int:
    with session_scope(app.engine) as session:
        return int(session.exec(select(func.count()).select_from(Subscriber)).one())


def test_a_40000_row_web_import_does_not_block_unsubscribes(tmp_path: Path) -> None:
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
    add_account(app, ADMIN, "admin", PASSWORD)
    lines = ["Email Address,First Name,Last Name,MEMBER_RATING"]
    lines += [f"import{i}@example{i % 50}.org,Reader,No {i},2" for i in range(IMPORT_ROWS)]
    data = ("\n".join(lines) + "\n").encode()

    tokens = iter([r.token for r in readers])
    lock = threading.Lock()
    statuses: Counter[str] = Counter()
    unsubscribed: list[str] = []
    during: list[str] = []
    importing = threading.Event()
    stop = threading.Event()

    def reader_client(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while not stop.is_set():
                with lock:
                    token = next(tokens, None)
                if token is None:
                    return
                for attempt in range(5):
                    answer = http.post(
                        f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
                    )
                    statuses[f"unsubscribe {answer.status_code}"] += 1
                    if answer.status_code != 503:
                        break
                    time.sleep(0.5 * (attempt + 1))  # as a provider retries a 503
                if answer.status_code == 200:
                    unsubscribed.append(token)
                    if importing.is_set():
                        during.append(token)
                time.sleep(0.05)

    with serving(tmp_path) as server, httpx.Client(base_url=server.base_url, timeout=300) as admin:
        form = admin.get("/admin/login")
        signed = admin.post(
            "/admin/login",
            data={"email": ADMIN, "password": PASSWORD, "csrf_token": CSRF.findall(form.text)[0]},
        )
        assert signed.status_code == 303, signed.text
        token = CSRF.findall(admin.get("/admin/subscribers/import").text)[0]
        page = admin.post(
            "/admin/subscribers/import",
            files={"file": ("audience.csv", data, "text/csv")},
            data={"csrf_token": token},
        )
        assert page.status_code == 200 and f"{IMPORT_ROWS} rows" in page.text, page.text[-2000:]
        upload = UPLOAD.findall(page.text)[0]
        result: dict[str, httpx.Response] = {}

        def run_import() -> None:
            result["answer"] = admin.post(
                "/admin/subscribers/import/run", data={"csrf_token": token, "upload": upload}
            )
            importing.clear()

        importer = threading.Thread(target=run_import)
        importing.set()
        importer.start()
        deadline = time.monotonic() + 60
        while _count(app) == READERS and importer.is_alive():
            assert time.monotonic() < deadline, "the import wrote nothing for 60 s"
            time.sleep(0.02)
        clients = [
            threading.Thread(target=reader_client, args=(server.base_url,)) for _ in range(3)
        ]
        for client in clients:
            client.start()
        importer.join(timeout=300)
        stop.set()
        for client in clients:
            client.join(timeout=60)
        log = server.stop()

    answer = result["answer"]
    assert answer.status_code == 200, answer.text[-2000:]
    assert f"Mailchimp export: {IMPORT_ROWS} added" in answer.text
    assert len(during) >= 30, (len(during), statuses)  # the load ran while the import wrote
    assert not [key for key in statuses if key.endswith((" 500", " 503"))], (statuses, log)
    with session_scope(app.engine) as session:
        stored = {
            s.token
            for s in session.exec(select(Subscriber).where(Subscriber.status == "unsubscribed"))
        }
        sample = session.exec(
            select(Subscriber).where(Subscriber.email == "import39999@example49.org")
        ).one()
    assert set(unsubscribed) == stored  # none lost
    assert _count(app) == READERS + IMPORT_ROWS and sample.name == "Reader No 39999"
    app.engine.dispose()
    print(f"\n{len(during)} unsubscribes during the web import, {statuses}")
