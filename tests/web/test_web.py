"""The subscriber routes over the real app (TestClient), on SQLite and PostgreSQL: subscribe
without enumeration, rate limits, confirm, one-click unsubscribe, preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from newsletter.service.subscriptions import prepare_subscription, subscribe
from newsletter.storage.db import session_scope
from newsletter.storage.models import Subscriber
from tests.web_helpers import (
    add_row,
    client_for,
    confirm_token,
    outbox,
    recipients,
    snapshot,
    subscriber,
    web_app,
)

ONE_CLICK = "List-Unsubscribe=One-Click"
NO_SCRIPT_CSP = "default-src 'none'"


def _security_headers_ok(response: Any) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    csp = headers["content-security-policy"]
    assert csp.startswith(NO_SCRIPT_CSP) and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp


def test_subscribe_form(make_app: Any) -> None:
    client = client_for(web_app(make_app))
    response = client.get("/subscribe")
    assert response.status_code == 200
    _security_headers_ok(response)
    page = response.text
    assert '<form method="post" action="/subscribe">' in page
    assert 'name="email"' in page and 'name="name"' in page
    # The honeypot is in a block hidden by the stylesheet, out of the tab order.
    assert '<div class="hp" aria-hidden="true">' in page and 'name="website" tabindex="-1"' in page
    assert ".hp { position: absolute; left: -10000px;" in client.get("/static/style.css").text
    assert page.count('type="checkbox" name="sections"') == 6
    assert '<option value="zh">中文</option>' in page and '<option value="en">' in page
    assert "<script" not in page


def _state_addresses(app: Any, suffix: str) -> dict[str, str]:
    """One address in each of the five states."""
    emails = {state: f"{state}-{suffix}@example.com" for state in ("new", "pending", "active")}
    emails["unsubscribed"] = f"gone-{suffix}@example.com"
    emails["bounced"] = f"bounced-{suffix}@example.com"
    subscribe(app, prepare_subscription(app, emails["pending"]))
    add_row(app, emails["active"], "active")
    add_row(app, emails["unsubscribed"], "unsubscribed")
    add_row(app, emails["bounced"], "bounced")
    return emails


def _fingerprint(response: Any) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
    return response.status_code, response.content, tuple(sorted(response.headers.items()))


def test_five_states_get_byte_identical_answers(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    form_states = _state_addresses(app, "f")
    json_states = _state_addresses(app, "j")
    sent_before = len(outbox(app))  # the pending ones' first confirmations were not emailed

    form_answers = {
        state: _fingerprint(client.post("/subscribe", data={"email": email, "name": "Ann"}))
        for state, email in form_states.items()
    }
    form_answers["honeypot"] = _fingerprint(
        client.post("/subscribe", data={"email": "bot@example.com", "website": "http://spam"})
    )
    json_answers = {
        state: _fingerprint(client.post("/api/subscribers", json={"email": email}))
        for state, email in json_states.items()
    }
    json_answers["honeypot"] = _fingerprint(
        client.post("/api/subscribers", json={"email": "bot@example.com", "website": "x"})
    )
    assert len(set(form_answers.values())) == 1, form_answers.keys()
    assert len(set(json_answers.values())) == 1
    status, body, headers = form_answers["new"]
    assert status == 200 and b"Check your inbox" in body and b"@example.com" not in body
    status, body, headers = json_answers["new"]
    assert status == 202 and ("content-type", "application/json") in headers

    # What differs is only what the address itself receives.
    got = sorted(recipients(outbox(app)[sent_before:]))
    expected = sorted(
        email
        for states in (form_states, json_states)
        for state, email in states.items()
        if state != "active"
    )
    assert got == expected
    assert subscriber(app, "bot@example.com") is None
    for states in (form_states, json_states):
        assert subscriber(app, states["new"]).status == "pending"  # type: ignore[union-attr]
        assert subscriber(app, states["unsubscribed"]).status == "unsubscribed"  # type: ignore[union-attr]
        assert subscriber(app, states["bounced"]).status == "bounced"  # type: ignore[union-attr]


def test_rate_limits_per_ip_and_per_address(make_app: Any) -> None:
    app = web_app(
        make_app,
        subscribe_limit_per_ip=3,
        subscribe_limit_per_address=2,
        trust_proxy_headers=True,
    )
    client = client_for(app)
    answers = set()
    for n in range(4):
        response = client.post(
            "/subscribe",
            data={"email": f"ip{n}@example.com"},
            headers={"X-Forwarded-For": "spoofed, 203.0.113.9"},
        )
        answers.add(_fingerprint(response))
    assert len(answers) == 1  # the limited request looks like the others
    assert recipients(outbox(app)) == [f"ip{n}@example.com" for n in range(3)]
    assert subscriber(app, "ip3@example.com") is None
    # The right-most X-Forwarded-For entry is the client: another address has its own budget.
    for n in range(3):
        response = client.post(
            "/api/subscribers",
            json={"email": "same@example.com"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
        assert response.status_code == 202
    assert recipients(outbox(app)).count("same@example.com") == 2


def test_forwarded_for_is_ignored_unless_trusted(make_app: Any) -> None:
    app = web_app(make_app, subscribe_limit_per_ip=1)
    client = client_for(app)
    for n in range(3):
        client.post(
            "/subscribe",
            data={"email": f"x{n}@example.com"},
            headers={"X-Forwarded-For": f"10.0.0.{n}"},
        )
    assert recipients(outbox(app)) == ["x0@example.com"]
    row = subscriber(app, "x0@example.com")
    assert row is not None and row.consent_ip == "testclient"  # the socket peer, not the header


def test_invalid_input_is_refused_clearly(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    response = client.post("/subscribe", data={"email": "not an address <x>", "name": "A"})
    assert response.status_code == 400
    assert "is not a single plain address" in response.text
    assert 'value="not an address &lt;x&gt;"' in response.text  # kept in the form, escaped
    response = client.post("/subscribe", data={"email": "a@example.com", "sections": "nope"})
    assert response.status_code == 400 and "unknown section" in response.text
    response = client.post("/api/subscribers", json={"email": "a@"})
    assert response.status_code == 400 and "not a valid address" in response.json()["error"]
    response = client.post("/api/subscribers", json={"email": ["a@example.com"]})
    assert response.status_code == 400 and response.json() == {"error": "'email' must be a string"}
    response = client.post("/api/subscribers", json={"email": "a@example.com", "language": "fr"})
    assert response.status_code == 400 and "unknown language" in response.json()["error"]
    assert outbox(app) == [] and subscriber(app, "a@example.com") is None


def test_subscribe_stores_chosen_sections_and_language(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    client.post(
        "/subscribe",
        data={"email": "picky@example.com", "sections": ["events", "financing"], "language": "zh"},
        headers={"User-Agent": "Test Browser"},
    )
    row = subscriber(app, "picky@example.com")
    assert row is not None and row.sections == ["financing", "events"] and row.locale == "zh"
    assert row.consent_user_agent == "Test Browser" and row.source == "web"


def test_confirmation_email_over_smtp_confirms_the_address(make_app: Any, smtp_server: Any) -> None:
    app = web_app(
        make_app,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_tls="none",
        smtp_timeout=5,
    )
    client = client_for(app)
    response = client.post("/subscribe", data={"email": "Reader@Example.com", "name": "读者"})
    assert response.status_code == 200
    (received,) = smtp_server.received
    assert received.rcpt_tos == ["reader@example.com"]
    assert received.mail_from == "digest@news.example.com"
    msg = received.message()
    assert msg["Auto-Submitted"] == "auto-generated" and "读者" in str(msg["To"])
    token = confirm_token(msg)
    assert subscriber(app, "reader@example.com").status == "pending"  # type: ignore[union-attr]

    page = client.get(f"/confirm/{token}")  # what a link scanner does: nothing changes
    assert page.status_code == 200
    assert f'<form method="post" action="/confirm/{token}">' in page.text
    assert subscriber(app, "reader@example.com").status == "pending"  # type: ignore[union-attr]

    done = client.post(f"/confirm/{token}", headers={"User-Agent": "Phone"})
    assert done.status_code == 200 and "Subscription confirmed" in done.text
    row = subscriber(app, "reader@example.com")
    assert row is not None and row.status == "active"
    assert (row.confirm_ip, row.confirm_user_agent) == ("testclient", "Phone")
    before = snapshot(app, "reader@example.com")
    again = client.post(f"/confirm/{token}")
    assert again.status_code == 200 and "Already confirmed" in again.text
    assert client.get(f"/confirm/{token}").status_code == 200
    assert snapshot(app, "reader@example.com") == before
    # Subscribing an active address again sends nothing.
    client.post("/subscribe", data={"email": "reader@example.com"})
    assert len(smtp_server.received) == 1


def test_forged_and_expired_confirm_links(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    client.post("/subscribe", data={"email": "late@example.com"})
    token = confirm_token(outbox(app)[0])
    before = snapshot(app, "late@example.com")
    for forged in ("A" * 32, token[:-2] + "zz", "<script>alert(1)</script>", "x" * 500):
        for method in (client.get, client.post):
            response = method(f"/confirm/{forged}")
            assert response.status_code == 404, forged
            assert "<script>alert" not in response.text
    assert snapshot(app, "late@example.com") == before

    with session_scope(app.engine) as session:
        session.execute(
            sa.update(Subscriber)
            .where(Subscriber.email == "late@example.com")  # type: ignore[arg-type]
            .values(confirm_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = snapshot(app, "late@example.com")
    for method in (client.get, client.post):
        response = method(f"/confirm/{token}")
        assert response.status_code == 410
        assert "has expired" in response.text and 'href="/subscribe"' in response.text
    assert snapshot(app, "late@example.com") == expired


def test_one_click_unsubscribe_urlencoded_and_multipart(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    first = add_row(app, "one@example.com", "active")
    second = add_row(app, "two@example.com", "active")

    urlencoded = client.post(
        f"/unsubscribe/{first.token}",
        content=ONE_CLICK,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    multipart = client.post(
        f"/unsubscribe/{second.token}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert multipart.request.headers["content-type"].startswith("multipart/form-data")
    for response in (urlencoded, multipart):
        assert response.status_code == 200 and "You are unsubscribed" in response.text
        assert "location" not in response.headers and "set-cookie" not in response.headers
        assert "cookie" not in response.request.headers
    for email in ("one@example.com", "two@example.com"):
        row = subscriber(app, email)
        assert row is not None and row.status == "unsubscribed" and row.unsubscribed_at
    before = snapshot(app, "one@example.com")
    again = client.post(f"/unsubscribe/{first.token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "already unsubscribed" in again.text
    assert snapshot(app, "one@example.com") == before


def test_get_unsubscribe_shows_a_button_and_never_unsubscribes(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    row = add_row(app, "reader@example.com", "active")
    before = snapshot(app, "reader@example.com")
    for _ in range(2):
        page = client.get(f"/unsubscribe/{row.token}")
        assert page.status_code == 200
        assert f'<form method="post" action="/unsubscribe/{row.token}">' in page.text
        assert "r***@example.com" in page.text and "reader@example.com" not in page.text
    assert snapshot(app, "reader@example.com") == before
    for method in (client.get, client.post):
        assert method("/unsubscribe/" + "B" * 22).status_code == 404
        assert method("/unsubscribe/..%2F..%2Fetc").status_code == 404
    assert snapshot(app, "reader@example.com") == before


def test_preferences_page_saves_sections_and_language(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    row = add_row(app, "reader@example.com", "active")
    page = client.get(f"/preferences/{row.token}")
    assert page.status_code == 200
    assert page.text.count(" checked>") == 6  # every section, by default
    assert f'action="/unsubscribe/{row.token}"' in page.text  # the unsubscribe button
    saved = client.post(
        f"/preferences/{row.token}",
        data={"sections": ["financing", "events"], "language": "zh"},
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    stored = subscriber(app, "reader@example.com")
    assert stored is not None and (stored.sections, stored.locale) == (
        ["financing", "events"],
        "zh",
    )
    shown = client.get(f"/preferences/{row.token}").text
    assert shown.count(" checked>") == 2 and '<option value="zh" selected>' in shown

    before = snapshot(app, "reader@example.com")
    bad = client.post(f"/preferences/{row.token}", data={"sections": ["financing", "nope<b>"]})
    assert bad.status_code == 400 and "unknown section &#39;nope&lt;b&gt;&#39;" in bad.text
    assert (
        client.post(
            f"/preferences/{row.token}", data={"language": "fr", "sections": "events"}
        ).status_code
        == 400
    )
    assert client.post(f"/preferences/{row.token}", data={"language": "en"}).status_code == 400
    assert snapshot(app, "reader@example.com") == before
    assert client.get("/preferences/" + "C" * 22).status_code == 404
    assert client.post("/preferences/" + "C" * 22, data={"sections": "events"}).status_code == 404
