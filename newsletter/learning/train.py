"""Training the reading model: logistic regression over hashed character n-grams.

scikit-learn (with NumPy and SciPy) is imported here only, and only when a model is trained;
applying a model needs none of it (newsletter.domain.editorial.textmodel). The labelled data
that ships with the package (``data/labelled.jsonl.gz``) holds bucket numbers and weights, item
ids and labels, never the texts of the feeds they came from; `model train` adds the examples
of feeds.yaml's ``topic`` and the editor's decisions in the issue log.

Choices (docs/editorial.md, "Relevance"): relevance is a two-class logistic regression with
balanced class weights (optionally with a feed context, CONTEXT_WEIGHT); its threshold is the
score with the best F1 on the held-back part; sections are a multi-class logistic regression
over relevant items. The held-back part is chosen by feed, never by item, so a feed's items are never on both
sides.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsletter.domain.editorial.textmodel import (
    N_FEATURES,
    Features,
    LinearModel,
    ReadingModel,
    features,
    smooth,
)
from newsletter.errors import ModelError

C_RELEVANCE = 30.0
C_SECTIONS = 30.0
MIN_WEIGHT = 0.05  # smaller weights are dropped: half the model file, same dev figures
FEED_WEIGHT = 0.6  # share of the feed's mean score in an item's relevance (textmodel.smooth)
# Scale of the feed context (the mean features of an item's feed) beside the item's own
# features when training relevance; 0 (as shipped) leaves it out. At 0.5 it raised relevance F1
# on unseen feeds in bench/cv_reading.py, but pulled an on-topic item of a mostly off-topic feed
# under the threshold after an editor's drops (tests/service/test_model_feedback.py):
# docs/editorial.md, "Fourth round".
CONTEXT_WEIGHT = 0.0
# Groups that are no feed (hand-written items, feeds.yaml's topic): no feed context.
NO_FEED_GROUPS = frozenset({"authored", "topic"})


def has_context(ex: Example) -> bool:
    """Whether an example is trained and measured with its feed context: shipped labelled items
    only, where every item of a feed's sample is labelled. An editor's decisions are items the
    editor chose to act on, so their mean is not what the feed's items look like together."""
    return ex.source == "shipped" and ex.group not in NO_FEED_GROUPS


DEFAULT_THRESHOLD = 0.5
MIN_ITEMS = 50  # fewer labelled items than this (or fewer than MIN_CLASS of a class): refused
MIN_CLASS = 10
MIN_SECTION_ITEMS = 5  # a section with fewer relevant examples is not a class of the model
DATA_FILE = "labelled.jsonl.gz"


@dataclass(frozen=True)
class Example:
    """One labelled item, as features."""

    id: str
    group: str  # the feed it came from: held-back parts are chosen by group
    relevant: bool
    section: str | None
    x: Features
    split: str = "train"  # train, dev or test (shipped data); local examples are "train"
    source: str = "shipped"  # shipped, topic or editor
    weight: float = 1.0


def example(
    id: str,
    group: str,
    title: str,
    summary: str,
    relevant: bool,
    section: str | None,
    *,
    split: str = "train",
    source: str = "shipped",
    weight: float = 1.0,
) -> Example:
    """An example from an item's text."""
    return Example(id, group, relevant, section, features(title, summary), split, source, weight)


def group_of(name: str) -> str:
    """A stable, short group key for a feed."""
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:12]


def write_examples(examples: Iterable[Example], path: Path) -> int:
    """Store examples (features only, no text); returns how many."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8") as handle,
    ):  # no time stamp in the file: the same data gives the same bytes
        for ex in examples:
            row = {
                "id": ex.id,
                "group": ex.group,
                "split": ex.split,
                "relevant": ex.relevant,
                "section": ex.section,
                "f": sorted([k, round(v, 4)] for k, v in ex.x.items()),
            }
            handle.write(json.dumps(row, separators=(",", ":")) + "\n")
            count += 1
    return count


def read_examples(path: Path) -> list[Example]:
    """Examples stored by write_examples."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle if line.strip()]
    except (OSError, EOFError, ValueError) as exc:
        raise ModelError(f"cannot read training data {path}: {exc}") from exc
    return [
        Example(
            r["id"],
            r["group"],
            bool(r["relevant"]),
            r.get("section"),
            {int(k): float(v) for k, v in r["f"]},
            r.get("split", "train"),
        )
        for r in rows
    ]


def shipped_examples() -> list[Example]:
    """The labelled data that ships with the package (docs/labelling.md)."""
    from importlib import resources

    return read_examples(Path(str(resources.files("newsletter.learning") / "data" / DATA_FILE)))


@dataclass(frozen=True)
class Figures:
    """How a model does on labelled examples."""

    items: int
    relevant: int
    precision: float | None
    recall: float | None
    section_agreement: float | None  # on items labelled relevant that have a section label
    sections_compared: int

    def line(self) -> str:
        """One readable line."""

        def f(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        return (
            f"relevance precision {f(self.precision)} recall {f(self.recall)}; "
            f"section agreement {f(self.section_agreement)} "
            f"({self.items} items, {self.relevant} relevant)"
        )


def relevance_scores(
    relevance: LinearModel,
    examples: Sequence[Example],
    feed_weight: float = 0.0,
    context: LinearModel | None = None,
) -> list[float]:
    """Each example's relevance score as the reading gives it: the items of a feed (group) read
    together (with their feed context where has_context says so), then pulled towards their
    feed's mean."""
    groups: dict[str, list[int]] = {}
    for index, ex in enumerate(examples):
        groups.setdefault(ex.group, []).append(index)
    model = ReadingModel("scores", relevance, DEFAULT_THRESHOLD, None, context=context)
    alone = ReadingModel("scores", relevance, DEFAULT_THRESHOLD, None)
    result = [0.0] * len(examples)
    for indices in groups.values():
        if has_context(examples[indices[0]]):
            raw = model.relevance_of_items([examples[i].x for i in indices])
        else:  # trained without a context: each item on its own
            raw = [alone.relevance_of(examples[i].x) for i in indices]
        for index, value in zip(indices, smooth(raw, feed_weight), strict=True):
            result[index] = value
    return result


def measure(
    model: ReadingModel,
    examples: Sequence[Example],
    threshold: float | None = None,
    section_of: Any = None,
) -> Figures:
    """Precision and recall of relevance, and agreement of sections (the model's section
    classifier, or ``section_of(example)`` when given) on labelled examples."""
    cut = model.threshold if threshold is None else threshold
    tp = fp = fn = agree = compared = 0
    scores = relevance_scores(model.relevance, examples, model.feed_weight, model.context)
    for ex, score in zip(examples, scores, strict=True):
        kept = score >= cut
        tp += kept and ex.relevant
        fp += kept and not ex.relevant
        fn += (not kept) and ex.relevant
        if ex.relevant and ex.section:
            if section_of is not None:
                guess = section_of(ex)
            elif model.sections is not None:
                probs = model.sections.probabilities(ex.x)
                guess = max(probs, key=lambda s: probs[s])
            else:
                continue
            compared += 1
            agree += guess == ex.section
    return Figures(
        len(examples),
        sum(ex.relevant for ex in examples),
        tp / (tp + fp) if tp + fp else None,
        tp / (tp + fn) if tp + fn else None,
        agree / compared if compared else None,
        compared,
    )


def _matrix(examples: Sequence[Example], context_weight: float = 0.0) -> Any:
    """The examples' features; with ``context_weight``, each row followed by its feed's mean
    features times that weight (none where has_context says no)."""
    from scipy.sparse import csr_matrix, hstack

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for ex in examples:
        indices.extend(ex.x.keys())
        data.extend(ex.x.values())
        indptr.append(len(indices))
    x = csr_matrix((data, indices, indptr), shape=(len(examples), N_FEATURES))
    if context_weight <= 0.0:
        return x
    from scipy.sparse import diags

    groups: dict[str, int] = {}
    member = [
        groups.setdefault(ex.group, len(groups)) if has_context(ex) else -1 for ex in examples
    ]
    rows = [i for i, g in enumerate(member) if g >= 0]
    assign = csr_matrix(
        ([1.0] * len(rows), ([member[i] for i in rows], rows)),
        shape=(max(len(groups), 1), len(examples)),
    )
    sizes = assign.sum(axis=1).A1
    means = diags(1.0 / (sizes + (sizes == 0))) @ assign @ x  # one row per group
    spread = csr_matrix(
        ([context_weight] * len(rows), (rows, [member[i] for i in rows])),
        shape=(len(examples), max(len(groups), 1)),
    )
    return hstack([x, spread @ means]).tocsr()


def _linear(estimator: Any, classes: Sequence[str], columns: slice = slice(None)) -> LinearModel:
    coef = estimator.coef_[:, columns]
    weights = []
    for row in coef:
        nz = row.nonzero()[0]
        weights.append({int(i): float(row[i]) for i in nz if abs(row[i]) >= MIN_WEIGHT})
    return LinearModel(
        tuple(classes), tuple(weights), tuple(float(b) for b in estimator.intercept_)
    )


def _context(estimator: Any, context_weight: float) -> LinearModel:
    """The feed-context part of a relevance estimator trained with it: weights on the feed's
    mean features (scaled back by the weight they were trained at), no intercept."""
    part = _linear(estimator, ("no", "yes"), slice(N_FEATURES, None))
    weights = tuple({k: v * context_weight for k, v in w.items()} for w in part.weights)
    return LinearModel(part.classes, weights, (0.0,))


def check_training_set(examples: Sequence[Example]) -> None:
    """Refuse a training set too small to learn from, saying what is missing."""
    positives = sum(ex.relevant for ex in examples)
    negatives = len(examples) - positives
    if len(examples) < MIN_ITEMS or positives < MIN_CLASS or negatives < MIN_CLASS:
        raise ModelError(
            f"training set too small: {len(examples)} items ({positives} relevant, "
            f"{negatives} not); at least {MIN_ITEMS} items with {MIN_CLASS} of each are needed "
            "(the model in use is kept)"
        )


def choose_threshold(
    relevance: LinearModel,
    held: Sequence[Example],
    feed_weight: float = 0.0,
    context: LinearModel | None = None,
) -> float:
    """The threshold with the best F1 on the held-back examples (DEFAULT_THRESHOLD without
    held-back positives)."""
    scores = relevance_scores(relevance, held, feed_weight, context)
    return best_f1_threshold(scores, [ex.relevant for ex in held])


def best_f1_threshold(scores: Sequence[float], relevant: Sequence[bool]) -> float:
    """The score with the best F1 as a threshold (DEFAULT_THRESHOLD without relevant items).
    Ties go to the higher threshold (fewer off-topic items)."""
    scored = sorted(zip(scores, relevant, strict=True), reverse=True)
    total = sum(r for _, r in scored)
    if not total:
        return DEFAULT_THRESHOLD
    best_f1, best_cut = -1.0, DEFAULT_THRESHOLD
    tp = 0
    for rank, (score, rel) in enumerate(scored, 1):
        tp += rel
        if rank < len(scored) and scored[rank][0] == score:
            continue  # a cut between equal scores is not a cut
        precision, recall = tp / rank, tp / total
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        if f1 > best_f1:
            best_f1, best_cut = f1, score
    return round(max(0.05, min(0.95, best_cut)), 4)


@dataclass
class Trained:
    """A trained model and how it was made."""

    model: ReadingModel
    train: list[Example] = field(default_factory=list)
    held: list[Example] = field(default_factory=list)


def fit(
    train: Sequence[Example],
    held: Sequence[Example] = (),
    *,
    c_relevance: float = C_RELEVANCE,
    c_sections: float = C_SECTIONS,
    threshold: float | None = None,
    feed_weight: float = FEED_WEIGHT,
    context_weight: float = CONTEXT_WEIGHT,
    version: str | None = None,
    with_sections: bool = True,
) -> Trained:
    """Train relevance and section classifiers (``with_sections=False``: relevance only); the
    threshold is chosen on ``held`` unless given."""
    check_training_set(train)
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ModelError("scikit-learn is not installed; `pip install scikit-learn`") from exc

    x = _matrix(train, context_weight)
    y = [int(ex.relevant) for ex in train]
    sample_weight = [ex.weight for ex in train]
    relevance_est = LogisticRegression(
        C=c_relevance, class_weight="balanced", max_iter=3000, solver="liblinear"
    )
    relevance_est.fit(x, y, sample_weight=sample_weight)
    relevance = _linear(relevance_est, ("no", "yes"), slice(0, N_FEATURES))
    context = _context(relevance_est, context_weight) if context_weight > 0.0 else None

    sectioned = [ex for ex in train if ex.relevant and ex.section]
    counts = Counter(ex.section for ex in sectioned)
    kept = [ex for ex in sectioned if counts[ex.section] >= MIN_SECTION_ITEMS]
    sections: LinearModel | None = None
    if with_sections and len({ex.section for ex in kept}) >= 2:
        sections_est = LogisticRegression(C=c_sections, max_iter=3000, solver="saga")
        sections_est.fit(
            _matrix(kept), [ex.section for ex in kept], sample_weight=[ex.weight for ex in kept]
        )
        classes = [str(c) for c in sections_est.classes_]
        sections = _linear(sections_est, classes)  # two classes: one vector, as for relevance

    cut = threshold if threshold is not None else DEFAULT_THRESHOLD
    provisional = ReadingModel("provisional", relevance, cut, sections)
    if threshold is None and held:
        cut = choose_threshold(relevance, held, feed_weight, context)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    trained_on = Counter(ex.source for ex in train)
    metrics: dict[str, float] = {}
    if held:
        figures = measure(
            ReadingModel("m", relevance, cut, sections, feed_weight=feed_weight, context=context),
            held,
        )
        for name in ("precision", "recall", "section_agreement"):
            value = getattr(figures, name)
            if value is not None:
                metrics[f"held_{name}"] = round(value, 4)
    digest = hashlib.sha1(
        json.dumps([sorted(provisional.relevance.weights[0].items())[:50], cut]).encode()
    ).hexdigest()[:6]
    model = ReadingModel(
        version=version or f"{stamp}-{digest}",
        relevance=relevance,
        threshold=cut,
        sections=sections,
        feed_weight=feed_weight,
        context=context,
        trained_on=dict(trained_on),
        metrics=metrics,
    )
    return Trained(model, list(train), list(held))


def hold_back(
    examples: Sequence[Example], share: float = 0.2
) -> tuple[list[Example], list[Example]]:
    """Split examples by group (feed): about ``share`` of the groups are held back."""
    held_groups = {
        ex.group
        for ex in examples
        if int(hashlib.sha1(ex.group.encode()).hexdigest(), 16) % 100 < share * 100
    }
    train = [ex for ex in examples if ex.group not in held_groups]
    held = [ex for ex in examples if ex.group in held_groups]
    return train, held
