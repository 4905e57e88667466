"""Bounce rules: a DSN's action and status give the kind; a kind and the recent soft bounces
decide suppression."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsletter.domain.bounces import (
    BounceKind,
    SoftBouncePolicy,
    kind_for_dsn,
    should_suppress,
    status_code,
)


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        ("failed", "5.1.1", "", BounceKind.HARD),  # bad mailbox
        ("failed", "5.1.10", "", BounceKind.HARD),  # Exchange: recipient not found
        ("failed", "5.0.0", "550 No such user here", BounceKind.HARD),  # Exim
        # Postfix's own configuration error (captured): not about the address.
        ("failed", "5.0.0", "X-Postfix; [127.0.0.1]:2525", BounceKind.SOFT),
        ("failed", "5.0.0", "smtp; 554 5.0.0 Service unavailable", BounceKind.SOFT),
        ("failed", "5.2.1", "", BounceKind.HARD),  # mailbox disabled
        ("failed", "5.2.2", "mailbox full", BounceKind.SOFT),
        ("failed", "5.7.1", "550 5.7.1 message rejected as spam", BounceKind.SOFT),
        ("failed", "4.4.7", "", BounceKind.SOFT),  # expired in the queue
        ("delayed", "4.2.2", "", BounceKind.SOFT),
        ("Failed", None, "smtp; 550 5.1.1 user unknown", BounceKind.HARD),  # code in the text
        ("failed", None, "550 Mailbox not found or access denied", BounceKind.HARD),  # QQ
        ("failed", None, "550 收件人不存在", BounceKind.HARD),
        ("failed", None, "554 rejected", BounceKind.SOFT),
        ("delivered", "2.0.0", "", None),
        ("relayed", "2.0.0", "", None),
        ("expanded", "2.0.0", "", None),
    ],
)
def test_kind_for_dsn(
    action: str, status: str | None, diagnostic: str, kind: BounceKind | None
) -> None:
    assert kind_for_dsn(action, status, diagnostic) == kind


def test_status_code_is_the_first_enhanced_code() -> None:
    assert status_code("smtp; 550-5.1.1 The email account ... 550 5.1.1") == "5.1.1"
    assert status_code("550 no code here 127.0.0.1") is None


def test_suppression_policy() -> None:
    rule = SoftBouncePolicy(threshold=3, window=timedelta(days=30))
    for kind in (BounceKind.HARD, BounceKind.COMPLAINT, BounceKind.UNSUBSCRIBE):
        assert should_suppress(kind, 0, rule)
    assert [should_suppress(BounceKind.SOFT, n, rule) for n in (1, 2, 3, 4)] == [
        False,
        False,
        True,
        True,
    ]
