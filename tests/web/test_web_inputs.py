"""Hostile and unsendable input at the web edge, on SQLite and PostgreSQL: names lose control
characters (a NUL does not cut them short) and bidi overrides; an address whose part before @
is not ASCII is refused with the reason, by the form and the API, and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web_helpers import client_for, outbox, subscriber, web_app

HOSTILE_NAME = "Ann\x00 Reader \u202eredaeR\u202c\x07 the \u2066admin\u2069\r\nBcc: x"


def test_names_from_the_form_and_the_api_are_cleaned(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    form = client.post("/subscribe", data={"email": "form@example.com", "name": HOSTILE_NAME})
    api = client.post("/api/subscribers", json={"email": "api@example.com", "name": HOSTILE_NAME})
    assert form.status_code == 200 and api.status_code == 202
    for email in ("form@example.com", "api@example.com"):
        row = subscriber(app, email)
        assert row is not None
        # Every control character is a space (collapsed), every bidi control is gone.
        assert row.name == "Ann Reader redaeR the admin Bcc: x", email
    # The confirmation goes to each, on one To line, and the name made no header of its own.
    messages = outbox(app)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
        "api@example.com",
        "form@example.com",
    ]
    for message in messages:
        assert message["Bcc"] is None and "\x00" not in str(message["To"])
        assert str(message["To"]).startswith("Ann Reader redaeR the admin")


@pytest.mark.parametrize("address", ["用户@example.com", "josé@example.com"])
def test_non_ascii_local_parts_are_refused_by_the_form_and_the_api(
    make_app: Any, address: str
) -> None:
    app = web_app(make_app)
    client = client_for(app)
    form = client.post("/subscribe", data={"email": address})
    assert form.status_code == 400
    assert "the part before @" in form.text and "must be ASCII" in form.text
    api = client.post("/api/subscribers", json={"email": address})
    assert api.status_code == 400
    assert "must be ASCII" in api.json()["error"]
    assert subscriber(app, address) is None and outbox(app) == []
    # A non-ASCII domain is fine (sent as IDNA).
    ok = client.post("/api/subscribers", json={"email": "reader@例え.jp"})
    assert ok.status_code == 202 and subscriber(app, "reader@xn--r8jz45g.jp") is not None
