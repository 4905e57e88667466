"""Measure the editorial facts and stories on real items against blind hand labels.

The labels are every file of tests/data/labels (the WeChat healthcare week, the WeChat weeks
before it and the English and Chinese feeds of ../shared/corpus/feeds), labelled from titles under
tests/data/labels/RULES.md and docs/labelling.md without looking at the code, split by feed into
train, dev and test. Each labelled item is parsed from its feed file with the product's parser
(bench/reading_corpus.py) and read exactly as ingest reads it (the feed prior, the shipped model);
the figures compare that reading with the labels: the off-topic share of an issue, financing
(precision, recall, company, round and amount exact, healthcare rounds), events (precision,
recall, date exact), sections and story pairs (per label file, as each file is one or more weeks).
The detectors' own cost per 1,000 items is timed on the same texts.

`make eval-wechat` runs it; `--json` prints the figures as JSON. Figures go in docs/editorial.md
("Facts and stories"). This script measures; it changes nothing. Tune on train and dev only:
the test split is measured once before and once after a round of work.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reading_corpus import SHARED, SNAPSHOT, LabelledText, labelled_texts

from newsletter.config import load_config
from newsletter.domain.editorial.classify import FeedRules
from newsletter.domain.editorial.clusters import cluster_ids, story_input
from newsletter.domain.editorial.events import detect_event
from newsletter.domain.editorial.financing import detect_financing
from newsletter.learning.store import shipped_path
from newsletter.service.reading import read_feed_items, reading_rules

REPO = Path(__file__).resolve().parents[1]
FEEDS_YAML = REPO / "feeds.yaml"
SPLITS = ("train", "dev", "test", "all")

# The section a healthcare editor would subscribe these accounts under: the default section of
# the closest feed in feeds.yaml, 健康界 (Chinese healthcare-industry news), which is "industry".
FEED_SECTION = "industry"

# RULES.md writes rounds as the titles do; the product normalises them (financing.ROUNDS).
# "新一轮" (a round without a letter) is the product's "undisclosed". Anything else is compared
# lower-cased: "A/A+", "A++", "Pre-A+" and "D1" match the product's ids of those forms, while
# "首轮", "两轮" or "三轮" (kept as written by the labeller) never match.
_LABEL_ROUND = {
    "天使": "angel",
    "天使+": "angel",
    "种子": "seed",
    "战略": "strategic",
    "新一轮": "undisclosed",
    "pre-ipo": "pre-ipo",
}
# Only these files were labelled for stories (docs/labelling.md: their labellers made the story
# keys; the other files carry none at all), so story pairs are measured on them alone: in the
# others every predicted pair, even of two identical titles, would count as false. The figure
# over every file is printed too ("stories, every file"), as the first figures were measured so.
STORY_LABEL_FILES = frozenset({"wechat_week.jsonl", "wechat_rest.jsonl"})
# Label sections are RULES.md's names; the product's in-depth section is "reports".
_LABEL_SECTION = {"report": "reports"}


@dataclass(frozen=True)
class ReadItem:
    """One labelled item next to the product's reading of it."""

    label: dict[str, Any]
    label_file: str
    title: str
    summary: str
    url: str | None
    published: date
    section: str
    facts: dict[str, Any]


def read_corpus(config_path: Path = FEEDS_YAML) -> tuple[list[ReadItem], list[dict[str, Any]]]:
    """Every label joined to its entry and read as ingest reads a feed (all its entries
    together, the shipped model); labels whose entry is not found come back apart."""
    config = load_config(config_path)
    rules = reading_rules(config, shipped_path())
    by_feed: dict[tuple[str, str], list[LabelledText]] = defaultdict(list)
    unmatched: list[dict[str, Any]] = []
    for item in labelled_texts():
        if isinstance(item, LabelledText):
            by_feed[(item.label_file, item.feed_file)].append(item)
        else:
            unmatched.append(item)
    read: list[ReadItem] = []
    for items in by_feed.values():
        feed = FeedRules(items[0].feed_title, FEED_SECTION)
        texts = [(i.title, i.summary, i.language, i.published or SNAPSHOT) for i in items]
        readings = read_feed_items(rules, feed, texts, config.newsletter.tz)
        for item, (_, _, _, published), reading in zip(items, texts, readings, strict=True):
            read.append(
                ReadItem(
                    item.label,
                    item.label_file,
                    item.title,
                    item.summary,
                    item.url,
                    published.astimezone(config.newsletter.tz).date(),
                    reading.suggested or FEED_SECTION,
                    reading.facts,
                )
            )
    return read, unmatched


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
    """Names and amounts compared after NFKC, whitespace removed and case folded."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def _label_round(text: str | None) -> str:
    raw = (text or "").strip()
    return _LABEL_ROUND.get(raw, _LABEL_ROUND.get(raw.lower(), raw.lower()))


def _got_rounds(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The product's rounds of one item: the first, then any further ones in the same title."""
    first = facts.get("financing")
    return [first, *facts.get("financing_more", [])] if first else []


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


def _is_healthcare(got: dict[str, Any]) -> bool:
    # Before the product told sectors apart, every round it found counted as healthcare.
    return got.get("sector", "healthcare") == "healthcare"


def _financing(items: Sequence[ReadItem]) -> dict[str, Any]:
    """Item-level detection (does the item announce a round?), and the facts of each labelled
    round the product found (matched by company, else in order)."""
    any_tp = any_fp = any_fn = hc_tp = hc_fp = hc_fn = 0
    facts_n = round_ok = amount_ok = company_ok = company_n = rounds_found = rounds_n = 0
    for item in items:
        got = _got_rounds(item.facts)
        want = _rounds(item.label)
        healthcare = any(r.get("healthcare") for r in want)
        got_hc = any(_is_healthcare(g) for g in got)
        hc_tp += got_hc and healthcare
        hc_fp += got_hc and not healthcare
        hc_fn += healthcare and not got_hc
        any_tp += bool(got) and bool(want)
        any_fp += bool(got) and not want
        any_fn += bool(want) and not got
        rounds_n += len(want)
        if not (got and want):
            continue
        left = list(got)
        for n, w in enumerate(want):
            match = next((g for g in left if _name(g["company"]) == _name(w["company"])), None)
            if match is None and w["company"] is None and n < len(got):
                match = got[n] if got[n] in left else None
            if match is None and len(want) == 1:
                match = left[0] if left else None
            if match is None:
                continue
            left.remove(match)
            rounds_found += 1
            facts_n += 1
            round_ok += match["round"] == _label_round(w["round"])
            amount_ok += _name(match.get("amount_text")) == _name(w.get("amount_text"))
            if w["company"] is not None:
                company_n += 1
                company_ok += _name(match["company"]) == _name(w["company"])
    return {
        "labelled_any": sum(1 for i in items if _rounds(i.label)),
        "labelled_healthcare": sum(
            1 for i in items if any(r.get("healthcare") for r in _rounds(i.label))
        ),
        "detected": sum(1 for i in items if i.facts.get("financing")),
        "rounds_detected": sum(len(_got_rounds(i.facts)) for i in items),
        "any": _prf(any_tp, any_fp, any_fn),
        "healthcare": _prf(hc_tp, hc_fp, hc_fn),
        "rounds_labelled": rounds_n,
        "rounds_found": rounds_found,
        "round_exact": _ratio(round_ok, facts_n),
        "amount_exact": _ratio(amount_ok, facts_n),
        "company_exact": _ratio(company_ok, company_n),
        "company_compared": company_n,
    }


# --- the labels' event dates, resolved against the item's publication day ------------------
_L_YMD = re.compile(r"(?:(\d{4})\s*[年.]\s*)?(\d{1,2})\s*[月.·/]\s*(\d{1,2})")
_L_MONTH = re.compile(r"^(?:(\d{4})\s*年\s*)?(\d{1,2})\s*月(?:[上中下]旬|底|初)?$")
_L_DAY = re.compile(r"^(\d{1,2})\s*[日号]")
_L_WEEKDAY = re.compile(r"(本|下|这)?(?:周|星期|礼拜)([一二三四五六日天])")
_ZH_WD = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_EN_MON = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}
_L_EN = re.compile(r"\b([a-z]{3})[a-z]*\.?\s+(\d{1,2})\b|\b(\d{1,2})\s+([a-z]{3})[a-z]*\b", re.I)


def _near(month: int, day: int, year: int | None, published: date) -> date | None:
    try:
        if year:
            return date(year, month, day)
        candidate = date(published.year, month, day)
        if candidate < published - timedelta(days=60):
            candidate = date(published.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def label_date(text: str | None, published: date) -> tuple[str, date] | None:
    """The labelled date as ("day" | "month", first day), or None when it cannot be resolved."""
    if not text:
        return None
    t = unicodedata.normalize("NFKC", text).strip()
    m = _L_MONTH.match(t)
    if m:
        month = int(m.group(2))
        year = int(m.group(1)) if m.group(1) else None
        if year is None:
            year = published.year + (month < published.month - 1)
        return ("month", date(year, month, 1)) if 1 <= month <= 12 else None
    m = _L_YMD.search(t)
    if m:
        d = _near(
            int(m.group(2)), int(m.group(3)), int(m.group(1)) if m.group(1) else None, published
        )
        return ("day", d) if d else None
    m = _L_EN.search(t)
    if m:
        mon = _EN_MON.get((m.group(1) or m.group(4) or "").lower())
        day = int(m.group(2) or m.group(3))
        d = _near(mon, day, None, published) if mon else None
        return ("day", d) if d else None
    m = _L_DAY.match(t)
    if m:
        day = int(m.group(1))
        d = _near(published.month, day, None, published)
        if d and d < published:
            d = _near(published.month % 12 + 1, day, None, published)
        return ("day", d) if d else None
    if re.match(r"^(今天|今日|今晚|今早|tonight|today)", t, re.I):
        return ("day", published)
    if re.match(r"^(明天|明日|明晚|明早|tomorrow)", t, re.I):
        return ("day", published + timedelta(days=1))
    if t.startswith("后天"):
        return ("day", published + timedelta(days=2))
    m = _L_WEEKDAY.search(t)
    if m:
        target = _ZH_WD[m.group(2)]
        if m.group(1) == "下":
            return ("day", published + timedelta(days=7 - published.weekday() + target))
        return ("day", published + timedelta(days=(target - published.weekday()) % 7))
    return None


def _date_exact(got: dict[str, Any], label: dict[str, Any], published: date) -> bool | None:
    """Whether the product's date is the labelled one (None: the label's date is not a date
    this script can resolve, so the item is not compared)."""
    start = got.get("start")
    text = label.get("date_text")
    if not text:
        return start is None
    want = label_date(text, published)
    if want is None:
        return None
    if start is None:
        return False
    got_day = date.fromisoformat(start)
    precision = got.get("precision", "day")
    if want[0] == "month":
        return precision == "month" and (got_day.year, got_day.month) == (
            want[1].year,
            want[1].month,
        )
    return got_day == want[1]


def _events(items: Sequence[ReadItem]) -> dict[str, Any]:
    tp = fp = fn = date_ok = date_n = dated = place_ok = 0
    for item in items:
        got = item.facts.get("event")
        want = item.label["event"]
        if got and want:
            tp += 1
            dated += got.get("start") is not None
            place_ok += _name(got.get("place")) == _name(want.get("place"))
            exact = _date_exact(got, want, item.published)
            if exact is not None:
                date_n += 1
                date_ok += exact
        elif got:
            fp += 1
        elif want:
            fn += 1
    return {
        "labelled": sum(1 for i in items if i.label["event"] is not None),
        "detected": sum(1 for i in items if i.facts.get("event")),
        **_prf(tp, fp, fn),
        "date_found": _ratio(dated, tp),
        "date_exact": _ratio(date_ok, date_n),
        "date_compared": date_n,
        "place_exact": _ratio(place_ok, tp),
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


def _companies(item: ReadItem) -> set[str]:
    return {_name(r["company"]) for r in _rounds(item.label) if r.get("company")}


def story_pairs(
    items: Sequence[ReadItem], files: frozenset[str] | None = STORY_LABEL_FILES
) -> tuple[list[ReadItem], set[tuple[int, int]], set[tuple[int, int]]]:
    """The relevant items of ``files`` (only the files labelled for stories unless None), and
    the same-story pairs among them, as indexes into that list: the product's clusters (one
    clustering per label file, as each file is its own weeks; called as
    newsletter.domain.assemble calls them), and the labels' story keys. Shared with
    bench/story_errors.py."""
    got: set[tuple[int, int]] = set()
    want: set[tuple[int, int]] = set()
    by_file: dict[str, list[int]] = defaultdict(list)
    items = [i for i in items if i.label["relevant"] and (files is None or i.label_file in files)]
    for n, item in enumerate(items):
        by_file[item.label_file].append(n)
    for members in by_file.values():
        clusters = cluster_ids(
            [
                story_input(n, items[n].title, items[n].summary, items[n].url, items[n].facts)
                for n in members
            ]
        )
        predicted: dict[str, list[int]] = defaultdict(list)
        labelled: dict[str, list[int]] = defaultdict(list)
        for n in members:
            predicted[clusters[n]].append(n)
            if items[n].label["story"]:
                labelled[items[n].label["story"]].append(n)
        got |= _pairs(predicted.values())
        want |= _pairs(labelled.values())
    return items, got, want


def _stories(
    items: Sequence[ReadItem], files: frozenset[str] | None = STORY_LABEL_FILES
) -> dict[str, Any]:
    """Same-story pairs (story_pairs) scored against the labels, and how many predicted pairs
    join two different companies' labelled rounds."""
    items, got, want = story_pairs(items, files)
    tp = len(got & want)
    company_merges = sum(
        1
        for a, b in got
        if _companies(items[a])
        and _companies(items[b])
        and not (_companies(items[a]) & _companies(items[b]))
    )
    return {
        "items": len(items),
        "labelled_pairs": len(want),
        "predicted_pairs": len(got),
        **_prf(tp, len(got) - tp, len(want) - tp),
        "two_companies_merged": company_merges,
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
        "stories_every_file": _stories(items, None),
    }


def detector_ms_per_1000(items: Sequence[ReadItem], repeat: int = 3) -> float:
    """The financing and event detectors' time per 1,000 items (best of ``repeat`` runs)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in item.title) else "en"
            detect_financing(item.title, item.summary, lang)
            detect_event(item.title, item.summary, lang, item.published)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / max(1, len(items)) * 1000


def evaluate(splits: Sequence[str] = SPLITS) -> dict[str, Any]:
    """Figures per split, with what was matched and the detectors' cost."""
    read, unmatched = read_corpus()
    by_split: dict[str, list[ReadItem]] = {"train": [], "dev": [], "test": []}
    for item in read:
        by_split[item.label["split"]].append(item)
    by_split["all"] = read
    return {
        "labels": len(read) + len(unmatched),
        "labels_by_split": {s: len(v) for s, v in by_split.items() if s != "all"},
        "label_files": dict(Counter(i.label_file for i in read)),
        "matched": len(read),
        "unmatched": [f"{u['file']} {u['link']}" for u in unmatched],
        "feed_section": FEED_SECTION,
        "detector_ms_per_1000_items": detector_ms_per_1000(read),
        "splits": {split: figures(by_split[split]) for split in splits},
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table(result: dict[str, Any]) -> str:
    splits = result["splits"]
    names = list(splits)
    rows: list[tuple[str, list[Any]]] = []

    def row(name: str, *path: str) -> None:
        values = []
        for split in names:
            value: Any = splits[split]
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            values.append(value)
        rows.append((name, values))

    row("items", "items")
    row("off-topic share", "relevance", "off_topic_share")
    row("financing labelled (any)", "financing", "labelled_any")
    row("financing labelled healthcare", "financing", "labelled_healthcare")
    row("financing detected", "financing", "detected")
    for scope in ("any", "healthcare"):
        for measure in ("precision", "recall", "f1"):
            row(f"financing {scope} {measure}", "financing", scope, measure)
    row("  rounds labelled / found", "financing", "rounds_labelled")
    row("  rounds found", "financing", "rounds_found")
    row("  rounds detected", "financing", "rounds_detected")
    row("  round exact", "financing", "round_exact")
    row("  amount exact", "financing", "amount_exact")
    row("  company exact (named)", "financing", "company_exact")
    row("  companies compared", "financing", "company_compared")
    row("events labelled", "events", "labelled")
    row("events detected", "events", "detected")
    row("events precision", "events", "precision")
    row("events recall", "events", "recall")
    row("  date found (TP)", "events", "date_found")
    row("  date exact (TP)", "events", "date_exact")
    row("  dates compared", "events", "date_compared")
    row("  place exact (TP)", "events", "place_exact")
    row("sections accuracy", "sections", "accuracy")
    row("stories labelled pairs", "stories", "labelled_pairs")
    row("stories predicted pairs", "stories", "predicted_pairs")
    row("stories pair precision", "stories", "precision")
    row("stories pair recall", "stories", "recall")
    row("  two companies merged", "stories", "two_companies_merged")
    row("stories, every file: precision", "stories_every_file", "precision")
    row("stories, every file: recall", "stories_every_file", "recall")
    row("  two companies merged", "stories_every_file", "two_companies_merged")
    lines = [f"{'measure':<32}" + "".join(f"{s:>9}" for s in names)]
    lines += [f"{name:<32}" + "".join(f"{_fmt(v):>9}" for v in values) for name, values in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-test", action="store_true", help="train and dev only (while tuning)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"eval_wechat: corpus not found at {SHARED} (check out ../shared/corpus)")
    result = evaluate(("train", "dev") if args.no_test else SPLITS)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    by_split = result["labels_by_split"]
    print(
        f"Blind labels: {result['labels']} items ({by_split}), {result['matched']} matched to "
        f"parsed entries, {len(result['unmatched'])} unmatched; files {result['label_files']}."
    )
    print(
        f"Every feed read with default section {result['feed_section']!r}; detectors "
        f"{result['detector_ms_per_1000_items']:.1f} ms per 1,000 items."
    )
    print(_table(result))


if __name__ == "__main__":
    main()
