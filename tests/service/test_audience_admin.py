"""The workbench's audience service on SQLite and PostgreSQL: search and paging, status
filters, one subscriber's consent evidence, bounces and deliveries, and the two-step CSV
import (upload, detected columns, mapping, names kept unless asked)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.domain.bounces import BounceEvent, BounceKind, BounceSource
from newsletter.errors import SubscriberError
from newsletter.service.audience import (
    import_upload,
    preview_upload,
    save_upload,
    search,
    subscriber_detail,
    upload_path,
)
from newsletter.service.bounces import record_events
from newsletter.service.subscribers import add_subscriber, list_subscribers
from newsletter.storage.db import session_scope
from newsletter.storage.models import Delivery
from tests.web_helpers import add_issue, add_row

DATA = Path(__file__).resolve().parents[1] / "data" / "audience"


def upload(app: Any, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return save_upload(app, io.BytesIO(data))


def names(app: Any) -> dict[str, str | None]:
    return {s.email: s.name for s in list_subscribers(app)}


def test_search_by_address_or_name_with_status_and_pages(make_app: Any) -> None:
    app = make_app()
    for n in range(120):
        add_row(app, f"reader{n:03d}@example.com", "active", name=f"Reader {n}")
    add_row(app, "wang.fang@example.cn", "active", name="王芳")
    add_row(app, "gone@example.com", "unsubscribed", name="Left Reader")
    add_row(app, "bounced@example.com", "bounced")
    add_row(app, "pct_100@example.com", "pending")

    first = search(app)
    assert (first.total, first.pages, len(first.rows)) == (124, 3, 50)
    assert [r.email for r in first.rows] == sorted(r.email for r in first.rows)
    third = search(app, page=3)
    assert len(third.rows) == 24
    assert search(app, page=9).rows == []

    assert [r.email for r in search(app, "王芳").rows] == ["wang.fang@example.cn"]
    assert [r.email for r in search(app, "  READER 11 ").rows][:1] == ["reader011@example.com"]
    assert [r.email for r in search(app, "left").rows] == ["gone@example.com"]
    # LIKE wildcards in the query are plain characters.
    assert [r.email for r in search(app, "%").rows] == []
    assert [r.email for r in search(app, "pct_").rows] == ["pct_100@example.com"]

    suppressed = search(app, status="suppressed")
    assert {r.email for r in suppressed.rows} == {"gone@example.com", "bounced@example.com"}
    assert [r.email for r in search(app, "reader", "unsubscribed").rows] == ["gone@example.com"]
    assert first.counts == {"active": 121, "unsubscribed": 1, "bounced": 1, "pending": 1}
    with pytest.raises(SubscriberError, match=r"^status: must be one of"):
        search(app, status="deleted")
    for page in (0, 10**12):
        with pytest.raises(SubscriberError, match=r"^page: must be between 1 and"):
            search(app, page=page)
    with pytest.raises(SubscriberError, match=r"^search:"):
        search(app, "x" * 300)


def test_one_subscriber_with_consent_bounces_and_deliveries(make_app: Any) -> None:
    app = make_app()
    now = datetime.now(UTC)
    row = add_row(
        app,
        "ana@example.com",
        "unsubscribed",
        name="Ana",
        source="web",
        consent_at=now - timedelta(days=30),
        consent_ip="203.0.113.9",
        consent_user_agent="Mozilla/5.0 (test)",
        confirmed_at=now - timedelta(days=30, minutes=-2),
        confirm_ip="203.0.113.10",
        unsubscribed_at=now - timedelta(days=1),
    )
    issue = add_issue(app, "2026-W40", sent_at=now - timedelta(days=5))
    with session_scope(app.engine) as session:
        session.add(
            Delivery(
                issue_id=issue.id, subscriber_id=row.id, status="sent", sent_at=now - timedelta(5)
            )
        )
    record_events(
        app,
        [
            BounceEvent(
                "ana@example.com", BounceKind.SOFT, BounceSource.DSN, "4.2.2 full", now, "e1"
            )
        ],
        now,
    )
    assert row.id is not None
    detail = subscriber_detail(app, row.id)
    assert detail is not None
    assert (detail.row.status, detail.row.source, detail.consent_ip) == (
        "unsubscribed",
        "web",
        "203.0.113.9",
    )
    assert detail.confirm_ip == "203.0.113.10" and detail.row.unsubscribed_at is not None
    assert [(b.kind, b.diagnostic) for b in detail.bounces] == [("soft", "4.2.2 full")]
    assert [(d.period, d.status) for d in detail.deliveries] == [("2026-W40", "sent")]
    assert search(app, "ana").rows[0].bounces == 1
    assert subscriber_detail(app, row.id + 1000) is None


def test_mailchimp_upload_shows_its_columns_and_imports_with_names(make_app: Any) -> None:
    app = make_app()
    add_subscriber(app, "ana.ruiz@example.com", "Ana (editor's note)")
    upload_id = upload(app, (DATA / "mailchimp_subscribed.csv").read_bytes())
    preview = preview_upload(app, upload_id)
    assert preview.kind == "Mailchimp export" and preview.has_header
    assert preview.columns[:3] == [(1, "Email Address"), (2, "First Name"), (3, "Last Name")]
    assert (preview.email_column, preview.name_column, preview.first_last) == (1, None, (2, 3))
    assert preview.rows == 4 and preview.sample[0][0] == "ana.ruiz@example.com"

    report = import_upload(app, upload_id)
    assert (report.kind, report.added, report.unchanged) == ("Mailchimp export", 2, 1)
    assert names(app)["wang.fang@example.cn"] == "王芳"
    assert names(app)["ana.ruiz@example.com"] == "Ana (editor's note)"  # kept by default
    with pytest.raises(SubscriberError, match=r"^file: this upload was imported already"):
        upload_path(app, upload_id)  # the file is gone once imported

    again = import_upload(
        app, upload(app, (DATA / "mailchimp_subscribed.csv").read_bytes()), update_names=True
    )
    assert again.updated == 1 and names(app)["ana.ruiz@example.com"] == "Ana Ruiz"


def test_columns_chosen_by_the_editor_and_fields_named_in_errors(make_app: Any) -> None:
    app = make_app()
    text = "Correo,Nombre,Notas\nluz@example.com,Luz Díaz,=HYPERLINK(1)\nbad-address,Nadie,\n"
    upload_id = upload(app, text)
    preview = preview_upload(app, upload_id)
    assert preview.email_column is None  # no address column recognised: the editor picks one
    assert [h for _, h in preview.columns] == ["Correo", "Nombre", "Notas"]
    with pytest.raises(SubscriberError, match=r"^email column: no address column"):
        import_upload(app, upload_id)
    with pytest.raises(SubscriberError, match=r"^email column: choose one of the file's 3"):
        import_upload(app, upload_id, "9")
    with pytest.raises(SubscriberError, match=r"^name column: choose a column other"):
        import_upload(app, upload_id, "1", "1")
    assert names(app) == {}  # nothing imported by a refused mapping
    report = import_upload(app, upload_id, "1", "2")
    assert report.added == 1 and [line for line, _ in report.errors] == [3]
    assert names(app) == {"luz@example.com": "Luz Díaz"}

    for bad, message in (
        (b"\xff\xfe\x00not utf-8", "^file: not UTF-8"),
        (b"\n\n", "^file: no rows"),
    ):
        with pytest.raises(SubscriberError, match=message):
            preview_upload(app, upload(app, bad))
    with pytest.raises(SubscriberError, match=r"^file: 5000 columns in the first row"):
        preview_upload(app, upload(app, ",".join(["x"] * 5000) + "\n"))
    with pytest.raises(SubscriberError, match=r"^file: upload it again"):
        preview_upload(app, "../../etc/passwd")


def test_old_uploads_are_removed(make_app: Any) -> None:
    app = make_app()
    old = upload(app, "email\na@example.com\n")
    path = upload_path(app, old)
    later = path.stat().st_mtime + 2 * 24 * 3600
    fresh = save_upload(app, io.BytesIO(b"email\nb@example.com\n"), now=later)
    assert not path.exists() and upload_path(app, fresh).exists()
