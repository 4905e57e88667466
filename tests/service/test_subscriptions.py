"""Double opt-in, unsubscribe and preferences as service functions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsletter.email.transports import FileTransport
from newsletter.errors import SubscriberError
from newsletter.service.subscribers import add_subscriber, import_csv, remove_subscriber
from newsletter.service.subscriptions import (
    Evidence,
    ExpiredTokenError,
    PreferencesError,
    UnknownTokenError,
    check_confirmation,
    confirm,
    mask_email,
    prepare_subscription,
    send_confirmation,
    set_preferences,
    subscribe,
    subscriber_by_token,
    token_hash,
    unsubscribe,
    validate_preferences,
)
from tests.web_helpers import add_row, confirm_token, outbox, snapshot, subscriber, web_app

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ASK = Evidence("203.0.113.7", "Mozilla/5.0 (test)\r\nX-Injected: yes")


def _subscribe(app: Any, email: str, **kwargs: Any) -> Any:
    return subscribe(app, prepare_subscription(app, email), evidence=ASK, now=NOW, **kwargs)


def test_new_address_is_pending_with_a_hashed_token_and_consent(make_app: Any) -> None:
    app = web_app(make_app)
    outcome = _subscribe(app, " New.Person@Example.COM ")
    assert outcome.state == "new" and outcome.email == "new.person@example.com"
    mail = outcome.confirmation
    assert mail is not None and len(mail.token) == 32
    row = subscriber(app, "new.person@example.com")
    assert row is not None and row.status == "pending" and len(row.token) == 22
    assert row.confirm_token_hash == token_hash(mail.token) != mail.token
    assert mail.token not in str(row.model_dump())  # only the hash is stored
    assert row.confirm_sent_at == NOW and row.confirm_expires_at == NOW + timedelta(days=7)
    assert (row.consent_at, row.consent_ip, row.source) == (NOW, "203.0.113.7", "web")
    assert row.consent_user_agent == "Mozilla/5.0 (test) X-Injected: yes"  # one line
    assert row.confirmed_at is None


def test_each_state_decides_the_confirmation(make_app: Any) -> None:
    app = web_app(make_app)
    add_row(app, "active@example.com", "active")
    add_row(app, "gone@example.com", "unsubscribed")
    add_row(app, "bounced@example.com", "bounced")
    first = _subscribe(app, "pending@example.com")
    again = _subscribe(app, "pending@example.com")
    assert again.state == "pending" and again.confirmation is not None
    assert first.confirmation is not None and again.confirmation.token != first.confirmation.token
    row = subscriber(app, "pending@example.com")
    assert row is not None and row.confirm_token_hash == token_hash(again.confirmation.token)

    before = snapshot(app, "active@example.com")
    active = _subscribe(app, "active@example.com")
    assert (active.state, active.confirmation) == ("active", None)
    assert snapshot(app, "active@example.com") == before  # nothing at all changes

    for email, status in (("gone@example.com", "unsubscribed"), ("bounced@example.com", "bounced")):
        outcome = _subscribe(app, email)
        assert outcome.state == status and outcome.confirmation is not None
        row = subscriber(app, email)
        assert row is not None and row.status == status  # still suppressed until confirmed


def test_rate_limited_address_changes_nothing(make_app: Any) -> None:
    app = web_app(make_app)
    _subscribe(app, "pending@example.com")
    before = snapshot(app, "pending@example.com")
    asked: list[str] = []

    def refuse(email: str) -> bool:
        asked.append(email)
        return False

    outcome = _subscribe(app, "pending@example.com", may_send=refuse)
    assert outcome.confirmation is None and asked == ["pending@example.com"]
    assert snapshot(app, "pending@example.com") == before
    assert _subscribe(app, "fresh@example.com", may_send=refuse).confirmation is None
    assert subscriber(app, "fresh@example.com") is None


def test_confirm_activates_once_and_records_evidence(make_app: Any) -> None:
    app = web_app(make_app)
    mail = _subscribe(app, "reader@example.com").confirmation
    assert mail is not None
    assert check_confirmation(app, mail.token, now=NOW) == "ready"
    assert subscriber(app, "reader@example.com").status == "pending"  # type: ignore[union-attr]
    later = NOW + timedelta(hours=2)
    assert confirm(app, mail.token, Evidence("198.51.100.2", "Phone"), now=later) == "confirmed"
    row = subscriber(app, "reader@example.com")
    assert row is not None and row.status == "active"
    assert (row.confirmed_at, row.confirm_ip, row.confirm_user_agent) == (
        later,
        "198.51.100.2",
        "Phone",
    )
    before = snapshot(app, "reader@example.com")
    assert confirm(app, mail.token, Evidence("192.0.2.1"), now=later + timedelta(hours=1)) == (
        "already"
    )
    assert check_confirmation(app, mail.token, now=later) == "already"
    assert snapshot(app, "reader@example.com") == before


def test_forged_and_expired_tokens_change_nothing(make_app: Any) -> None:
    app = web_app(make_app)
    mail = _subscribe(app, "late@example.com").confirmation
    assert mail is not None
    before = snapshot(app, "late@example.com")
    for forged in ("A" * 32, mail.token[:-1] + ("A" if mail.token[-1] != "A" else "B"), "x", ""):
        with pytest.raises(UnknownTokenError):
            confirm(app, forged, now=NOW)
    expired = NOW + timedelta(days=7, seconds=1)
    with pytest.raises(ExpiredTokenError):
        check_confirmation(app, mail.token, now=expired)
    with pytest.raises(ExpiredTokenError):
        confirm(app, mail.token, now=expired)
    assert snapshot(app, "late@example.com") == before
    # A new request sends a new link; the old one stops working, the new one works.
    fresh = _subscribe(app, "late@example.com").confirmation
    assert fresh is not None
    with pytest.raises(UnknownTokenError):
        confirm(app, mail.token, now=NOW)
    assert confirm(app, fresh.token, now=NOW + timedelta(minutes=1)) == "confirmed"


def test_confirm_days_setting_sets_the_expiry(make_app: Any) -> None:
    app = web_app(make_app, confirm_days=0.5)
    mail = _subscribe(app, "quick@example.com").confirmation
    assert mail is not None and mail.expires_at == NOW + timedelta(hours=12)
    with pytest.raises(ExpiredTokenError):
        confirm(app, mail.token, now=NOW + timedelta(hours=13))


def test_suppressed_address_comes_back_only_by_confirming(make_app: Any) -> None:
    app = web_app(make_app)
    # Suppressed on the test's clock, before the confirmation links are sent at NOW.
    gone = add_row(app, "gone@example.com", "unsubscribed", now=NOW)
    add_row(app, "bounced@example.com", "bounced", now=NOW)
    # The CLI and CSV import keep them suppressed.
    assert add_subscriber(app, "gone@example.com").outcome == "suppressed"
    csv = app.settings.data_dir / "rows.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    csv.write_text("email\ngone@example.com\nbounced@example.com\n", encoding="utf-8")
    assert import_csv(app, csv).suppressed == 2
    for email in ("gone@example.com", "bounced@example.com"):
        mail = _subscribe(app, email).confirmation
        assert mail is not None
        assert subscriber(app, email).status != "active"  # type: ignore[union-attr]
        assert confirm(app, mail.token, now=NOW + timedelta(minutes=5)) == "confirmed"
        row = subscriber(app, email)
        assert row is not None and row.status == "active" and row.suppressed_reason is None
    row = subscriber(app, "gone@example.com")
    assert row is not None and row.token == gone.token  # the same unsubscribe link keeps working


def test_old_confirmation_link_cannot_resubscribe_after_unsubscribe(make_app: Any) -> None:
    app = web_app(make_app)
    mail = _subscribe(app, "reader@example.com").confirmation
    assert mail is not None
    confirm(app, mail.token, now=NOW + timedelta(minutes=1))
    token = subscriber(app, "reader@example.com").token  # type: ignore[union-attr]
    assert unsubscribe(app, token, now=NOW + timedelta(minutes=2)) == "unsubscribed"
    before = snapshot(app, "reader@example.com")
    assert before["status"] == "unsubscribed" and before["confirm_token_hash"] is None
    with pytest.raises(UnknownTokenError):
        confirm(app, mail.token, now=NOW + timedelta(minutes=3))
    assert snapshot(app, "reader@example.com") == before
    # Unsubscribing a pending address also kills its outstanding link.
    pending = _subscribe(app, "pending@example.com").confirmation
    assert pending is not None
    unsubscribe(app, subscriber(app, "pending@example.com").token, now=NOW)  # type: ignore[union-attr]
    with pytest.raises(UnknownTokenError):
        confirm(app, pending.token, now=NOW)


def test_link_sent_before_a_cli_removal_does_not_resubscribe(make_app: Any) -> None:
    app = web_app(make_app)
    mail = subscribe(app, prepare_subscription(app, "reader@example.com")).confirmation
    assert mail is not None
    assert remove_subscriber(app, "reader@example.com")  # keeps the token hash
    before = snapshot(app, "reader@example.com")
    with pytest.raises(UnknownTokenError):
        check_confirmation(app, mail.token)
    with pytest.raises(UnknownTokenError):
        confirm(app, mail.token)
    assert snapshot(app, "reader@example.com") == before


def test_used_link_does_not_revive_a_bounced_address(make_app: Any) -> None:
    app = web_app(make_app)
    mail = _subscribe(app, "reader@example.com").confirmation
    assert mail is not None
    confirm(app, mail.token, now=NOW + timedelta(minutes=1))
    from newsletter.storage.db import session_scope
    from newsletter.storage.queries import subscribers

    row = subscriber(app, "reader@example.com")
    assert row is not None and row.id is not None
    with session_scope(app.engine) as session:
        assert subscribers.suppress_bounced(session, [row.id], "550 5.1.1 unknown user") == 1
    before = snapshot(app, "reader@example.com")
    with pytest.raises(UnknownTokenError):
        confirm(app, mail.token, now=NOW + timedelta(hours=1))
    assert snapshot(app, "reader@example.com") == before


def test_unsubscribe_is_idempotent_and_unknown_tokens_fail(make_app: Any) -> None:
    app = web_app(make_app)
    row = add_row(app, "active@example.com", "active")
    assert unsubscribe(app, row.token, now=NOW) == "unsubscribed"
    first = snapshot(app, "active@example.com")
    assert first["status"] == "unsubscribed" and first["unsubscribed_at"] == NOW
    assert unsubscribe(app, row.token, now=NOW + timedelta(days=1)) == "already"
    assert snapshot(app, "active@example.com") == first
    bounced = add_row(app, "bounced@example.com", "bounced")
    assert unsubscribe(app, bounced.token, now=NOW) == "already"
    assert subscriber(app, "bounced@example.com").status == "bounced"  # type: ignore[union-attr]
    for token in ("A" * 22, "short", "../../etc/passwd", ""):
        with pytest.raises(UnknownTokenError):
            unsubscribe(app, token)


def test_preferences_are_validated_against_feeds_yaml(make_app: Any) -> None:
    app = web_app(make_app)
    row = add_row(app, "active@example.com", "active")
    view = set_preferences(app, row.token, ["financing", "events"], "zh")
    assert view.sections == ("financing", "events") and view.locale == "zh"
    assert view.masked_email == "a***@example.com"
    stored = subscriber(app, "active@example.com")
    assert stored is not None and stored.sections == ["financing", "events"]
    before = snapshot(app, "active@example.com")
    with pytest.raises(PreferencesError, match="unknown section 'nope'"):
        set_preferences(app, row.token, ["financing", "nope"], None)
    with pytest.raises(PreferencesError, match="unknown language 'fr'"):
        set_preferences(app, row.token, ["financing"], "fr")
    with pytest.raises(PreferencesError, match="at least one section"):
        set_preferences(app, row.token, [], None)
    assert snapshot(app, "active@example.com") == before
    # Every section chosen means all (new sections included); "all" languages means None.
    all_ids = [s.id for s in app.config.sections]
    view = set_preferences(app, row.token, list(reversed(all_ids)), "all")
    assert (view.sections, view.locale) == (None, None)
    assert subscriber_by_token(app, row.token).sections is None
    # Issue order, whatever order the form sent.
    assert validate_preferences(app, ["reports", "financing"], "en") == (
        ["financing", "reports"],
        "en",
    )


def test_invalid_subscribe_input_is_refused_before_any_write(make_app: Any) -> None:
    app = web_app(make_app)
    for bad in ("", "not-an-address", "a@b", "x@example.com\r\nBcc: y@example.com", "<a@b.com>"):
        with pytest.raises(SubscriberError):
            prepare_subscription(app, bad)
    with pytest.raises(PreferencesError):
        prepare_subscription(app, "ok@example.com", sections=["<script>"])
    request = prepare_subscription(app, "ok@example.com", name="  =?utf-8?q?x?=  Zhang\n San ")
    assert request.name == "utf-8?q?x?= Zhang San"
    assert subscriber(app, "ok@example.com") is None


def test_confirmation_email_through_the_file_transport(make_app: Any) -> None:
    app = web_app(make_app)
    mail = _subscribe(app, "reader@example.com").confirmation
    assert mail is not None
    msg_id = send_confirmation(app, FileTransport(app.settings.resolved_outbox_dir), mail, NOW)
    (msg,) = outbox(app)
    assert msg["Message-ID"] == msg_id and msg["To"] == "reader@example.com"
    assert msg["Subject"] == "Confirm your subscription to Test Health Weekly"
    assert msg["List-Unsubscribe"] is None  # not on the list yet
    assert confirm_token(msg) == mail.token
    assert "2026-11-30 17:00 (Asia/Shanghai)" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_mask_email() -> None:
    assert mask_email("zhang.wei@example.cn") == "z***@example.cn"
