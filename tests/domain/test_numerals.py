"""Chinese numerals read as whole numbers (newsletter/domain/numerals.py)."""

from __future__ import annotations

import pytest

from newsletter.domain.numerals import chinese_number


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("五", 5),
        ("十", 10),
        ("十五", 15),
        ("二十", 20),
        ("三十一", 31),
        ("五千万", 50_000_000),
        ("三千五百万", 35_000_000),
        ("一亿两千万", 120_000_000),
        ("两亿五千万", 250_000_000),
        ("一百二十亿", 12_000_000_000),
        ("十亿", 1_000_000_000),
        ("三点五亿", 350_000_000),
        ("一千零五万", 10_050_000),
    ],
)
def test_a_run_of_numerals_is_one_number(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


@pytest.mark.parametrize("numeral", ["五五万", "点五亿", "三点五", "数千万", "零", ""])
def test_what_is_no_number(numeral: str) -> None:
    assert chinese_number(numeral) is None
