"""bench/event_errors.py: the missed, false and wrongly dated events of train and dev, never of
test."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.conftest import bench_module

PUBLISHED = date(2030, 6, 14)


def _item(
    title: str, event: dict[str, Any] | None, got: dict[str, Any] | None, split: str = "train"
) -> Any:
    module = bench_module("event_errors")
    label = {"split": split, "event": event, "file": "wechat__made-up.xml"}
    facts = {"event": got} if got else {}
    return module.ReadItem(label, "wechat_week.jsonl", title, "", None, PUBLISHED, "events", facts)


def test_errors_by_kind() -> None:
    module = bench_module("event_errors")
    found = {"start": "2030-06-20", "precision": "day"}
    read = [
        _item("医疗器械沙龙报名", {"date_text": "6月20日"}, found),  # right
        _item("某某邀您相聚", {"date_text": None}, None),  # missed
        _item("某某沙龙回顾", None, found),  # false
        _item("医药峰会6月21日", {"date_text": "6月21日"}, found),  # wrong date
        _item("另一个峰会", {"date_text": None}, None, split="dev"),  # another split
    ]
    errors = module.event_errors(read, "train")
    assert [i.title for i in errors["missed"]] == ["某某邀您相聚"]
    assert [i.title for i in errors["false"]] == ["某某沙龙回顾"]
    assert [i.title for i in errors["date"]] == ["医药峰会6月21日"]


def test_the_test_split_cannot_be_inspected() -> None:
    module = bench_module("event_errors")
    with pytest.raises(ValueError, match="test"):
        module.event_errors([_item("甲", None, None, split="test")], "test")
