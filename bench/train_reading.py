"""Train the reading model that ships in the package, from the labelled real items.

1. With ../shared/corpus present, the labelled items (tests/data/labels, docs/labelling.md) are
   read with the product's parser and turned into hashed features, written to
   newsletter/learning/data/labelled.jsonl.gz (ids, labels and bucket weights only, no text).
   Without it, that file is used as shipped.
2. The relevance and section classifiers are trained on the `train` split; the relevance
   threshold is the one with the best F1 on the `dev` split.
3. The model is written to newsletter/learning/data/reading.json.gz.

Figures for train and dev are printed; `--test` also prints the test split (measure it once
per change worth reporting: tuning on it would make it a second dev set). `make train-model`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reading_corpus import SHARED, LabelledText, labelled_texts

from newsletter.learning import train as training
from newsletter.learning.store import save_model

DATA = Path(training.__file__).resolve().parent / "data"
AUTHORED = [
    Path(__file__).resolve().parents[1] / "tests" / "data" / f
    for f in ("editorial_eval.jsonl", "editorial_holdout.jsonl")
]
# The project's own hand-written healthcare items (the detectors' regression sets): all on topic,
# English and Chinese. Training data only, never a measure (they were written to fit the
# detectors). The section follows the kind of news each was written as.
AUTHORED_SECTION = {
    "round": "financing",
    "event_invite": "events",
    "event_report": "industry",
    "licensing": "industry",
    "ipo": "industry",
    "ma": "industry",
    "fund": "industry",
    "plan": "industry",
    "other": "industry",
    "approval": "headlines",
    "trial": "headlines",
}


def authored_examples() -> list[training.Example]:
    """The hand-written items as relevant training examples (split "train")."""
    rows = [
        json.loads(line)
        for path in AUTHORED
        for line in path.read_text("utf-8").splitlines()
        if line
    ]
    return [
        training.example(
            f"authored-{r['id']}",
            "authored",
            r["title"],
            r.get("summary") or "",
            True,
            AUTHORED_SECTION.get(r["kind"]),
            source="authored",
        )
        for r in rows
    ]


def build_examples() -> list[training.Example]:
    """Examples from the labels and the corpus texts."""
    examples = []
    missing = 0
    for item in labelled_texts():
        if not isinstance(item, LabelledText):
            missing += 1
            continue
        label = item.label
        section = label.get("section")
        examples.append(
            training.example(
                hashlib.sha1(f"{item.feed_file}\n{label['link']}".encode()).hexdigest()[:16],
                training.group_of(item.feed_file),
                item.title,
                item.summary,
                bool(label["relevant"]),
                "reports" if section == "report" else section,
                split=label["split"],
            )
        )
    print(f"{len(examples)} labelled items read from ../shared ({missing} not found)")
    authored = authored_examples()
    print(f"{len(authored)} hand-written items of tests/data added to train")
    return examples + authored


def shipped_version(data_file: Path, args: argparse.Namespace) -> str:
    """The shipped model's version: a digest of the training data and the settings, so a model
    trained differently on the same data has another version."""
    settings: list[object] = [
        args.c,
        args.c_sections,
        args.threshold,
        args.feed_weight,
        training.MIN_WEIGHT,
    ]
    if args.context_weight:  # versions of models without a feed context stay as they were
        settings.append(args.context_weight)
    digest = hashlib.sha1(data_file.read_bytes() + json.dumps(settings).encode())
    return "shipped-" + digest.hexdigest()[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test", action="store_true", help="also measure the test split")
    parser.add_argument("--c", type=float, default=training.C_RELEVANCE, help="relevance C")
    parser.add_argument("--c-sections", type=float, default=training.C_SECTIONS)
    parser.add_argument("--threshold", type=float, default=None, help="fixed threshold")
    parser.add_argument("--feed-weight", type=float, default=training.FEED_WEIGHT)
    parser.add_argument("--context-weight", type=float, default=training.CONTEXT_WEIGHT)
    parser.add_argument("--no-write", action="store_true", help="measure only")
    args = parser.parse_args()
    data_file = DATA / training.DATA_FILE
    if SHARED.is_dir():
        examples = build_examples()
        if not args.no_write:
            training.write_examples(examples, data_file)
    else:
        print(f"../shared/corpus not found: using the shipped {data_file.name}")
        examples = training.read_examples(data_file)
    parts = {s: [e for e in examples if e.split == s] for s in ("train", "dev", "test")}
    trained = training.fit(
        parts["train"],
        parts["dev"],
        c_relevance=args.c,
        c_sections=args.c_sections,
        threshold=args.threshold,
        feed_weight=args.feed_weight,
        context_weight=args.context_weight,
        version=shipped_version(data_file, args) if data_file.is_file() else None,
    )
    model = trained.model
    print(f"model {model.version}: threshold {model.threshold:.3f}")
    for split in ("train", "dev") + (("test",) if args.test else ()):
        print(f"  {split:5}: {training.measure(model, parts[split]).line()}")
    if not args.no_write:
        save_model(model, DATA / "reading.json.gz")
        print(f"written {DATA / 'reading.json.gz'}")


if __name__ == "__main__":
    main()
