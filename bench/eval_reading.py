"""Relevance and sections of the product's reading, measured on blind labels of real items.

The labels (tests/data/labels, rules in docs/labelling.md) cover 3,540 real items: the WeChat
healthcare week and the weeks before it (../shared/corpus/wechat) and the English and Chinese
feeds of ../shared/corpus/feeds, split by feed into train, dev and test. Each item is read
exactly as ingest reads it (newsletter.service.reading.read_feed_items: rules of the repository's
feeds.yaml, the shipped model, the feed prior), each feed with default section "industry".

Figures: relevance precision and recall (an item is kept when its reading has a section), and
section agreement on the items labelled relevant (the section the reading gives, or would give
had it kept the item). `make eval` prints them for dev (and train); `--test` adds the test split:
measure it once per change worth reporting, never tune on it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reading_corpus import SHARED, SNAPSHOT, LabelledText, labelled_texts

from newsletter.config import load_config
from newsletter.domain.editorial.classify import FeedRules
from newsletter.learning.store import shipped_path
from newsletter.service.reading import read_feed_items, reading_rules

REPO = Path(__file__).resolve().parents[1]
FEED_SECTION = "industry"


def evaluate(splits: tuple[str, ...], files: tuple[str, ...] = ()) -> dict[str, Any]:
    """Figures per split (and the model and counts they come from); ``files``: only these
    label files (all when empty)."""
    config = load_config(REPO / "feeds.yaml")
    rules = reading_rules(config, shipped_path())
    by_feed: dict[tuple[str, str], list[LabelledText]] = defaultdict(list)
    for item in labelled_texts():
        if (
            isinstance(item, LabelledText)
            and item.label["split"] in splits
            and (not files or item.label_file in files)
        ):
            by_feed[(item.label_file, item.feed_file)].append(item)
    counts: dict[str, Counter[str]] = {s: Counter() for s in splits}
    confusion: dict[str, Counter[tuple[str, str]]] = {s: Counter() for s in splits}
    for items in by_feed.values():
        feed = FeedRules(items[0].feed_title, FEED_SECTION)
        texts = [(i.title, i.summary, i.language, i.published or SNAPSHOT) for i in items]
        for item, reading in zip(
            items, read_feed_items(rules, feed, texts, config.newsletter.tz), strict=True
        ):
            c = counts[item.label["split"]]
            labelled = bool(item.label["relevant"])
            kept = reading.section is not None
            c["items"] += 1
            c["tp"] += kept and labelled
            c["fp"] += kept and not labelled
            c["fn"] += labelled and not kept
            section = item.label.get("section")
            if labelled and section:
                want = "reports" if section == "report" else section
                got = reading.suggested or ""
                c["compared"] += 1
                c["agree"] += got == want
                confusion[item.label["split"]][(want, got)] += 1
    result: dict[str, Any] = {"model": rules.model.version if rules.model else None}
    for split, c in counts.items():
        tp, fp, fn = c["tp"], c["fp"], c["fn"]
        result[split] = {
            "items": c["items"],
            "relevant": tp + fn,
            "kept": tp + fp,
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "section_agreement": round(c["agree"] / c["compared"], 3) if c["compared"] else None,
            "sections_compared": c["compared"],
            "confusion": {f"{w} -> {g}": n for (w, g), n in sorted(confusion[split].items())},
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="also measure the test split")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--confusion", action="store_true", help="print section confusions")
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        help="only this label file of tests/data/labels (repeatable), e.g. wechat_rest.jsonl",
    )
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"eval_reading: corpus not found at {SHARED} (check out ../shared/corpus)")
    splits = ("train", "dev") + (("test",) if args.test else ())
    result = evaluate(splits, tuple(args.file))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(
        f"reading of blind-labelled real items; model {result['model']}; feeds.yaml of the repo"
        + (f"; label files {', '.join(args.file)}" if args.file else "")
    )
    print(
        f"{'split':6} {'items':>6} {'relevant':>8} {'kept':>6} {'precision':>9} {'recall':>7} {'sections':>9}"
    )
    for split in splits:
        r = result[split]
        print(
            f"{split:6} {r['items']:>6} {r['relevant']:>8} {r['kept']:>6} "
            f"{r['precision'] or 0:>9.3f} {r['recall'] or 0:>7.3f} {r['section_agreement'] or 0:>9.3f}"
        )
        if args.confusion:
            for pair, n in result[split]["confusion"].items():
                print(f"    {pair:30} {n}")


if __name__ == "__main__":
    main()
