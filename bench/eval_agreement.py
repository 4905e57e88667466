"""How far two blind labellers agree on the test split, and the reading against each of them.

The test split of tests/data/labels was labelled a second time, blind and independently, by
another labeller who read only the written rules and the items
(tests/data/labels/second_opinion/test_split.jsonl: relevance, section, reason, and whether the
title announces a financing round or an event). This prints:

- the two labellers' agreement (raw and Cohen's kappa) on relevance, on the section of items
  both call relevant, and on financing and event items: the ceiling the targets of the reading
  should be read against;
- the reading's precision, recall and section agreement against the first labels, the second
  labels, and the items where both agree.

Needs ../shared/corpus (the texts); run `python bench/eval_agreement.py`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reading_corpus import LABELS, SHARED, SNAPSHOT, LabelledText, labelled_texts

from newsletter.config import load_config
from newsletter.domain.editorial.classify import FeedRules
from newsletter.learning.store import shipped_path
from newsletter.service.reading import read_feed_items, reading_rules

REPO = Path(__file__).resolve().parents[1]
SECOND = LABELS / "second_opinion" / "test_split.jsonl"


@dataclass(frozen=True)
class Row:
    first: dict[str, Any]
    second: dict[str, Any]
    kept: bool
    suggested: str


def _section(label: dict[str, Any]) -> str | None:
    section = label.get("section")
    return "reports" if section == "report" else section


def precision_recall(predicted: Sequence[bool], gold: Sequence[bool]) -> tuple[float, float]:
    tp = sum(p and g for p, g in zip(predicted, gold, strict=True))
    fp = sum(p and not g for p, g in zip(predicted, gold, strict=True))
    fn = sum(g and not p for p, g in zip(predicted, gold, strict=True))
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0)


def kappa(a: Sequence[bool], b: Sequence[bool]) -> tuple[float, float]:
    """(raw agreement, Cohen's kappa) of two yes/no labellings."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return observed, (observed - expected) / (1 - expected) if expected < 1 else 1.0


def rows() -> list[Row]:
    second = {
        (d["file"], d["link"]): d
        for d in map(json.loads, SECOND.read_text(encoding="utf-8").splitlines())
    }
    config = load_config(REPO / "feeds.yaml")
    rules = reading_rules(config, shipped_path())
    by_feed: dict[tuple[str, str], list[LabelledText]] = defaultdict(list)
    for item in labelled_texts():
        if isinstance(item, LabelledText) and item.label["split"] == "test":
            by_feed[(item.label_file, item.feed_file)].append(item)
    out = []
    for items in by_feed.values():
        feed = FeedRules(items[0].feed_title, "industry")
        texts = [(i.title, i.summary, i.language, i.published or SNAPSHOT) for i in items]
        readings = read_feed_items(rules, feed, texts, config.newsletter.tz)
        for item, reading in zip(items, readings, strict=True):
            other = second[(item.feed_file, item.label["link"])]
            out.append(Row(item.label, other, reading.section is not None, reading.suggested or ""))
    return out


def report(data: list[Row]) -> dict[str, Any]:
    first = [bool(r.first["relevant"]) for r in data]
    second = [bool(r.second["relevant"]) for r in data]
    kept = [r.kept for r in data]
    raw, k = kappa(first, second)
    both = [r for r in data if r.first["relevant"] and r.second["relevant"]]
    same_section = [r for r in both if _section(r.first) == _section(r.second)]
    consensus = [i for i in range(len(data)) if first[i] == second[i]]

    def sections(subset: list[Row], which: str) -> float:
        got = [r.suggested == _section(getattr(r, which)) for r in subset]
        return round(sum(got) / len(got), 3) if got else 0.0

    def reading(gold: Sequence[bool], idx: Sequence[int]) -> dict[str, float]:
        p, r = precision_recall([kept[i] for i in idx], [gold[i] for i in idx])
        return {"precision": round(p, 3), "recall": round(r, 3)}

    everything = range(len(data))
    facts = {}
    for fact in ("financing", "event"):
        a = [bool(r.first.get(fact)) for r in data]
        b = [bool(r.second.get(fact)) for r in data]
        facts[fact] = {"first": sum(a), "second": sum(b), "agreement": round(kappa(a, b)[0], 3)}
        facts[fact]["kappa"] = round(kappa(a, b)[1], 3)
    return {
        "items": len(data),
        "relevant": {"first": sum(first), "second": sum(second)},
        "relevance_agreement": round(raw, 3),
        "relevance_kappa": round(k, 3),
        "section_agreement_of_labellers": round(len(same_section) / len(both), 3),
        "both_relevant": len(both),
        "facts": facts,
        "reading_vs_first": {**reading(first, everything), "sections": sections(both, "first")},
        "reading_vs_second": {**reading(second, everything), "sections": sections(both, "second")},
        "reading_vs_consensus": {
            **reading(first, consensus),
            "items": len(consensus),
            "sections": sections(same_section, "first"),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"eval_agreement: corpus not found at {SHARED} (check out ../shared/corpus)")
    result = report(rows())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"test split, {result['items']} items labelled twice, blind")
    print(
        f"relevance: labellers agree on {result['relevance_agreement']:.3f} "
        f"(kappa {result['relevance_kappa']:.3f}); relevant {result['relevant']['first']} / "
        f"{result['relevant']['second']}"
    )
    print(
        f"sections of the {result['both_relevant']} items both call relevant: labellers agree "
        f"on {result['section_agreement_of_labellers']:.3f}"
    )
    for fact, f in result["facts"].items():
        print(
            f"{fact}: {f['first']} / {f['second']} items, agreement {f['agreement']:.3f} "
            f"(kappa {f['kappa']:.3f})"
        )
    for name in ("first", "second", "consensus"):
        r = result[f"reading_vs_{name}"]
        print(
            f"reading against the {name} labels: precision {r['precision']:.3f} recall "
            f"{r['recall']:.3f} sections {r['sections']:.3f}"
        )


if __name__ == "__main__":
    main()
