"""The error hierarchy's own behaviour (newsletter/errors.py)."""

from __future__ import annotations

from newsletter.errors import SubscriberError


def test_a_subscriber_error_is_shown_in_the_pages_language_with_its_values() -> None:
    error = SubscriberError("not a valid address: %(address)s", address="a@b")
    catalog = {"not a valid address: %(address)s": "无效的邮箱地址：%(address)s"}
    assert error.in_language(lambda text: catalog.get(text, text)) == "无效的邮箱地址：a@b"
    assert str(error) == "not a valid address: a@b"


def test_a_translation_with_a_broken_placeholder_falls_back_to_english() -> None:
    """A translator's typo must not turn the error page into a server error."""
    error = SubscriberError("not a valid address: %(address)s", detail="no @", address="x")
    for broken in ("无效的邮箱地址：%(adress)s", "无效的邮箱地址：%(address)d", "无效 %"):
        assert error.in_language(lambda text, b=broken: b) == "not a valid address: x: no @"
