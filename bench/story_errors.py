"""Print the story pairs clustering misses and the ones it gets wrong, on train and dev only.

The same items, clustering and pairs as `bench/eval_wechat.py` ("stories pair precision /
recall": the relevant items of the story-labelled files, one clustering per label file), listed
pair by pair with both titles and the labels' story key, so a rule can be judged on the pairs
it fixes and the ones it breaks. The test split cannot be printed: tune on train and dev only
(docs/editorial.md, "Facts and stories").

    .venv/bin/python bench/story_errors.py            # train and dev
    .venv/bin/python bench/story_errors.py --split dev --no-missed
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_wechat import STORY_LABEL_FILES, ReadItem, read_corpus, story_pairs

TUNING_SPLITS = ("train", "dev")


@dataclass(frozen=True)
class StoryErrors:
    """The pairs of one split: labelled, predicted, and the two kinds of error."""

    items: list[ReadItem]
    labelled: set[tuple[int, int]]
    predicted: set[tuple[int, int]]

    @property
    def missed(self) -> list[tuple[int, int]]:
        return sorted(self.labelled - self.predicted)

    @property
    def wrong(self) -> list[tuple[int, int]]:
        return sorted(self.predicted - self.labelled)


def story_errors(
    read: Sequence[ReadItem], split: str, files: frozenset[str] | None = STORY_LABEL_FILES
) -> StoryErrors:
    """The pairs of ``split``, formed by eval_wechat's ``story_pairs`` (``files``: the label files
    to read, None for every file)."""
    if split not in TUNING_SPLITS:
        raise ValueError(f"only {TUNING_SPLITS} may be inspected, not {split!r}")
    items, predicted, labelled = story_pairs([i for i in read if i.label["split"] == split], files)
    return StoryErrors(items, labelled, predicted)


def _describe(item: ReadItem) -> str:
    fin = item.facts.get("financing")
    facts = f"  [round {fin.get('company')}|{fin.get('round')}]" if fin else ""
    if item.facts.get("event"):
        facts += "  [event]"
    return f"{item.title}{facts}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=TUNING_SPLITS, action="append")
    parser.add_argument("--no-missed", action="store_true", help="only the wrong pairs")
    parser.add_argument(
        "--unlabelled-files",
        action="store_true",
        help="also list the pairs found in the files labelled without story keys (every pair "
        "there counts as wrong; read them to judge a rule's precision by eye)",
    )
    args = parser.parse_args()
    read, _ = read_corpus()
    for split in args.split or TUNING_SPLITS:
        errors = story_errors(read, split)
        tp = len(errors.labelled & errors.predicted)
        print(
            f"== {split}: {len(errors.labelled)} labelled pairs, {len(errors.predicted)} "
            f"predicted, {tp} right, {len(errors.missed)} missed, {len(errors.wrong)} wrong"
        )
        kinds = [("WRONG", errors.wrong)] + ([] if args.no_missed else [("MISSED", errors.missed)])
        for kind, pairs in kinds:
            for a, b in pairs:
                ia, ib = errors.items[a], errors.items[b]
                key = ia.label["story"] or ib.label["story"] or "-"
                print(f"{kind} {key}\n    {_describe(ia)}\n    {_describe(ib)}")
        if args.unlabelled_files:
            other = story_errors(read, split, None)
            for a, b in sorted(other.predicted):
                ia, ib = other.items[a], other.items[b]
                if ia.label_file not in STORY_LABEL_FILES:
                    print(f"UNLABELLED {ia.label_file}\n    {_describe(ia)}\n    {_describe(ib)}")


if __name__ == "__main__":
    main()
