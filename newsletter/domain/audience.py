"""Reading other tools' audience exports: which column holds the address, the name (or first
and last name), and whether a row is a reader who already left. Pure: cells in, decisions out.

Recognised by their header rows: Mailchimp ("Email Address", "First Name", "Last Name",
"UNSUB_TIME", "CLEAN_TIME"), Substack ("email", "name", "email_disabled"), Buttondown
("email", "subscriber_type", "notes") and a plain "email,name" file. A file without a header
row is read as "email[,name]"."""

from __future__ import annotations

from dataclasses import dataclass

EMAIL_HEADERS = ("email address", "email", "e-mail", "e-mail address", "email_address", "邮箱")
NAME_HEADERS = ("name", "full name", "full_name", "姓名", "名字")
FIRST_HEADERS = ("first name", "first_name", "fname", "firstname")
LAST_HEADERS = ("last name", "last_name", "lname", "lastname")
# A non-empty cell in one of these columns means the reader left (Mailchimp's unsubscribed and
# cleaned exports carry the time; Substack marks disabled addresses).
GONE_TIME_HEADERS = ("unsub_time", "clean_time")
DISABLED_HEADERS = ("email_disabled",)
STATUS_HEADERS = ("subscriber_type", "status")
GONE_STATUSES = frozenset(
    {"unsubscribed", "unsubscribe", "cleaned", "bounced", "removed", "spammy", "complained"}
)
TRUE_CELLS = frozenset({"true", "yes", "1", "y"})


class ColumnError(ValueError):
    """A column asked for by name or number is not in the file."""


@dataclass(frozen=True)
class Columns:
    """Where each field is in a row (0-based), and what kind of export it looks like."""

    email: int
    name: int | None = None
    first: int | None = None
    last: int | None = None
    gone: tuple[int, ...] = ()  # columns whose non-empty cell means "left"
    disabled: int | None = None
    status: int | None = None
    kind: str = "email,name"
    has_header: bool = False

    def name_of(self, row: list[str]) -> str | None:
        """The reader's name from the name column, or first and last name joined."""
        if self.name is not None:
            return _cell(row, self.name) or None
        first = _cell(row, self.first) if self.first is not None else ""
        last = _cell(row, self.last) if self.last is not None else ""
        if first and last and _cjk(first) and _cjk(last):
            return last + first  # 王 + 芳: Chinese and Japanese names put the family name first
        return " ".join(p for p in (first, last) if p) or None

    def left_reason(self, row: list[str]) -> str | None:
        """Why the export says this reader left, or None for a reader still subscribed."""
        for index in self.gone:
            if _cell(row, index):
                return "unsubscribed or cleaned in the export"
        if self.disabled is not None and _cell(row, self.disabled).lower() in TRUE_CELLS:
            return "email disabled in the export"
        if self.status is not None and _cell(row, self.status).lower() in GONE_STATUSES:
            return f"{_cell(row, self.status).lower()} in the export"
        return None


def _cjk(text: str) -> bool:
    return all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    folded = [h.strip().lower() for h in header]
    for name in names:  # in order of preference
        if name in folded:
            return folded.index(name)
    return None


def _pick(header: list[str], wanted: str, what: str) -> int:
    """A column named by its header (any case) or by its 1-based number."""
    if wanted.strip().isdigit():
        index = int(wanted) - 1
        if 0 <= index < max(len(header), 1):
            return index
        raise ColumnError(f"no column {wanted} for the {what}: the file has {len(header)}")
    folded = [h.strip().lower() for h in header]
    if wanted.strip().lower() in folded:
        return folded.index(wanted.strip().lower())
    shown = ", ".join(repr(h) for h in header[:12])
    raise ColumnError(f"no column {wanted!r} for the {what}; the header row has {shown}")


def read_columns(
    first_row: list[str], email_column: str | None = None, name_column: str | None = None
) -> Columns:
    """The columns of a file whose first row is ``first_row``: a recognised header row, or
    none (then "email[,name]"). ``email_column`` and ``name_column`` (a header or a 1-based
    number) override what is recognised."""
    folded = [cell.strip().lower() for cell in first_row]
    email = _find(first_row, EMAIL_HEADERS)
    # A header row: known column names, or a first row with no address in it (every data row
    # has one); overrides by name refer to a header row too.
    named = any(c is not None and not c.strip().isdigit() for c in (email_column, name_column))
    has_header = email is not None or named or not any("@" in cell for cell in first_row)
    if not has_header:
        # No header row: "email[,name]", or the columns given by number.
        email_at = _pick(first_row, email_column, "address") if email_column else 0
        name_at = _pick(first_row, name_column, "name") if name_column else 1
        return Columns(email=email_at, name=name_at)
    if email_column is not None:
        email = _pick(first_row, email_column, "address")
    elif email is None:
        email = _find(first_row, ("address",))
    if email is None:
        raise ColumnError(
            "the header row names no address column (Email Address, email, ...); "
            "pass --email-column NAME"
        )
    name = _pick(first_row, name_column, "name") if name_column is not None else None
    first = last = None
    if name is None:
        name = _find(first_row, NAME_HEADERS)
        if name is None:
            first, last = _find(first_row, FIRST_HEADERS), _find(first_row, LAST_HEADERS)
    gone = tuple(i for i, h in enumerate(folded) if h in GONE_TIME_HEADERS)
    disabled = _find(first_row, DISABLED_HEADERS)
    status = _find(first_row, STATUS_HEADERS)
    if "email address" in folded or gone or "member_rating" in folded:
        kind = "Mailchimp export"
    elif disabled is not None:
        kind = "Substack export"
    elif "subscriber_type" in folded:
        kind = "Buttondown export"
    else:
        kind = "CSV with a header row"
    return Columns(email, name, first, last, gone, disabled, status, kind, has_header=True)


__all__ = ["ColumnError", "Columns", "read_columns"]
