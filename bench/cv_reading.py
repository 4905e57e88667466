"""Cross-validation by feed of the reading model inside the train and dev splits.

How well does the model do on feeds it has never seen? The shipped labelled data
(newsletter/learning/data/labelled.jsonl.gz: features, labels, split and feed of each item;
no text, so ../shared is not needed) is cut into ``--folds`` parts by feed, train and dev
together, never test. Each part is read by a model trained on the others (and the hand-written
items), with a threshold chosen as training chooses it, but on the other parts' own
out-of-fold scores (an inner cross-validation by feed): no figure depends on a threshold tuned
on the items it measures. Several random assignments of feeds to parts (``--seeds``) are
averaged. Figures are those of the model alone (no rules of feeds.yaml, no detectors):
relevance precision, recall and F1, and agreement of the section model on relevant items.
`python bench/cv_reading.py [--context-weight 0] [--feed-weight 0.6]`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from newsletter.learning import train as training


def parts(examples: Sequence[training.Example], folds: int, seed: int) -> list[list[int]]:
    """Indices of each part: feeds in a random order, each to the part with fewest items."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for index, ex in enumerate(examples):
        by_group[ex.group].append(index)
    groups = sorted(by_group)
    random.Random(seed).shuffle(groups)
    result: list[list[int]] = [[] for _ in range(folds)]
    for group in groups:
        min(result, key=len).extend(by_group[group])
    return result


def inner_threshold(
    train: Sequence[training.Example], extra: Sequence[training.Example], args: argparse.Namespace
) -> float:
    """The threshold training would choose, on out-of-fold scores of ``train`` by feed."""
    scored: list[training.Example] = []
    scores: list[float] = []
    for part in parts(train, args.inner, 0):
        held = [train[i] for i in part]
        rest = [ex for i, ex in enumerate(train) if i not in set(part)] + list(extra)
        model = training.fit(
            rest,
            threshold=0.5,
            feed_weight=args.feed_weight,
            context_weight=args.context_weight,
            with_sections=False,
        ).model
        scored += held
        scores += training.relevance_scores(model.relevance, held, model.feed_weight, model.context)
    return training.best_f1_threshold(scores, [ex.relevant for ex in scored])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--inner", type=int, default=4, help="parts of the inner threshold CV")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--feed-weight", type=float, default=training.FEED_WEIGHT)
    parser.add_argument("--context-weight", type=float, default=training.CONTEXT_WEIGHT)
    args = parser.parse_args()
    shipped = training.shipped_examples()
    pool = [ex for ex in shipped if ex.split in ("train", "dev") and ex.group != "authored"]
    authored = [ex for ex in shipped if ex.group == "authored"]
    print(
        f"{len(pool)} items of {len({ex.group for ex in pool})} feeds (train and dev), "
        f"{args.folds} parts by feed, {args.seeds} assignments; feed weight {args.feed_weight}, "
        f"context weight {args.context_weight}"
    )
    totals: dict[str, float] = defaultdict(float)
    start = time.process_time()
    for seed in range(args.seeds):
        tp = fp = fn = agree = compared = 0
        for part in parts(pool, args.folds, seed + 1):
            inside = set(part)
            held = [pool[i] for i in part]
            train = [ex for i, ex in enumerate(pool) if i not in inside]
            cut = inner_threshold(train, authored, args)
            model = training.fit(
                train + authored,
                threshold=cut,
                feed_weight=args.feed_weight,
                context_weight=args.context_weight,
            ).model
            scores = training.relevance_scores(
                model.relevance, held, model.feed_weight, model.context
            )
            for ex, score in zip(held, scores, strict=True):
                kept = score >= cut
                tp, fp, fn = (
                    tp + (kept and ex.relevant),
                    fp + (kept and not ex.relevant),
                    fn + (ex.relevant and not kept),
                )
                if ex.relevant and ex.section and model.sections is not None:
                    probs = model.sections.probabilities(ex.x)
                    compared += 1
                    agree += max(probs, key=lambda s: probs[s]) == ex.section
        precision, recall = tp / (tp + fp), tp / (tp + fn)
        f1 = 2 * precision * recall / (precision + recall)
        print(
            f"  assignment {seed + 1}: precision {precision:.3f} recall {recall:.3f} "
            f"F1 {f1:.3f} sections {agree / compared:.3f}",
            flush=True,
        )
        for name, value in (
            ("precision", precision),
            ("recall", recall),
            ("F1", f1),
            ("sections", agree / compared),
        ):
            totals[name] += value / args.seeds
    print("mean: " + " ".join(f"{k} {v:.3f}" for k, v in totals.items()))
    print(f"({time.process_time() - start:.0f} s of CPU)")


if __name__ == "__main__":
    main()
