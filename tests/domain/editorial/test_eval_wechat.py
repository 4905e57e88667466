"""bench/eval_wechat.py: the measurement of facts and stories on real items is complete and
well-formed.

Only structural truths that hold whatever the detectors do: (nearly) every label found in its feed,
counts equal to the label file's, every ratio within [0, 1]. No quality thresholds: the
figures themselves are reported in docs/editorial.md, not asserted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bench_module

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
LABELS = ROOT / "tests" / "data" / "labels"
CORPUS = ROOT.parent / "shared" / "corpus"


def _module() -> Any:
    """bench/eval_wechat.py (not a package), loaded by file path."""
    return bench_module("eval_wechat")


@pytest.fixture(scope="module")
def labels() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(LABELS.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        rows += [{**json.loads(line), "_file": path.name} for line in lines if line.strip()]
    return rows


@pytest.fixture(scope="module")
def result(labels: list[dict[str, Any]]) -> dict[str, Any]:
    if not (CORPUS / "wechat" / "feeds").is_dir():
        pytest.skip(f"the corpus is not checked out at {CORPUS}")
    figures: dict[str, Any] = _module().evaluate()
    return figures


def _split(labels: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    return labels if split == "all" else [row for row in labels if row["split"] == split]


def _floats(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _floats(inner, f"{path}.{key}")
    elif isinstance(value, float):
        yield path, value


def test_every_label_is_matched_to_a_parsed_entry(
    labels: list[dict[str, Any]], result: dict[str, Any]
) -> None:
    # One English item's link is no longer in its feed file: it is reported, not hidden.
    assert len(result["unmatched"]) <= 1
    assert result["labels"] == result["matched"] + len(result["unmatched"]) == len(labels)


@pytest.mark.parametrize("split", ["train", "dev", "test", "all"])
def test_counts_equal_the_label_file(
    labels: list[dict[str, Any]], result: dict[str, Any], split: str
) -> None:
    unmatched = set(result["unmatched"])
    rows = [r for r in _split(labels, split) if f"{r['file']} {r['link']}" not in unmatched]
    figures = result["splits"][split]
    relevant = [row for row in rows if row["relevant"]]
    assert figures["items"] == figures["relevance"]["included"] == len(rows)
    assert figures["relevance"]["by_reason_count"] == dict(
        Counter(row["reason_if_not_relevant"] for row in rows if not row["relevant"])
    )
    assert figures["financing"]["labelled_any"] == sum(1 for row in rows if row["financing"])
    assert figures["events"]["labelled"] == sum(1 for row in rows if row["event"])
    assert (
        figures["sections"]["relevant"] == figures["stories_every_file"]["items"] == len(relevant)
    )
    # Story pairs are measured on the files labelled for stories (the others carry no key).
    story_files = {row["_file"] for row in labels if row["story"]}
    assert story_files == set(_module().STORY_LABEL_FILES)
    assert figures["stories"]["items"] == sum(1 for r in relevant if r["_file"] in story_files)
    assert sum(sum(r.values()) for r in figures["sections"]["confusion"].values()) == len(relevant)
    stories = Counter((row["_file"], row["story"]) for row in relevant if row["story"])
    assert figures["stories"]["labelled_pairs"] == sum(n * (n - 1) // 2 for n in stories.values())
    for measure in ("financing.any", "financing.healthcare", "events", "stories"):
        counts = figures
        for key in measure.split("."):
            counts = counts[key]
        assert min(counts["tp"], counts["fp"], counts["fn"]) >= 0


def test_splits_add_up(result: dict[str, Any]) -> None:
    train, dev, test, both = (result["splits"][s] for s in ("train", "dev", "test", "all"))
    assert train["items"] + dev["items"] + test["items"] == both["items"]
    for key in ("tp", "fp", "fn"):
        financing = [split["financing"]["any"][key] for split in (train, dev, test, both)]
        assert financing[0] + financing[1] + financing[2] == financing[3]
        parts = train["events"][key] + dev["events"][key] + test["events"][key]
        assert parts == both["events"][key]


def test_every_figure_is_a_share(result: dict[str, Any]) -> None:
    floats = list(_floats(result["splits"]))
    assert floats
    outside = [(path, value) for path, value in floats if not 0.0 <= value <= 1.0]
    assert outside == []


def test_pairs_helper_counts_every_pair_once() -> None:
    pairs = _module()._pairs([[3, 1, 2], [7], [5, 4]])
    assert pairs == set(combinations([1, 2, 3], 2)) | {(4, 5)}
