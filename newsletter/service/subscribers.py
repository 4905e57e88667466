"""Subscribers: validated, normalized addresses; add, remove, list, CSV import and export."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from newsletter.domain.audience import ColumnError, read_columns
from newsletter.domain.statuses import SUPPRESSED, SubscriberStatus
from newsletter.email.i18n import N_
from newsletter.email.tokens import new_token
from newsletter.errors import DatabaseUnavailableError, SubscriberError
from newsletter.service.app import App
from newsletter.storage.db import IntegrityError, Session, available_session
from newsletter.storage.models import Subscriber, utcnow
from newsletter.storage.queries import subscribers


def normalize_email(raw: str) -> str:
    """A validated address, domain lowercased (IDNA), local part lowercased."""
    value = (raw or "").strip()
    if not value:
        raise SubscriberError(N_("empty address"))
    # The address is shown as typed, quoted (repr), in every language.
    if any(c in value for c in '\r\n<>,;"') or "=?" in value:
        raise SubscriberError(N_("%(address)s is not a single plain address"), address=repr(value))
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        # The validator's reason is English: it is shown on English pages and in the log.
        raise SubscriberError(
            N_("%(address)s is not a valid address"), detail=str(exc), address=repr(value)
        ) from exc
    if not result.local_part.isascii():
        # The part before @ would need SMTPUTF8 from every relay on the way; issues are sent
        # without it, so such an address could never receive one: refuse it now, clearly.
        raise SubscriberError(
            N_(
                "%(address)s is not an address this newsletter can send to: the part before @ "
                "must be ASCII (letters, digits and . _ + - and the like)"
            ),
            address=repr(value),
        )
    return f"{result.local_part.lower()}@{result.ascii_domain.lower()}"


# Bidirectional controls (Trojan Source, CVE-2021-42574) reorder what a reader sees: a name
# could show as another one. Joiners (U+200C, U+200D) stay: names in many scripts need them.
_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)], None
)


def clean_name(raw: str | None) -> str | None:
    """A display name: one line, no control characters (NUL would cut it short) nor bidi
    controls, no encoded-word syntax, at most 200 characters."""
    if not raw:
        return None
    visible = "".join(" " if unicodedata.category(c) == "Cc" else c for c in raw)
    name = " ".join(visible.translate(_BIDI_CONTROLS).replace("=?", "").split())[:200]
    return name or None


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A CSV cell that no spreadsheet runs as a formula (OWASP "CSV injection"): text that
    starts like a formula gets a leading apostrophe, which spreadsheets show as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


@dataclass
class AddResult:
    """What adding one address did."""

    email: str
    outcome: str  # added, updated, unchanged, suppressed


def _add(session: Session, email: str, name: str | None, source: str) -> AddResult:
    existing = subscribers.get_subscriber(session, email)
    if existing is None:
        subscribers.save_subscriber(
            session,
            Subscriber(
                email=email,
                name=name,
                status=SubscriberStatus.ACTIVE,
                token=new_token(),
                source=source,
                consent_at=utcnow(),
            ),
        )
        return AddResult(email, "added")
    if existing.status in SUPPRESSED:
        # Suppressed addresses stay suppressed: only a new confirmation may bring them back.
        return AddResult(email, "suppressed")
    if name and existing.name != name:
        existing.name = name
        existing.updated_at = utcnow()
        subscribers.save_subscriber(session, existing)
        return AddResult(email, "updated")
    return AddResult(email, "unchanged")


def add_subscriber(app: App, raw_email: str, name: str | None = None) -> AddResult:
    """Add (or update the name of) an active subscriber; suppressed addresses are not revived."""
    email = normalize_email(raw_email)
    with available_session(app.engine) as session:
        return _add(session, email, clean_name(name), "cli")


def remove_subscriber(app: App, raw_email: str) -> bool:
    """Unsubscribe an address (kept, suppressed); False when it was unknown."""
    email = normalize_email(raw_email)
    with available_session(app.engine) as session:
        sub = subscribers.get_subscriber(session, email)
        if sub is None:
            return False
        if sub.status != SubscriberStatus.UNSUBSCRIBED:
            sub.status = SubscriberStatus.UNSUBSCRIBED
            sub.unsubscribed_at = sub.updated_at = utcnow()
            subscribers.save_subscriber(session, sub)
        return True


def list_subscribers(app: App, status: str | None = None) -> list[Subscriber]:
    """Subscribers by address."""
    with available_session(app.engine) as session:
        return subscribers.list_subscribers(session, status)


@dataclass
class ImportReport:
    """What an import did, with each bad row's line number and reason."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0
    left: int = 0  # rows the export marks as unsubscribed, cleaned or disabled: not imported
    kind: str = "email,name"  # what the file looked like: "Mailchimp export", ...
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(
    app: App,
    path: Path,
    email_column: str | None = None,
    name_column: str | None = None,
    update_names: bool = False,
) -> ImportReport:
    """Import subscribers from a CSV: "email[,name]" rows, or an export with a header row
    (Mailchimp, Substack, Buttondown: columns found by their names, or given by name or
    number). Rows the export marks as gone (unsubscribed, cleaned, disabled) are not imported;
    existing subscribers keep their names unless ``update_names``. Bad rows are reported and
    skipped. Rows are written in batches of IMPORT_BATCH, each its own short transaction."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubscriberError(f"{path}: cannot read as UTF-8 CSV: {exc}") from exc
    report = ImportReport()
    seen: set[str] = set()
    batch: list[subscribers.ImportRow] = []
    rows = _csv_rows(text, report)
    opening = next(rows, None)
    if opening is None:
        return report
    try:
        columns = read_columns(opening[1], email_column, name_column)
    except ColumnError as exc:
        raise SubscriberError(f"{path}: {exc}") from exc
    report.kind = columns.kind
    for line, row in rows if columns.has_header else chain([opening], rows):
        gone = columns.left_reason(row)
        if gone is not None:
            report.left += 1
            continue
        address = row[columns.email].strip() if columns.email < len(row) else ""
        try:
            email = normalize_email(address)
        except SubscriberError as exc:
            report.errors.append((line, str(exc)))
            continue
        if email in seen:
            report.errors.append((line, f"{email} appears earlier in the file"))
            continue
        seen.add(email)
        batch.append(subscribers.ImportRow(email, clean_name(columns.name_of(row))))
        if len(batch) >= IMPORT_BATCH:
            _add_batch(app, path, line, batch, report, update_names)
            batch = []
    _add_batch(app, path, None, batch, report, update_names)
    return report


# Rows per transaction. SQLite has one writer: a batch holds the write lock for tens of
# milliseconds (measured: 40,000 rows in 81 batches, median 38 ms; docs/performance.md), and
# between batches the next rows are read and validated, so web writes (unsubscribes, clicks)
# wait milliseconds, not the whole import (PITFALLS: a long import in one transaction).
IMPORT_BATCH = 500


def _add_batch(
    app: App,
    path: Path,
    last_line: int | None,
    batch: list[subscribers.ImportRow],
    report: ImportReport,
    update_names: bool = False,
) -> None:
    """One short transaction per batch; a batch that met a concurrent subscribe of one of its
    addresses (a unique-key conflict) is run again, and finds that address existing. A
    database that stops taking writes (locked past the busy timeout, disk full) ends the import
    with DatabaseUnavailableError saying what is stored and that running it again is safe."""
    if not batch:
        return
    for attempt in (1, 2):
        try:
            with available_session(app.engine) as session:
                done = subscribers.add_subscribers(
                    session,
                    batch,
                    "import",
                    _tokens(),
                    SUPPRESSED,
                    utcnow(),
                    update_names,
                )
            break
        except IntegrityError:
            if attempt == 2:
                raise
        except DatabaseUnavailableError as exc:
            upto = f"line {last_line}" if last_line is not None else "the end of the file"
            raise DatabaseUnavailableError(
                f"{path}: import stopped before {upto}: {exc}. The {report.added} rows added "
                "before that are stored; run the same import again once the database takes "
                "writes (rows already there count as unchanged)"
            ) from exc
    report.added += done.added
    report.updated += done.updated
    report.unchanged += done.unchanged
    report.suppressed += done.suppressed


def _tokens() -> Iterator[str]:
    while True:
        yield new_token()


def _csv_rows(text: str, report: ImportReport) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of the non-blank rows; a row the csv module refuses (a field over its size
    limit, a NUL) is reported with its line and skipped."""
    reader = csv.reader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = f"not a CSV row this can read: {exc}"
            if "field larger than field limit" in str(exc):  # the csv module's 128 KB cap
                limit = csv.field_size_limit()
                problem = (
                    f"a field over {limit // 1024} KB ({limit:,} characters): not a subscriber row"
                )
            report.errors.append((reader.line_num, problem))
            continue
        if row and any(cell.strip() for cell in row):
            yield reader.line_num, row


def export_csv(app: App) -> str:
    """All subscribers as CSV: email, name, status, created_at (cells safe to open in a
    spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", "status", "created_at"])
    for sub in list_subscribers(app):
        writer.writerow(
            [
                spreadsheet_safe(sub.email),
                spreadsheet_safe(sub.name or ""),
                sub.status,
                sub.created_at.isoformat(),
            ]
        )
    return out.getvalue()
