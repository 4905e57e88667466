"""Would a learned event classifier help the event rules on accounts never seen? (issue 12)

An experiment, not a part of the product: a logistic regression over the reading's own
features (hashed character n-grams of title and summary, newsletter.domain.editorial.textmodel;
the shipped newsletter/learning/data/labelled.jsonl.gz, joined to the `event` field of
tests/data/labels by item id, so no text is needed to train it) decides "this item announces an
upcoming event", alone or combined with the rules of newsletter/domain/editorial/events.py:

- ``model >= t``: the model alone;
- ``rules OR model >= t``: the model adds invitations the rules miss;
- ``rules AND model >= t``: the model vetoes weak rule hits;
- ``rules OR (model >= t AND a date ahead)``: the model adds only items whose text the rules'
  own date reader dates in the future.

A funding round wins over an event, as in the reading (classify.read_item). Each is measured by
cross-validation by feed inside train and dev (``--folds`` parts, feeds assigned to parts at
random, ``--seeds`` assignments averaged; as bench/cv_reading.py), then with the model trained
on train and measured on dev. The rules' outputs come from the same reading as
bench/eval_wechat.py (needs ../shared/corpus). Caveat: the rules were written on train and dev,
so their figures there are not those of unseen accounts; the cross-validation is honest for the
model only. ``--test`` reads the test split once with the combinations fixed in
CANDIDATES (chosen before it was read): never tune on it. The result and its figures are in
docs/editorial.md ("A learned event classifier").

    .venv/bin/python bench/cv_events.py [--c 3] [--seeds 3] [--test]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_wechat import ReadItem, read_corpus
from reading_corpus import SHARED

from newsletter.domain.editorial.amounts import normalize
from newsletter.domain.editorial.events import event_date, event_month
from newsletter.domain.editorial.textmodel import N_FEATURES, Features, LinearModel, Vector
from newsletter.learning import train as training

# (name, threshold): the combinations read on test, fixed from the cross-validation and dev
# figures before the test split was read (the best of each kind; none beat the rules).
CANDIDATES = (
    ("model", 0.5),
    ("rules OR model", 0.9),
    ("rules AND model", 0.05),
    ("rules OR (model AND dated)", 0.5),
)
MODEL_T = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
VETO_T = (0.02, 0.05, 0.1, 0.2, 0.3)


@dataclass(frozen=True)
class Row:
    """One labelled item: its features, its label, what the rules said, its feed and split."""

    x: Features
    event: bool
    rule: bool
    financing: bool
    dated_ahead: bool
    group: str
    split: str


def item_id(item: ReadItem) -> str:
    """The id bench/train_reading.py gives the item in the shipped features."""
    key = f"{item.label['file']}\n{item.label['link']}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _dated_ahead(item: ReadItem) -> bool:
    """Whether the rules' date reader finds a day (or a month) not before publication."""
    title = normalize(item.title)
    day = event_date(f"{title}。{normalize(item.summary)}", item.published)
    if day is not None:
        return day >= item.published
    month = event_month(title, item.published)
    return month is not None and month >= item.published.replace(day=1)


def rows() -> list[Row]:
    """Every labelled item with the shipped features of its id and the rules' reading."""
    features = {ex.id: ex.x for ex in training.shipped_examples()}
    read, _ = read_corpus()
    result = []
    for item in read:
        x = features.get(item_id(item))
        if x is None:
            raise SystemExit(f"cv_events: no shipped features for {item.label['link']}")
        result.append(
            Row(
                x,
                item.label["event"] is not None,
                bool(item.facts.get("event")),
                bool(item.facts.get("financing")),
                _dated_ahead(item),
                item.label["file"],
                item.label["split"],
            )
        )
    return result


def _matrix(items: Sequence[Row]) -> Any:
    from scipy.sparse import csr_matrix

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for row in items:
        indices += row.x.keys()
        data += row.x.values()
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(items), N_FEATURES))


def fit(items: Sequence[Row], c: float) -> Any:
    """A two-class logistic regression with balanced class weights (as relevance)."""
    from sklearn.linear_model import LogisticRegression

    estimator = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, solver="liblinear")
    return estimator.fit(_matrix(items), [row.event for row in items])


def scores(estimator: Any, items: Sequence[Row]) -> list[float]:
    """The model's probability that each item announces an upcoming event."""
    return [float(p) for p in estimator.predict_proba(_matrix(items))[:, 1]]


def parts(items: Sequence[Row], folds: int, seed: int) -> list[list[int]]:
    """Indices of each part: feeds in a random order, each to the part with fewest items."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(items):
        by_group[row.group].append(index)
    groups = sorted(by_group)
    random.Random(seed).shuffle(groups)
    result: list[list[int]] = [[] for _ in range(folds)]
    for group in groups:
        min(result, key=len).extend(by_group[group])
    return result


# Each way of deciding, with the thresholds tried (decide says what each does).
COMBINATIONS: dict[str, tuple[float, ...]] = {
    "rules": (0.0,),
    "model": MODEL_T,
    "rules OR model": MODEL_T,
    "rules AND model": VETO_T,
    "rules OR (model AND dated)": MODEL_T,
}


def decide(name: str, row: Row, p: float, t: float) -> bool:
    """Whether the item is an event for one combination at threshold ``t`` (a funding round
    wins over an event, as in the reading)."""
    if row.financing:
        return False
    if name == "rules":
        return row.rule
    if name == "model":
        return p >= t
    if name == "rules OR model":
        return row.rule or p >= t
    if name == "rules AND model":
        return row.rule and p >= t
    return row.rule or (p >= t and row.dated_ahead)


def prf(items: Sequence[Row], predicted: Sequence[bool]) -> tuple[float, float, float]:
    """Precision, recall and F1 of item-level detection."""
    tp = sum(p and r.event for r, p in zip(items, predicted, strict=True))
    fp = sum(p and not r.event for r, p in zip(items, predicted, strict=True))
    fn = sum(r.event and not p for r, p in zip(items, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def table(items: Sequence[Row], runs: Sequence[Sequence[float]]) -> dict[tuple[str, float], Any]:
    """Mean precision, recall and F1 over ``runs`` (one score per item each) of every
    combination and threshold."""
    result: dict[tuple[str, float], Any] = {}
    for name, thresholds in COMBINATIONS.items():
        for t in thresholds:
            figures = [
                prf(items, [decide(name, r, p, t) for r, p in zip(items, ps, strict=True)])
                for ps in runs
            ]
            result[(name, t)] = tuple(sum(f[k] for f in figures) / len(figures) for k in range(3))
    return result


def cross_validated(pool: Sequence[Row], args: argparse.Namespace) -> list[list[float]]:
    """Out-of-fold scores of every item, one list per assignment of feeds to parts."""
    runs = []
    for seed in range(args.seeds):
        p = [0.0] * len(pool)
        for part in parts(pool, args.folds, seed + 1):
            inside = set(part)
            model = fit([r for i, r in enumerate(pool) if i not in inside], args.c)
            for i, s in zip(part, scores(model, [pool[i] for i in part]), strict=True):
                p[i] = s
        runs.append(p)
    return runs


def _print(title: str, figures: dict[tuple[str, float], Any]) -> None:
    print(title)
    for (name, t), (precision, recall, f1) in figures.items():
        at = "" if name == "rules" else f" >= {t:.2f}"
        print(f"  {name + at:<36} P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}")


def linear(estimator: Any) -> LinearModel:
    """The estimator as the reading's linear model (weights below training.MIN_WEIGHT
    dropped, as the shipped relevance model's)."""
    row = estimator.coef_[0]
    weights = {
        int(i): float(row[i]) for i in row.nonzero()[0] if abs(row[i]) >= training.MIN_WEIGHT
    }
    return LinearModel(("no", "yes"), (weights,), (float(estimator.intercept_[0]),))


def cost_us(model: LinearModel, items: Sequence[Row], repeat: int = 5) -> float:
    """Microseconds per item to score features the reading has already computed."""
    vectors = [Vector.of(r.x) for r in items]
    model.scores(vectors[0])  # builds the table once
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for v in vectors:
            model.scores(v)
        best = min(best, time.perf_counter() - start)
    return 1e6 * best / len(vectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c", type=float, default=3.0, help="inverse regularisation")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--test", action="store_true", help="read the test split (once)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"cv_events: corpus not found at {SHARED} (the rules read the texts)")
    everything = rows()
    pool = [r for r in everything if r.split in ("train", "dev")]
    print(
        f"{len(pool)} items of {len({r.group for r in pool})} feeds (train and dev), "
        f"{sum(r.event for r in pool)} events; C {args.c}, {args.folds} parts by feed, "
        f"{args.seeds} assignments"
    )
    _print("cross-validation by feed (train + dev)", table(pool, cross_validated(pool, args)))
    train = [r for r in everything if r.split == "train"]
    model = fit(train, args.c)
    dev = [r for r in everything if r.split == "dev"]
    _print("trained on train, read on dev", table(dev, [scores(model, dev)]))
    print(f"scoring cost: {cost_us(linear(model), dev):.1f} µs per item (features computed)")
    if args.test:
        test = [r for r in everything if r.split == "test"]
        p = scores(model, test)
        print("test (read once; combinations fixed beforehand)")
        for name, t in (("rules", 0.0), *CANDIDATES):
            precision, recall, f1 = prf(
                test, [decide(name, r, s, t) for r, s in zip(test, p, strict=True)]
            )
            at = "" if name == "rules" else f" >= {t:.2f}"
            print(f"  {name + at:<36} P {precision:.3f}  R {recall:.3f}  F1 {f1:.3f}")


if __name__ == "__main__":
    main()
