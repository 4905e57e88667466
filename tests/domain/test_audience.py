"""Which columns of an audience export hold the address and the name, and who already left."""

from __future__ import annotations

import pytest

from newsletter.domain.audience import ColumnError, read_columns

MAILCHIMP = ["Email Address", "First Name", "Last Name", "Address", "UNSUB_TIME", "MEMBER_RATING"]


def test_a_file_without_a_header_is_email_then_name() -> None:
    columns = read_columns(["reader@example.com", "Reader"])
    assert (columns.email, columns.has_header, columns.kind) == (0, False, "email,name")
    assert columns.name_of(["a@example.com", " Ann "]) == "Ann"
    assert columns.name_of(["a@example.com"]) is None


def test_mailchimp_headers_are_found_by_name_not_position() -> None:
    columns = read_columns(MAILCHIMP)
    assert columns.kind == "Mailchimp export" and columns.has_header
    assert columns.email == 0  # "Email Address", not the postal "Address"
    row = ["ana@example.com", "Ana", "Ruiz", "12 Calle Mayor", "", "3"]
    assert columns.name_of(row) == "Ana Ruiz"
    assert columns.name_of(["w@example.cn", "芳", "王", "", "", ""]) == "王芳"
    assert columns.left_reason(row) is None
    assert columns.left_reason([*row[:4], "2024-12-01 07:00:00", "2"]) is not None


@pytest.mark.parametrize(
    ("header", "row", "left"),
    [
        (["email", "name", "email_disabled"], ["a@x.org", "A", "true"], True),
        (["email", "name", "email_disabled"], ["a@x.org", "A", "false"], False),
        (["email", "subscriber_type"], ["a@x.org", "unsubscribed"], True),
        (["email", "subscriber_type"], ["a@x.org", "regular"], False),
        (["email", "subscriber_type"], ["a@x.org", "spammy"], True),
    ],
)
def test_readers_who_left_are_recognised(header: list[str], row: list[str], left: bool) -> None:
    assert (read_columns(header).left_reason(row) is not None) is left


def test_columns_given_by_name_or_number() -> None:
    header = ["Contact", "Mail", "Who"]
    columns = read_columns(header, email_column="mail", name_column="3")
    assert (columns.email, columns.name, columns.has_header) == (1, 2, True)
    headerless = read_columns(["x", "a@example.com", "A"], email_column="2", name_column="3")
    assert (headerless.email, headerless.name, headerless.has_header) == (1, 2, False)
    with pytest.raises(ColumnError, match="no column 'email2' for the address"):
        read_columns(["email", "name"], email_column="email2")
    with pytest.raises(ColumnError, match="no column 9 for the name"):
        read_columns(["email", "name"], name_column="9")
    with pytest.raises(ColumnError, match="names no address column"):
        read_columns(["name", "phone"])
