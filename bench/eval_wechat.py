"""Measure the editorial reading on real WeChat items against blind hand labels.

The labels are tests/data/labels/wechat_week.jsonl (1,541 items of one week, labelled from
titles under tests/data/labels/RULES.md without looking at the code, split by feed into dev and
test). Each labelled item is parsed from its feed file in ../shared/corpus/wechat/feeds with
the product's parser and read exactly as ingest reads it; the figures compare that reading with
the labels: the off-topic share of an issue (there is no relevance filter yet, so every item is
included), financing and event detection, sections, and story clustering.

`make eval-wechat` runs it; `--json` prints the figures as JSON. Figures go in docs/editorial.md
("Measured on real feeds"). This script measures; it changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import combinations
from pathlib import Path
from typing import Any

from newsletter.config import Config, load_config
from newsletter.domain.editorial.classify import FeedRules
from newsletter.domain.editorial.clusters import StoryInput, cluster_ids, financing_key
from newsletter.feeds.parse import parse_feed
from newsletter.learning.store import shipped_path
from newsletter.service.reading import read_feed_items, reading_rules

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "data" / "labels" / "wechat_week.jsonl"
CORPUS = REPO.parent / "shared" / "corpus" / "wechat" / "feeds"
FEEDS_YAML = REPO / "feeds.yaml"
SPLITS = ("train", "dev", "test", "all")

# The section a healthcare editor would subscribe these accounts under: the default section of
# the closest feed in feeds.yaml, 健康界 (Chinese healthcare-industry news), which is "industry".
FEED_SECTION = "industry"
# The corpus snapshot (2021-06-19, China time) stands in for "now", so the parser's
# "no dates from the future" check and the results do not depend on the day this runs.
SNAPSHOT = datetime(2021, 6, 20, tzinfo=timezone(timedelta(hours=8)))

# RULES.md writes rounds as the titles do; the product normalises them (financing.ROUNDS).
# "新一轮" (a round without a letter) is the product's "undisclosed". Anything else is compared
# lower-cased, so "A/A+", "A++" or "D1" (kept as written by the labeller) can never match.
_LABEL_ROUND = {"天使": "angel", "种子": "seed", "战略": "strategic", "新一轮": "undisclosed"}
# Label sections are RULES.md's names; the product's in-depth section is "reports".
_LABEL_SECTION = {"report": "reports"}


@dataclass(frozen=True)
class ReadItem:
    """One labelled item next to the product's reading of it."""

    label: dict[str, Any]
    title: str
    summary: str
    url: str | None
    section: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class Corpus:
    """The labelled items that were found in their feed, and the labels that were not."""

    items: list[ReadItem]
    unmatched: list[dict[str, Any]]


def load_labels(path: Path = LABELS) -> list[dict[str, Any]]:
    """The label rows, in file order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_corpus(labels: Sequence[dict[str, Any]], corpus: Path, config: Config) -> Corpus:
    """Parse every feed a label refers to and read each labelled entry as ingest does
    (newsletter.service.ingest._item_rows and newsletter.service.reading.read)."""
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for label in labels:
        by_file[label["file"]].append(label)
    items: list[ReadItem] = []
    unmatched: list[dict[str, Any]] = []
    rules = reading_rules(config, shipped_path())
    for name, file_labels in sorted(by_file.items()):
        parsed = parse_feed(
            (corpus / name).read_bytes(), url=f"file:///{name}", language="zh", now=SNAPSHOT
        )
        feed_name = parsed.title.removesuffix(" | wechat-feeds") or name
        entries = {entry.url: entry for entry in parsed.entries}
        found = [(label, entries.get(label["link"])) for label in file_labels]
        unmatched += [label for label, entry in found if entry is None]
        pairs = [(label, entry) for label, entry in found if entry is not None]
        # Read as ingest reads a feed: all its entries together (the feed prior), the shipped
        # model; the section is the one the reading gives or, for a left-out item, would give.
        readings = read_feed_items(
            rules,
            FeedRules(feed_name, FEED_SECTION),
            [(e.title, e.summary_text, "zh", e.published or SNAPSHOT) for _, e in pairs],
            config.newsletter.tz,
        )
        for (label, entry), reading in zip(pairs, readings, strict=True):
            items.append(
                ReadItem(
                    label,
                    entry.title,
                    entry.summary_text,
                    entry.url,
                    reading.suggested or FEED_SECTION,
                    reading.facts,
                )
            )
    return Corpus(items, unmatched)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def _rounds(label: dict[str, Any]) -> list[dict[str, Any]]:
    value = label["financing"]
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _name(text: str | None) -> str:
    """Company names compared after NFKC, whitespace collapsed and case folded."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def _label_round(text: str) -> str:
    return _LABEL_ROUND.get(text, text.lower())


def _relevance(items: Sequence[ReadItem]) -> dict[str, Any]:
    off = [i.label["reason_if_not_relevant"] for i in items if not i.label["relevant"]]
    reasons = Counter(off)
    return {
        "included": len(items),
        "off_topic": len(off),
        "off_topic_share": _ratio(len(off), len(items)),
        "by_reason": {r: _ratio(n, len(items)) for r, n in sorted(reasons.items())},
        "by_reason_count": dict(sorted(reasons.items())),
    }


def _financing(items: Sequence[ReadItem]) -> dict[str, Any]:
    any_tp = any_fp = any_fn = hc_tp = hc_fp = hc_fn = 0
    round_ok = amount_present_ok = amount_text_ok = company_ok = company_n = 0
    for item in items:
        got = item.facts.get("financing")
        rounds = _rounds(item.label)
        healthcare = any(r.get("healthcare") for r in rounds)
        if got and healthcare:
            hc_tp += 1
        elif got:
            hc_fp += 1
        elif healthcare:
            hc_fn += 1
        if got and not rounds:
            any_fp += 1
        elif rounds and not got:
            any_fn += 1
        elif got and rounds:
            any_tp += 1
            # A title with two rounds: compare with the round of the company the product
            # named, else with the first one.
            want = next((r for r in rounds if _name(r["company"]) == _name(got["company"])), None)
            want = want or rounds[0]
            round_ok += got["round"] == _label_round(want["round"])
            amount_present_ok += (got["amount_text"] is not None) == (
                want["amount_text"] is not None
            )
            amount_text_ok += _name(got["amount_text"]) == _name(want["amount_text"])
            if want["company"] is not None:
                company_n += 1
                company_ok += _name(got["company"]) == _name(want["company"])
    return {
        "labelled_any": sum(1 for i in items if _rounds(i.label)),
        "labelled_healthcare": sum(
            1 for i in items if any(r.get("healthcare") for r in _rounds(i.label))
        ),
        "detected": sum(1 for i in items if i.facts.get("financing")),
        "any": _prf(any_tp, any_fp, any_fn),
        "healthcare": _prf(hc_tp, hc_fp, hc_fn),
        "round_exact": _ratio(round_ok, any_tp),
        "amount_present_agree": _ratio(amount_present_ok, any_tp),
        "amount_text_exact": _ratio(amount_text_ok, any_tp),
        "company_exact": _ratio(company_ok, company_n),
        "company_compared": company_n,
    }


def _events(items: Sequence[ReadItem]) -> dict[str, Any]:
    tp = fp = fn = dated = 0
    for item in items:
        got = item.facts.get("event")
        want = item.label["event"] is not None
        if got and want:
            tp += 1
            dated += got.get("start") is not None
        elif got:
            fp += 1
        elif want:
            fn += 1
    return {
        "labelled": sum(1 for i in items if i.label["event"] is not None),
        "detected": sum(1 for i in items if i.facts.get("event")),
        **_prf(tp, fp, fn),
        "date_found": _ratio(dated, tp),
    }


def _sections(items: Sequence[ReadItem]) -> dict[str, Any]:
    relevant = [i for i in items if i.label["relevant"]]
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for item in relevant:
        want = item.label["section"]
        confusion[_LABEL_SECTION.get(want, want)][item.section] += 1
    agree = sum(row[label] for label, row in confusion.items())
    return {
        "relevant": len(relevant),
        "accuracy": _ratio(agree, len(relevant)),
        "confusion": {label: dict(sorted(row.items())) for label, row in sorted(confusion.items())},
    }


def _pairs(groups: Iterable[list[int]]) -> set[tuple[int, int]]:
    return {pair for members in groups for pair in combinations(sorted(members), 2)}


def _stories(items: Sequence[ReadItem]) -> dict[str, Any]:
    """Same-story pairs among the relevant items: the product's clusters (called as
    newsletter.domain.assemble calls them) against the labels' story keys."""
    relevant = [i for i in items if i.label["relevant"]]
    clusters = cluster_ids(
        [
            StoryInput(n, i.title, i.summary, i.url, financing_key(i.facts))
            for n, i in enumerate(relevant)
        ]
    )
    predicted: dict[str, list[int]] = defaultdict(list)
    labelled: dict[str, list[int]] = defaultdict(list)
    for n, item in enumerate(relevant):
        predicted[clusters[n]].append(n)
        if item.label["story"]:
            labelled[item.label["story"]].append(n)
    got, want = _pairs(predicted.values()), _pairs(labelled.values())
    tp = len(got & want)
    return {
        "items": len(relevant),
        "labelled_pairs": len(want),
        "predicted_pairs": len(got),
        **_prf(tp, len(got) - tp, len(want) - tp),
    }


def figures(items: Sequence[ReadItem]) -> dict[str, Any]:
    """Every figure for one set of read items."""
    return {
        "items": len(items),
        "relevance": _relevance(items),
        "financing": _financing(items),
        "events": _events(items),
        "sections": _sections(items),
        "stories": _stories(items),
    }


def evaluate(
    labels: Sequence[dict[str, Any]], corpus: Path = CORPUS, config_path: Path = FEEDS_YAML
) -> dict[str, Any]:
    """Figures for the dev split, the test split and both, with what was matched."""
    config = load_config(config_path)
    read = read_corpus(labels, corpus, config)
    by_split: dict[str, list[ReadItem]] = {"train": [], "dev": [], "test": []}
    for item in read.items:
        by_split[item.label["split"]].append(item)
    by_split["all"] = read.items
    return {
        "labels": len(labels),
        "labels_by_split": dict(Counter(label["split"] for label in labels)),
        "matched": len(read.items),
        "unmatched": [f"{u['file']} {u['link']}" for u in read.unmatched],
        "feed_section": FEED_SECTION,
        "splits": {split: figures(by_split[split]) for split in SPLITS},
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(result: dict[str, Any]) -> str:
    splits = result["splits"]
    rows: list[tuple[str, list[Any]]] = []

    def row(name: str, *path: str) -> None:
        values = []
        for split in SPLITS:
            value: Any = splits[split]
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        rows.append((name, values))

    row("items", "items")
    row("off-topic share", "relevance", "off_topic_share")
    reasons = sorted(splits["all"]["relevance"]["by_reason"])
    for reason in reasons:
        row(f"  {reason}", "relevance", "by_reason", reason)
    row("financing labelled (any)", "financing", "labelled_any")
    row("financing detected", "financing", "detected")
    for scope in ("any", "healthcare"):
        for measure in ("precision", "recall", "f1"):
            row(f"financing {scope} {measure}", "financing", scope, measure)
    row("  round exact (TP)", "financing", "round_exact")
    row("  amount present agree (TP)", "financing", "amount_present_agree")
    row("  amount text exact (TP)", "financing", "amount_text_exact")
    row("  company exact (TP, named)", "financing", "company_exact")
    row("  companies compared", "financing", "company_compared")
    row("events labelled", "events", "labelled")
    row("events detected", "events", "detected")
    row("events precision", "events", "precision")
    row("events recall", "events", "recall")
    row("  date found (TP)", "events", "date_found")
    row("sections: relevant items", "sections", "relevant")
    row("sections accuracy", "sections", "accuracy")
    row("stories: relevant items", "stories", "items")
    row("stories labelled pairs", "stories", "labelled_pairs")
    row("stories predicted pairs", "stories", "predicted_pairs")
    row("stories pair precision", "stories", "precision")
    row("stories pair recall", "stories", "recall")
    lines = [f"{'measure':<32}" + "".join(f"{s:>9}" for s in SPLITS)]
    lines += [f"{name:<32}" + "".join(f"{_fmt(v):>9}" for v in values) for name, values in rows]
    for split in SPLITS:
        confusion = splits[split]["sections"]["confusion"]
        predicted = sorted({p for r in confusion.values() for p in r})
        lines.append("")
        lines.append(f"sections, {split}: label (rows) -> product (columns)")
        lines.append(f"{'':<11}" + "".join(f"{p[:10]:>11}" for p in predicted))
        for label, counts in confusion.items():
            lines.append(f"{label:<11}" + "".join(f"{counts.get(p, 0):>11}" for p in predicted))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"eval_wechat: corpus not found at {CORPUS} (check out ../shared/corpus/wechat)")
    result = evaluate(load_labels())
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    by_split = result["labels_by_split"]
    print(
        f"WeChat week, blind labels: {result['labels']} items "
        f"(dev {by_split.get('dev', 0)}, test {by_split.get('test', 0)}), "
        f"{result['matched']} matched to parsed entries, {len(result['unmatched'])} unmatched."
    )
    print(
        f"Every feed read with default section {result['feed_section']!r} (as 健康界 in "
        "feeds.yaml), not a report feed; no relevance filter, so every item is included."
    )
    print(_table(result))


if __name__ == "__main__":
    main()
