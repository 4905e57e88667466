"""The audience as the workbench shows it: subscribers searched and paged, one subscriber's
consent evidence, bounces and deliveries, and a CSV import in two steps (the file is kept
while the editor checks the detected columns, then imported with the CLI's own batched
import, so a long import never holds the database's write lock for long)."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from newsletter.domain.audience import ColumnError, Columns, read_columns
from newsletter.domain.statuses import SUPPRESSED, SubscriberStatus
from newsletter.errors import SubscriberError
from newsletter.service.app import App
from newsletter.service.bounces import BounceView
from newsletter.service.subscribers import ImportReport, import_csv
from newsletter.storage.db import available_session
from newsletter.storage.models import Subscriber
from newsletter.storage.queries import audience, bounces
from newsletter.storage.queries.audience import DeliveryLine

PER_PAGE = 50
MAX_QUERY = 200
# What the status filter offers: each status, and "suppressed" for all that are not mailed
# again until a new confirmation (unsubscribed and bounced).
STATUS_FILTERS = (*(str(s) for s in SubscriberStatus), "suppressed")
UPLOAD_FOLDER = "imports"
UPLOAD_MAX_AGE = 24 * 3600.0  # an upload never imported is deleted after a day
SAMPLE_ROWS = 5
MAX_COLUMNS = 200  # audience exports have about 30; a page of more would not be read
MAX_PAGE = 100_000
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{20,40}")


@dataclass(frozen=True)
class SubscriberRow:
    """One subscriber in the list."""

    id: int
    email: str
    name: str | None
    status: str
    source: str | None
    created_at: datetime
    consent_at: datetime | None
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    bounced_at: datetime | None
    suppressed_reason: str | None
    bounces: int


@dataclass(frozen=True)
class SubscriberPage:
    """One page of a search: its rows, how many match, and where the page is."""

    rows: list[SubscriberRow]
    total: int
    page: int
    pages: int
    query: str
    status: str
    counts: dict[str, int]  # subscribers per status, all of them


@dataclass(frozen=True)
class SubscriberDetail:
    """Everything kept about one subscriber: status, consent evidence, bounces, deliveries."""

    row: SubscriberRow
    locale: str | None
    sections: list[str] | None
    consent_ip: str | None
    consent_user_agent: str | None
    confirm_sent_at: datetime | None
    confirm_ip: str | None
    confirm_user_agent: str | None
    updated_at: datetime
    bounces: list[BounceView]
    deliveries: list[DeliveryLine]


def _row(sub: Subscriber, bounce_count: int) -> SubscriberRow:
    assert sub.id is not None
    return SubscriberRow(
        id=sub.id,
        email=sub.email,
        name=sub.name,
        status=sub.status,
        source=sub.source,
        created_at=sub.created_at,
        consent_at=sub.consent_at,
        confirmed_at=sub.confirmed_at,
        unsubscribed_at=sub.unsubscribed_at,
        bounced_at=sub.bounced_at,
        suppressed_reason=sub.suppressed_reason,
        bounces=bounce_count,
    )


def _statuses(status: str) -> list[str]:
    if not status:
        return []
    if status not in STATUS_FILTERS:
        raise SubscriberError(f"status: must be one of {', '.join(STATUS_FILTERS)}; got {status!r}")
    return [str(s) for s in SUPPRESSED] if status == "suppressed" else [status]


def search(
    app: App, query: str = "", status: str = "", page: int = 1, per_page: int = PER_PAGE
) -> SubscriberPage:
    """Subscribers whose address or name contains ``query``, of one status (or "suppressed",
    or all), by address, one page at a time. SubscriberError naming the field that is wrong."""
    text = " ".join(query.split())
    if len(text) > MAX_QUERY:
        raise SubscriberError(f"search: at most {MAX_QUERY} characters")
    statuses = _statuses(status)
    if not 1 <= page <= MAX_PAGE:
        raise SubscriberError(f"page: must be between 1 and {MAX_PAGE}")
    with available_session(app.engine) as session:
        found, total = audience.search_subscribers(
            session, text, statuses, (page - 1) * per_page, per_page
        )
        counted = audience.bounce_counts(session, [s.email for s in found])
        counts = audience.status_counts(session)
    pages = max((total + per_page - 1) // per_page, 1)
    return SubscriberPage(
        rows=[_row(s, counted.get(s.email, 0)) for s in found],
        total=total,
        page=page,
        pages=pages,
        query=text,
        status=status,
        counts=counts,
    )


def subscriber_detail(app: App, subscriber_id: int) -> SubscriberDetail | None:
    """One subscriber with bounces and deliveries; None when there is no such row."""
    with available_session(app.engine) as session:
        sub = audience.subscriber_by_id(session, subscriber_id)
        if sub is None or sub.id is None:
            return None
        events = [
            BounceView(r.email, r.kind, r.source, r.diagnostic, r.occurred_at, r.suppressed)
            for r in bounces.events(session, sub.email, 100)
        ]
        return SubscriberDetail(
            row=_row(sub, len(events)),
            locale=sub.locale,
            sections=sub.sections,
            consent_ip=sub.consent_ip,
            consent_user_agent=sub.consent_user_agent,
            confirm_sent_at=sub.confirm_sent_at,
            confirm_ip=sub.confirm_ip,
            confirm_user_agent=sub.confirm_user_agent,
            updated_at=sub.updated_at,
            bounces=events,
            deliveries=audience.deliveries_of(session, sub.id),
        )


# ---- import in two steps: upload and look, then import with the chosen columns ----------


@dataclass(frozen=True)
class ImportPreview:
    """What an uploaded CSV looks like: the columns (1-based number, header), the detected
    kind and columns, a few rows, and how many rows there are."""

    upload_id: str
    kind: str
    has_header: bool
    columns: list[tuple[int, str]]
    email_column: int | None  # 1-based; None when no address column was recognised
    name_column: int | None  # 1-based; None with first + last name columns, or no name
    first_last: tuple[int, int] | None  # 1-based first and last name columns, when used
    sample: list[list[str]]
    rows: int


def _uploads(app: App) -> Path:
    return app.settings.data_dir / UPLOAD_FOLDER


def upload_path(app: App, upload_id: str) -> Path:
    """The kept file of an upload. SubscriberError when the id is malformed or the file is
    gone (imported already, or older than a day)."""
    if not _UPLOAD_ID.fullmatch(upload_id or ""):
        raise SubscriberError("file: upload it again (the form does not name an upload)")
    path = _uploads(app) / f"{upload_id}.csv"
    if not path.is_file():
        raise SubscriberError(
            "file: this upload was imported already or has expired; upload the file again"
        )
    return path


def save_upload(app: App, source: IO[bytes], now: float | None = None) -> str:
    """Keep an uploaded file for the second step; its id. Uploads older than a day go."""
    folder = _uploads(app)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SubscriberError(f"file: no folder to keep it in ({exc.strerror or exc})") from exc
    clock = time.time() if now is None else now
    for old in folder.glob("*.csv"):
        try:
            if clock - old.stat().st_mtime > UPLOAD_MAX_AGE:
                old.unlink()
        except OSError:  # another request removed it first
            pass
    upload_id = secrets.token_urlsafe(24)
    target = folder / f"{upload_id}.csv"
    try:
        with target.open("xb") as out:
            while chunk := source.read(1 << 20):
                out.write(chunk)
    except OSError as exc:  # a full disk: say so, keep nothing half written
        target.unlink(missing_ok=True)
        raise SubscriberError(
            f"file: could not be kept for the import ({exc.strerror or exc}); "
            "ask the operator to check the disk of the data folder"
        ) from exc
    return upload_id


def discard_upload(app: App, upload_id: str) -> None:
    """Delete an upload's file (after its import)."""
    with contextlib.suppress(SubscriberError, OSError):
        upload_path(app, upload_id).unlink()


def _rows(text: str) -> Iterable[list[str]]:
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:  # the import reports it with its line; the preview skips it
            continue
        if row and any(cell.strip() for cell in row):
            yield row


def preview_upload(app: App, upload_id: str) -> ImportPreview:
    """The columns of an uploaded CSV as the import would read them. SubscriberError naming
    the file when it is not a UTF-8 CSV with an address column."""
    path = upload_path(app, upload_id)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubscriberError(
            "file: not UTF-8 text; export the CSV as UTF-8 (Mailchimp, Substack and "
            "Buttondown exports are)"
        ) from exc
    rows = iter(_rows(text))
    first = next(rows, None)
    if first is None:
        raise SubscriberError("file: no rows in it")
    if len(first) > MAX_COLUMNS:
        raise SubscriberError(
            f"file: {len(first)} columns in the first row; at most {MAX_COLUMNS} are read. "
            "Is it a CSV (comma-separated)?"
        )
    try:
        columns: Columns | None = read_columns(first)
    except ColumnError:  # a header row without a recognised address column: the editor picks
        columns = None
    has_header = columns is None or columns.has_header
    sample: list[list[str]] = [] if has_header else [first[:]]
    count = 0 if has_header else 1
    for row in rows:
        count += 1
        if len(sample) < SAMPLE_ROWS:
            sample.append([cell[:80] for cell in row])
    if has_header:
        header = [(i + 1, cell.strip()[:80] or f"column {i + 1}") for i, cell in enumerate(first)]
    else:
        header = [(i + 1, f"column {i + 1}") for i in range(max(len(first), 2))]
    first_last = None
    if columns is not None and columns.first is not None and columns.last is not None:
        first_last = (columns.first + 1, columns.last + 1)
    if columns is None:
        kind = "CSV with a header row, no address column recognised"
    else:
        kind = columns.kind if has_header else "email,name (no header row)"
    return ImportPreview(
        upload_id=upload_id,
        kind=kind,
        has_header=has_header,
        columns=header,
        email_column=columns.email + 1 if columns is not None else None,
        name_column=columns.name + 1 if columns is not None and columns.name is not None else None,
        first_last=first_last,
        sample=sample,
        rows=count,
    )


def _column(value: str, preview: ImportPreview, field: str) -> str | None:
    """A column chosen on the form ("" = as detected): its 1-based number, checked."""
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= len(preview.columns):
        raise SubscriberError(
            f"{field}: choose one of the file's {len(preview.columns)} columns; got {value[:20]!r}"
        )
    return value


def import_upload(
    app: App,
    upload_id: str,
    email_column: str = "",
    name_column: str = "",
    update_names: bool = False,
) -> ImportReport:
    """Import an upload with the chosen columns (empty: as detected), in the CLI import's
    batches; existing subscribers keep their names unless ``update_names``. The file is
    deleted once imported. SubscriberError naming the field that is wrong."""
    preview = preview_upload(app, upload_id)
    email_at = _column(email_column, preview, "email column")
    name_at = _column(name_column, preview, "name column")
    if email_at is None and preview.email_column is None:
        raise SubscriberError("email column: no address column was recognised; choose one")
    if (email_at or str(preview.email_column)) == name_at:
        raise SubscriberError("name column: choose a column other than the email column")
    report = import_csv(app, upload_path(app, upload_id), email_at, name_at, update_names)
    discard_upload(app, upload_id)
    return report


__all__ = [
    "PER_PAGE",
    "STATUS_FILTERS",
    "ImportPreview",
    "SubscriberDetail",
    "SubscriberPage",
    "SubscriberRow",
    "discard_upload",
    "import_upload",
    "preview_upload",
    "save_upload",
    "search",
    "subscriber_detail",
    "upload_path",
]
