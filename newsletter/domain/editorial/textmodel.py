"""A small linear text model: hashed character n-grams, scored in pure Python.

The relevance and section classifiers (docs/editorial.md, "Relevance") are linear models over
the same features, so they are trained with scikit-learn (``newsletter.learning``) and applied
here without it: no NumPy, nothing downloaded, a few microseconds per item.

Features: the title and the first part of the summary (unless it only repeats the title), NFKC-normalised and case-folded; character
n-grams of 1 to 3 characters (Chinese needs no segmenter for these), plus whole words of Latin
text; each hashed with CRC-32 into ``n_features`` buckets, weighted 1 + log(count) (the summary
at half weight) and scaled to unit length. Shipped training data are stored in this form only
(bucket numbers and weights), never the texts.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

N_FEATURES = 1 << 18
SUMMARY_CHARS = 200
SUMMARY_WEIGHT = 0.5
NGRAMS = (1, 2, 3)
_WORD = re.compile(r"[a-z][a-z0-9'-]{2,}")
_SPACE = re.compile(r"\s+")

Features = dict[int, float]


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def repeats_title(title: str, summary: str) -> bool:
    """Whether a summary only repeats the title (title-only feeds fill it with the title)."""
    t, s = normalise(title), normalise(summary)
    return bool(t) and (s in t or (s.startswith(t) and len(s) - len(t) < 40))


_CHAR_BUCKETS: dict[str, int] = {}  # character n-gram -> bucket (for N_FEATURES)
_WORD_BUCKETS: dict[str, int] = {}  # word -> bucket (for N_FEATURES)
_CACHE_MAX = 1 << 19


def _bucket(token: str, n_features: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % n_features


def _buckets_of(
    tokens: Counter[str], prefix: str, cache: dict[str, int], n_features: int, into: dict[int, int]
) -> None:
    """Add each token's count to its bucket (hashes cached for the usual feature count)."""
    if n_features != N_FEATURES:
        cache = {}
    elif len(cache) > _CACHE_MAX:
        cache.clear()
    get = cache.get
    for token, count in tokens.items():
        key = get(token)
        if key is None:
            key = cache[token] = zlib.crc32((prefix + token).encode("utf-8")) % n_features
        into[key] = into.get(key, 0) + count


def _counts(text: str, n_features: int, counts: dict[int, float], weight: float) -> None:
    text = normalise(text)
    if not text:
        return
    padded = f" {text} "
    grams: Counter[str] = Counter()
    for n in NGRAMS:
        grams.update([padded[start : start + n] for start in range(len(padded) - n + 1)])
    for blank in (" ", "  ", "   "):
        grams.pop(blank, None)
    buckets: dict[int, int] = {}
    _buckets_of(grams, "c", _CHAR_BUCKETS, n_features, buckets)
    _buckets_of(Counter(_WORD.findall(text)), "w", _WORD_BUCKETS, n_features, buckets)
    log = math.log
    for key, count in buckets.items():
        counts[key] = counts.get(key, 0.0) + weight * (1.0 + log(count))


def features(title: str, summary: str = "", n_features: int = N_FEATURES) -> Features:
    """The hashed, unit-length feature vector of an item (bucket -> weight)."""
    counts: dict[int, float] = {}
    _counts(title, n_features, counts, 1.0)
    if summary and not repeats_title(title, summary):
        _counts(summary[:SUMMARY_CHARS], n_features, counts, SUMMARY_WEIGHT)
    norm = math.sqrt(sum(v * v for v in counts.values()))
    if norm == 0.0:
        return {}
    return {k: v / norm for k, v in counts.items()}


def probabilities(classes: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    """Class probabilities from raw scores: logistic for two classes (one score, the second
    class's), softmax for more."""
    if len(classes) == 2:
        p = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, scores[0]))))
        return {classes[0]: 1.0 - p, classes[1]: p}
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return {c: e / total for c, e in zip(classes, exps, strict=True)}


@dataclass(frozen=True)
class LinearModel:
    """One linear classifier: a weight vector per class (sparse) and an intercept per class.

    Two classes are stored as one vector (the second class's score), as scikit-learn does."""

    classes: tuple[str, ...]
    weights: tuple[Mapping[int, float], ...]
    intercepts: tuple[float, ...]

    @cached_property
    def _rows(self) -> dict[int, tuple[float, ...]]:
        """Bucket -> its weight in each vector: one lookup per feature, whatever the classes."""
        rows: dict[int, list[float]] = {}
        for index, vector in enumerate(self.weights):
            for key, weight in vector.items():
                rows.setdefault(key, [0.0] * len(self.weights))[index] = weight
        return {key: tuple(row) for key, row in rows.items()}

    def decision(self, x: Features) -> list[float]:
        """The raw score of each stored vector."""
        if len(self.weights) == 1:  # two classes, one vector: a plain sparse dot product
            get = self.weights[0].get
            return [self.intercepts[0] + sum([v * get(k, 0.0) for k, v in x.items()])]
        scores = list(self.intercepts)
        rows = self._rows
        for key, value in x.items():
            row = rows.get(key)
            if row is not None:
                for index, weight in enumerate(row):
                    scores[index] += value * weight
        return scores

    def probabilities(self, x: Features) -> dict[str, float]:
        """Class probabilities (logistic for two classes, softmax for more)."""
        return probabilities(self.classes, self.decision(x))


@dataclass(frozen=True)
class ReadingModel:
    """The relevance and section classifiers of one newsletter, with their provenance."""

    version: str
    relevance: LinearModel  # classes ("no", "yes")
    threshold: float  # relevance probability at or above which an item is kept
    sections: LinearModel | None  # classes are section ids (of relevant items)
    n_features: int = N_FEATURES
    feed_weight: float = 0.0  # share of the feed's mean score in an item's relevance (see smooth)
    trained_on: Mapping[str, int] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    def features(self, title: str, summary: str) -> Features:
        """An item's features for this model (compute once, then score relevance and section)."""
        return features(title, summary, self.n_features)

    def relevance_of(self, x: Features) -> float:
        """Probability (0-1) that the item with these features belongs in this newsletter."""
        return self.relevance.probabilities(x)["yes"]

    def sections_of(self, x: Features) -> dict[str, float]:
        """Probability of each section, if the model has a section classifier."""
        return {} if self.sections is None else self.sections.probabilities(x)

    def relevance_score(self, title: str, summary: str) -> float:
        """Probability (0-1) that the item belongs in this newsletter."""
        return self.relevance_of(self.features(title, summary))

    def section_scores(self, title: str, summary: str) -> dict[str, float]:
        """Probability of each section, if the model has a section classifier."""
        return self.sections_of(self.features(title, summary))


FEED_PRIOR_MIN_ITEMS = 3


def smooth(scores: Sequence[float], feed_weight: float) -> list[float]:
    """Relevance scores of one feed's items, each pulled towards the feed's mean score by
    ``feed_weight``: a vague title from a healthcare trade account reads as that account's
    items do, and one from a general business account likewise. Fewer than
    FEED_PRIOR_MIN_ITEMS items: unchanged."""
    if feed_weight <= 0.0 or len(scores) < FEED_PRIOR_MIN_ITEMS:
        return list(scores)
    mean = sum(scores) / len(scores)
    return [(1.0 - feed_weight) * s + feed_weight * mean for s in scores]


def top(scores: Mapping[str, float], allowed: Sequence[str]) -> tuple[str, float] | None:
    """The best-scoring section among those allowed."""
    best = [(p, s) for s, p in scores.items() if s in allowed]
    if not best:
        return None
    p, s = max(best)
    return s, p
