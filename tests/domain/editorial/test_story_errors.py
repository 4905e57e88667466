"""bench/story_errors.py: the missed and wrong story pairs of train and dev, never of test."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.conftest import bench_module


def _item(title: str, story: str | None, split: str = "train", relevant: bool = True) -> Any:
    module = bench_module("story_errors")
    label = {"split": split, "relevant": relevant, "story": story}
    return module.ReadItem(
        label, "wechat_week.jsonl", title, "", None, date(2030, 6, 14), "industry", {}
    )


def test_missed_and_wrong_pairs_come_from_the_real_clustering() -> None:
    module = bench_module("story_errors")
    read = [
        _item("甲乙制药PD-1新适应症获批：一线治疗鼻咽癌", "jiayi-pd1"),
        _item("甲乙制药PD-1新适应症获批，一线治疗鼻咽癌", "jiayi-pd1"),  # found
        _item("鼻咽癌一线新选择：国产PD-1再下一城", "jiayi-pd1"),  # reworded: missed
        _item("某医院开展义诊活动", None),
        _item("某医院开展义诊活动！", None),  # unlabelled duplicate: a "wrong" pair
        _item("丙丁生物完成B轮融资", "bingding-b", split="dev"),  # another split
        _item("与此无关", "jiayi-pd1", relevant=False),  # not relevant: never counted
    ]
    errors = module.story_errors(read, "train")
    assert len(errors.items) == 5
    assert errors.labelled == {(0, 1), (0, 2), (1, 2)}
    assert errors.predicted == {(0, 1), (3, 4)}
    assert errors.missed == [(0, 2), (1, 2)]
    assert errors.wrong == [(3, 4)]


def test_the_test_split_cannot_be_inspected() -> None:
    module = bench_module("story_errors")
    with pytest.raises(ValueError, match="test"):
        module.story_errors([_item("甲", None, split="test")], "test")
