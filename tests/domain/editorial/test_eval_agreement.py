"""bench/eval_agreement.py: the second blind labelling of the test split, and the agreement
figures computed from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bench_module

ROOT = Path(__file__).resolve().parents[3]
LABELS = ROOT / "tests" / "data" / "labels"
SECTIONS = {"hot_topics", "headlines", "financing", "events", "industry", "report"}


def _module() -> Any:
    return bench_module("eval_agreement")


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_the_second_labelling_covers_exactly_the_test_split() -> None:
    first = {
        (row["file"], row["link"])
        for path in LABELS.glob("*.jsonl")
        for row in _rows(path)
        if row["split"] == "test"
    }
    second = _rows(LABELS / "second_opinion" / "test_split.jsonl")
    assert {(row["file"], row["link"]) for row in second} == first
    assert len(second) == len(first)
    for row in second:
        assert (row["section"] is None) == (not row["relevant"])
        assert row["section"] is None or row["section"] in SECTIONS
        assert (row["reason_if_not_relevant"] is None) == row["relevant"]
        assert isinstance(row["financing"], bool) and isinstance(row["event"], bool)


def test_kappa_and_precision_recall_on_known_values() -> None:
    module = _module()
    # 10 items: both say yes on 3, both no on 5, one each way on the last 2.
    a = [True] * 3 + [False] * 5 + [True, False]
    b = [True] * 3 + [False] * 5 + [False, True]
    raw, kappa = module.kappa(a, b)
    assert raw == pytest.approx(0.8)
    # chance agreement: 0.4 * 0.4 + 0.6 * 0.6 = 0.52 -> (0.8 - 0.52) / 0.48
    assert kappa == pytest.approx(0.28 / 0.48)
    assert module.kappa(a, a) == (1.0, 1.0)
    assert module.precision_recall(b, a) == (pytest.approx(0.75), pytest.approx(0.75))
    assert module.precision_recall([False] * 10, a) == (0.0, 0.0)


@pytest.mark.corpus
@pytest.mark.slow
def test_the_report_counts_every_test_item_and_gives_the_documented_agreement() -> None:
    if not (ROOT.parent / "shared" / "corpus" / "wechat" / "feeds").is_dir():
        pytest.skip("the corpus is not checked out at ../shared/corpus")
    module = _module()
    result = module.report(module.rows())
    # Every test item is found in its feed and read; the labellers' figures are the ones
    # docs/labelling.md quotes (they do not depend on the reading).
    assert result["items"] == 1200
    assert result["relevant"] == {"first": 310, "second": 306}
    assert result["both_relevant"] == 303
    assert (result["relevance_agreement"], result["relevance_kappa"]) == (0.992, 0.978)
    assert result["section_agreement_of_labellers"] == 0.937
    assert result["facts"]["financing"] == {
        "first": 79, "second": 76, "agreement": 0.998, "kappa": 0.979
    }  # fmt: skip
    assert result["facts"]["event"] == {
        "first": 68,
        "second": 65,
        "agreement": 0.991,
        "kappa": 0.912,
    }
    for key in ("reading_vs_first", "reading_vs_second", "reading_vs_consensus"):
        assert 0 < result[key]["precision"] <= 1 and 0 < result[key]["recall"] <= 1
    assert result["reading_vs_consensus"]["items"] == 1190
