"""Property tests (hypothesis) for the three places hostile input meets a policy: the HTML
sanitizer, the header builder and the date policy."""

from __future__ import annotations

import email.utils
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from html.parser import HTMLParser
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsletter.domain.text import clean_html
from newsletter.email.headers import safe_header_text
from newsletter.email.message import build_message
from newsletter.feeds.parse import _plausible, _published
from tests.email.test_mailer import PARTS, header_names

FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))

# ---- the sanitizer ----------------------------------------------------------------------------

TAGS = [
    "script",
    "form",
    "input",
    "a",
    "img",
    "iframe",
    "svg",
    "style",
    "p",
    "b",
    "math",
    "object",
    "embed",
    "button",
    "textarea",
    "base",
    "meta",
    "link",
    "SCRIPT",
    "ScRiPt",
]
ATTRIBUTES = [
    "href",
    "src",
    "onclick",
    "onerror",
    "onload",
    "onmouseover",
    "style",
    "action",
    "formaction",
    "xlink:href",
    "srcdoc",
    "ONCLICK",
    "title",
    "data",
]
VALUES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:x",
    "java\tscript:x",
    "&#106;avascript:x",
    "&#x6A;avascript:x",
    "data:text/html,<script>x</script>",
    "vbscript:x",
    "https://ok.example/",
    "display:none",
    'x" onclick="y',
    "'><script>",
]


@st.composite
def html_fragments(draw: Any) -> str:
    """Markup built from dangerous pieces, nested and sometimes left unclosed."""
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        tag = draw(st.sampled_from(TAGS))
        attrs = "".join(
            f' {draw(st.sampled_from(ATTRIBUTES))}="{draw(st.sampled_from(VALUES))}"'
            for _ in range(draw(st.integers(0, 3)))
        )
        inner = draw(
            st.sampled_from(
                [
                    "",
                    "text",
                    "alert(1)",
                    "<!--[if mso]>x<![endif]-->",
                    "<![CDATA[<script>]]>",
                    "&lt;script&gt;",
                    "<",
                ]
            )
        )
        close = draw(st.sampled_from([f"</{tag}>", "", "/>"]))
        parts.append(f"<{tag}{attrs}>{inner}{close}")
        parts.append(draw(st.text(max_size=5)))
    return "".join(parts)


ALLOWED = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "p",
    "br",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "sub",
    "sup",
    "h3",
    "h4",
    "h5",
    "h6",
}


class Markup(HTMLParser):
    """The elements, attributes and comments a browser or mail client would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


@FAST
@given(fragment=st.one_of(html_fragments(), st.text(max_size=200)))
def test_clean_html_never_lets_script_form_events_or_javascript_through(fragment: str) -> None:
    cleaned = clean_html(fragment)
    markup = Markup()
    markup.feed(cleaned)
    markup.close()
    assert markup.comments == [], (fragment, cleaned)  # Outlook conditionals included
    for tag, attrs in markup.tags:
        assert tag in ALLOWED, (tag, fragment, cleaned)  # no script, form, input, img, style
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (name, fragment, cleaned)
            if name in ("href", "src"):
                # Entities are decoded here, and controls and spaces dropped, as a browser
                # does (&#106;avascript: and java\tscript: are javascript:). A relative link
                # is harmless; any scheme must be http, https or mailto.
                url = re.sub(r"[\x00-\x20]", "", value or "").lower()
                scheme = url.split("/", 1)[0]
                if ":" in scheme:
                    assert url.startswith(("http:", "https:", "mailto:")), (fragment, cleaned)
    assert "<script" not in cleaned.lower() and "<form" not in cleaned.lower()


# ---- the header builder -----------------------------------------------------------------------

HEADER_PIECES = st.sampled_from(
    [
        *'\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\t,;:<>@"()[]\\=?_ ',
        "=?utf-8?q?Hello=0D=0ABcc:_victim@example.com?=",
        "=?utf-8?b?DQpCY2M6IHZAZS5jb20=?=",
        "=?",
        "?=",
        "=0D=0A",
        "\r\nBcc: victim@example.com",
        "\nTo: other@example.com",
        "Zhang, San",
        "张三",
        "Re: ",
        "a" * 80,
    ]
)
HEADER_TEXT = st.lists(st.one_of(HEADER_PIECES, st.text(max_size=6)), max_size=25).map("".join)
EXPECTED_HEADERS = header_names(build_message(PARTS))


def only_address(msg: Any, header: str, expected: str) -> None:
    addresses = msg[header].addresses
    assert [a.addr_spec for a in addresses] == [expected], (header, str(msg[header]))
    # What a receiver that splits the raw header on commas sees.
    assert [a for _, a in email.utils.getaddresses([str(msg[header])])] == [expected]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(subject=HEADER_TEXT, recipient=HEADER_TEXT, sender=HEADER_TEXT)
def test_header_text_can_never_add_a_header_or_a_recipient(
    subject: str, recipient: str, sender: str
) -> None:
    data = build_message(
        replace(PARTS, subject=subject, recipient_name=recipient, sender_name=sender)
    )
    assert header_names(data) == EXPECTED_HEADERS
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b"")
    msg = message_from_bytes(data, policy=policy.default)
    only_address(msg, "To", PARTS.recipient_email)
    only_address(msg, "From", PARTS.sender_email)
    assert msg["Bcc"] is None and msg["Cc"] is None
    for value in (str(msg["Subject"]), msg["To"].addresses[0].display_name):
        assert not any(c in value for c in "\r\n\x00\u2028\u2029")


@FAST
@given(value=HEADER_TEXT)
def test_safe_header_text_is_one_line_without_encoded_words(value: str) -> None:
    cleaned = safe_header_text(value)
    assert "=?" not in cleaned and cleaned == cleaned.strip()
    assert cleaned.splitlines() in ([], [cleaned])
    assert len(cleaned) <= 300


# ---- the date policy --------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)


@st.composite
def date_strings(draw: Any) -> str:
    year = draw(st.integers(-5, 12000))
    month, day = draw(st.integers(0, 14)), draw(st.integers(0, 33))
    hour, minute = draw(st.integers(0, 25)), draw(st.integers(0, 61))
    shapes = [
        f"{year:04d}-{month:02d}-{day:02d}",
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00",
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:00 CST",
        f"{year}年{month}月{day}日 {hour}:{minute:02d}",
        f"Fri, {day:02d} Mar {year} {hour:02d}:{minute:02d}:00 GMT",
        f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+08:00",
    ]
    return draw(st.sampled_from(shapes))


@FAST
@given(
    raw=st.one_of(date_strings(), st.text(max_size=40)),
    parsed=st.one_of(
        st.none(),
        st.tuples(
            st.integers(-10, 20000),
            *[st.integers(0, 60)] * 5,
            st.integers(0, 6),
            st.integers(0, 366),
            st.integers(0, 1),
        ),
    ),
    language=st.sampled_from(["en", "zh", "zh-cn"]),
    zone=st.sampled_from([None, "Asia/Shanghai", "America/New_York", "Pacific/Kiritimati"]),
)
def test_published_is_never_before_1995_or_after_two_days_from_now(
    raw: str, parsed: tuple[int, ...] | None, language: str, zone: str | None
) -> None:
    from zoneinfo import ZoneInfo

    entry = {"published": raw, "published_parsed": parsed}
    value, note = _published(entry, language, NOW, ZoneInfo(zone) if zone else None)
    assert (value is None) == (note is not None)  # an unknown date always says why
    if value is not None:
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert EARLIEST <= value <= NOW + timedelta(days=2)


@FAST
@given(
    value=st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-12))]
        )
    )
)
def test_plausible_is_a_window(value: datetime) -> None:
    kept = _plausible(value, NOW)
    assert kept is None or EARLIEST <= kept <= NOW + timedelta(days=2)
    if EARLIEST <= value <= NOW + timedelta(days=2):
        assert kept == value
