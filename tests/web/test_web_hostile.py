"""Hostile requests get a short 4xx page with the security headers, never a 500 or a trace."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from newsletter.service.app import App
from newsletter.web import create_app
from newsletter.web.app import UNAVAILABLE_MESSAGE
from tests.conftest import TEMPLATES
from tests.web_helpers import (
    TestClient,
    add_row,
    client_for,
    outbox,
    snapshot,
    subscriber,
    web_app,
)

BIG = 64 * 1024 + 1


@pytest.fixture
def client(make_app: Any) -> Any:
    return client_for(web_app(make_app))


def _short_error(response: Any, status: int) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "content-security-policy" in response.headers
    body = response.text
    assert "Traceback" not in body and 'File "' not in body and len(body) < 5000


def test_bodies_over_64_kb_are_refused(client: Any) -> None:
    form = client.post("/subscribe", data={"email": "a@example.com", "name": "x" * BIG})
    _short_error(form, 413)
    assert "larger than 64 KB" in form.text
    api = client.post(
        "/api/subscribers",
        content=b'{"email": "a@example.com", "name": "' + b"x" * BIG + b'"}',
        headers={"Content-Type": "application/json"},
    )
    _short_error(api, 413)
    assert api.json() == {"error": "the request body is larger than 64 KB"}

    def chunks() -> Any:  # no Content-Length: counted while read
        for _ in range(70):
            yield b"x" * 1024

    chunked = client.post(
        "/subscribe",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in chunked.request.headers
    _short_error(chunked, 413)
    unsubscribe = client.post("/unsubscribe/" + "A" * 22, content=b"x" * BIG)
    _short_error(unsubscribe, 413)


def test_bad_content_length_is_refused(client: Any) -> None:
    response = client.post(
        "/subscribe",
        content=b"email=a%40example.com",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "-5"},
    )
    _short_error(response, 400)


HOSTILE_JSON = [
    (b"{not json", "application/json", 400, "not valid UTF-8 JSON"),
    (b'{"email": "\xff\xfe@example.com"}', "application/json", 400, "not valid UTF-8 JSON"),
    (b"[" * 50_000, "application/json", 400, "not valid UTF-8 JSON"),
    (b'["a@example.com"]', "application/json", 400, "expected a JSON object"),
    (b'{"email": null}', "application/json", 400, "empty address"),
    (b'{"email": "a@example.com", "sections": "events"}', "application/json", 400, "list"),
    (b'{"email": "a@example.com"}', "text/plain", 415, "Content-Type: application/json"),
    (b"email=a%40example.com", "application/x-www-form-urlencoded", 415, "JSON"),
]


def test_hostile_json(client: Any) -> None:
    for body, content_type, status, message in HOSTILE_JSON:
        response = client.post(
            "/api/subscribers", content=body, headers={"Content-Type": content_type}
        )
        _short_error(response, status)
        assert message in response.json()["error"], body[:40]


def test_hostile_forms(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    # Bad percent-encoding and raw bytes that are not UTF-8: an invalid address, not a crash.
    raw = client.post(
        "/subscribe",
        content=b"email=%FF%FE%00@example.com&name=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _short_error(raw, 400)
    wrong_type = client.post("/subscribe", content=b"<xml/>", headers={"Content-Type": "text/xml"})
    _short_error(wrong_type, 415)
    upload = client.post(
        "/subscribe", data={"email": "a@example.com"}, files={"website": ("x.txt", b"data")}
    )
    _short_error(upload, 400)
    many = client.post("/subscribe", data={f"f{n}": "x" for n in range(100)})
    _short_error(many, 400)
    broken = client.post(
        "/subscribe",
        content=b"--zzz\r\nContent-Disposition: form-data; name=email\r\n\r\nno end",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert broken.status_code in (200, 400)  # a truncated part: no crash either way
    assert "Traceback" not in broken.text
    injected = client.post(
        "/subscribe",
        data={"email": "a@example.com\r\nBcc: victim@example.com", "name": "x"},
    )
    _short_error(injected, 400)
    assert outbox(app) == []


def test_hostile_paths_and_methods(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    row = add_row(app, "reader@example.com", "active")
    before = snapshot(app, "reader@example.com")
    _short_error(client.get("/no/such/page"), 404)
    _short_error(client.delete(f"/unsubscribe/{row.token}"), 405)
    _short_error(client.put("/subscribe"), 405)
    for path in (
        "/confirm/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/unsubscribe/%00%0d%0aSet-Cookie:x=1",
        "/preferences/" + "a" * 5000,
        "/archive/%27%20OR%201=1--",
        "/c/%0d%0aLocation:%20https://evil.example",
    ):
        response = client.get(path)
        _short_error(response, 404)
        assert "<script>" not in response.text and "set-cookie" not in response.headers
    assert snapshot(app, "reader@example.com") == before
    assert subscriber(app, "reader@example.com") is not None


def test_a_database_that_does_not_answer_is_a_short_503_page(make_app: Any) -> None:
    """Nothing was changed and the request may work later: 503 with Retry-After (a mail
    provider retries a one-click unsubscribe), and nothing of the database's address shown."""
    app = web_app(make_app)
    down = App(
        settings=app.settings,
        config=app.config,
        engine=sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"),
    )
    client = TestClient(create_app(down), raise_server_exceptions=False)
    for method, path in (
        ("GET", "/archive"),
        ("GET", f"/unsubscribe/{'A' * 22}"),
        ("POST", f"/unsubscribe/{'A' * 22}"),
    ):
        response = client.request(method, path)
        _short_error(response, 503)
        assert response.headers["retry-after"] == "30"
        assert "try again in a minute" in response.text
        assert "OperationalError" not in response.text and "nobody" not in response.text
        assert "127.0.0.1" not in response.text
    api = client.post("/api/subscribers", json={"email": "a@example.com"})
    _short_error(api, 503)
    assert api.json() == {"error": UNAVAILABLE_MESSAGE}


def test_unexpected_errors_are_a_short_500_page(make_app: Any, tmp_path: Path) -> None:
    """A page template that fails while rendering (an editor's mistake) is a short 500."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    (templates / "web" / "archive.html").write_text("{{ 1 / 0 }}", encoding="utf-8")
    app = make_app(feeds=[], newsletter={"templates": str(templates)})
    client = TestClient(create_app(app), raise_server_exceptions=False)
    response = client.get("/archive")
    _short_error(response, 500)
    assert "Something went wrong" in response.text and "ZeroDivisionError" not in response.text
