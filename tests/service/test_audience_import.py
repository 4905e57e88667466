"""Importing other services' audience exports (tests/data/audience, see its README) into a
real database: columns by their names, names kept, readers who left not brought back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from newsletter.errors import SubscriberError
from newsletter.service.subscribers import add_subscriber, import_csv, list_subscribers

DATA = Path(__file__).resolve().parents[1] / "data" / "audience"


def names(app: Any) -> dict[str, str | None]:
    return {s.email: s.name for s in list_subscribers(app)}


def test_mailchimp_export_imports_with_names(make_app: Any) -> None:
    app = make_app()
    report = import_csv(app, DATA / "mailchimp_subscribed.csv")
    assert report.kind == "Mailchimp export"
    assert (report.added, report.left) == (3, 0)
    assert [line for line, _ in report.errors] == [5]  # "not-an-address", with its line
    assert names(app) == {
        "ana.ruiz@example.com": "Ana Ruiz",
        "wang.fang@example.cn": "王芳",
        "no.name@example.org": None,
    }
    left = import_csv(app, DATA / "mailchimp_unsubscribed.csv")
    assert (left.added, left.left) == (0, 1)
    assert "left.reader@example.com" not in names(app)


def test_substack_and_buttondown_exports(make_app: Any) -> None:
    app = make_app()
    substack = import_csv(app, DATA / "substack.csv")
    assert (substack.kind, substack.added, substack.left) == ("Substack export", 2, 1)
    buttondown = import_csv(app, DATA / "buttondown.csv")
    assert (buttondown.kind, buttondown.added, buttondown.left) == ("Buttondown export", 1, 2)
    assert names(app) == {
        "sam@example.com": "Sam Carter",
        "paid.reader@example.com": "Doe, Jane",
        "bt.one@example.com": None,
    }


def test_reimport_keeps_names_unless_asked(make_app: Any, tmp_path: Path) -> None:
    app = make_app()
    add_subscriber(app, "ana.ruiz@example.com", "Ana R. (editor's note)")
    report = import_csv(app, DATA / "mailchimp_subscribed.csv")
    assert report.unchanged == 1
    assert names(app)["ana.ruiz@example.com"] == "Ana R. (editor's note)"
    again = import_csv(app, DATA / "mailchimp_subscribed.csv", update_names=True)
    assert again.updated == 1 and names(app)["ana.ruiz@example.com"] == "Ana Ruiz"


def test_columns_named_on_the_command_line(make_app: Any, tmp_path: Path) -> None:
    app = make_app()
    path = tmp_path / "crm.csv"
    path.write_text("Contact,Mail,Who\n1,a@example.com,Ann\n2,b@example.com,Bo\n", "utf-8")
    with pytest.raises(SubscriberError, match="names no address column"):
        import_csv(app, path)
    report = import_csv(app, path, email_column="Mail", name_column="Who")
    assert report.added == 2 and names(app) == {"a@example.com": "Ann", "b@example.com": "Bo"}
    with pytest.raises(SubscriberError, match=r"crm.csv: no column 'E-Mail-Adresse'"):
        import_csv(app, path, email_column="E-Mail-Adresse")
