"""A small linear text model: hashed character n-grams, scored with NumPy.

The relevance and section classifiers (docs/editorial.md, "Relevance") are linear models over
the same features, so they are trained with scikit-learn (``newsletter.learning``) and applied
here without it: NumPy only, imported on first use (where items are read: the parsing
processes, never the start-up of `newsletter ingest`), nothing downloaded, about 85 µs an item.

Features: the title and the first 200 characters of the summary (unless it only repeats the
title), NFKC-normalised and case-folded; character n-grams of 1 to 3 characters (Chinese needs
no segmenter for these) of each, plus whole words of Latin text; n-grams hashed arithmetically
over their code points (a 64-bit polynomial, then multiply-shift) and words with CRC-32, into
``n_features`` buckets, weighted 1 + log(count) (the summary at half weight) and scaled to unit
length. Shipped training data are stored in this form only (bucket numbers and weights), never
the texts. An item's features are a ``Vector`` (sorted buckets and weights as arrays) where
items are read, a dict (bucket -> weight) in training data; models score both alike.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

N_FEATURES = 1 << 18
SUMMARY_CHARS = 200
SUMMARY_WEIGHT = 0.5
NGRAMS = (1, 2, 3)
_WORD = re.compile(r"[a-z][a-z0-9'-]{2,}")

Features = dict[int, float]


@lru_cache(maxsize=512)
def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed. Cached: the reading of a feed asks for each
    title and summary several times (the model's features of every item first, then the rules'
    texts of each item twice); 512 entries hold a feed of about 170 items."""
    # str.split() and the regex \s+ split on the same Unicode whitespace (Py_UNICODE_ISSPACE):
    # the same text as re.sub(r"\s+", " ", ...).strip(), several times faster.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def repeats_title(title: str, summary: str) -> bool:
    """Whether a summary only repeats the title (title-only feeds fill it with the title)."""
    t, s = normalise(title), normalise(summary)
    return bool(t) and (s in t or (s.startswith(t) and len(s) - len(t) < 40))


_WORD_BUCKETS: dict[str, int] = {}  # word -> bucket (for N_FEATURES)
_CACHE_MAX = 1 << 16
# Character n-grams are hashed arithmetically over the text's code points, all n-grams of a
# text at once (NumPy): a polynomial rolling hash over 64 bits, then multiply-shift hashing.
_PRIME = 0x100000001B3
_INT32_MAX = (1 << 31) - 1
_MIX = 0xBF58476D1CE4E5B9


def _bucket(token: str, n_features: int) -> int:
    """A whole word's bucket (CRC-32 of the token)."""
    return zlib.crc32(token.encode("utf-8")) % n_features


def _numpy() -> Any:
    """NumPy, imported where items are read (parsing processes), never at start-up."""
    import numpy

    return numpy


@dataclass(frozen=True, eq=False)
class Vector:
    """An item's features as two arrays: sorted buckets and their weights (unit length)."""

    keys: Any  # numpy int64 array, sorted, unique
    values: Any  # numpy float64 array

    def as_dict(self) -> Features:
        """Bucket -> weight, as stored in training data."""
        return dict(zip(self.keys.tolist(), self.values.tolist(), strict=True))

    @staticmethod
    def of(x: Features) -> Vector:
        """The vector of stored features."""
        np = _numpy()
        keys = np.fromiter(x.keys(), dtype=np.int64, count=len(x))
        values = np.fromiter(x.values(), dtype=np.float64, count=len(x))
        order = np.argsort(keys)
        return Vector(keys[order], values[order])


def _char_buckets(title: str, summary: str, n_features: int, np: Any) -> Any:
    """``bucket * 2`` of every character n-gram of the normalised title and ``bucket * 2 + 1``
    of the summary's (with repeats): both, each padded with a blank, are hashed as one string,
    without the n-grams that span the two."""
    title, summary = (f" {title} " if title else ""), (f" {summary} " if summary else "")
    points = np.frombuffer((title + summary).encode("utf-32-le"), dtype=np.uint32)
    points = points.astype(np.uint64)
    first = len(title)  # where the summary starts
    in_title, in_summary = [], []
    gram = points
    for n in range(1, NGRAMS[-1] + 1):
        if n > 1:  # the n-gram starting at each position, as a polynomial of its code points
            gram = gram[:-1] * np.uint64(_PRIME) + points[n - 1 :]
        if n in NGRAMS:
            in_title.append(gram[: max(0, first - n + 1)])
            in_summary.append(gram[first:])
    grams = np.concatenate(in_title + in_summary)
    buckets = ((grams * np.uint64(_MIX)) >> np.uint64(32)) % np.uint64(n_features)
    keys = buckets.astype(np.int64) * 2
    keys[sum(len(part) for part in in_title) :] += 1
    return keys


def _word_buckets(text: str, n_features: int) -> list[int]:
    """The bucket of every whole Latin word (with repeats; hashes cached)."""
    words = _WORD.findall(text)
    if not words:
        return []
    cache: dict[str, int] = _WORD_BUCKETS if n_features == N_FEATURES else {}
    if len(cache) > _CACHE_MAX:
        cache.clear()
    get = cache.get
    result = []
    for word in words:
        key = get(word)
        if key is None:
            key = cache[word] = _bucket("w" + word, n_features)
        result.append(key)
    return result


def _summary_text(title: str, summary: str) -> str:
    """The normalised part of the summary that is read ("" when it only repeats the title),
    as repeats_title decides, without normalising all of a long summary."""
    if not summary:
        return ""
    t = normalise(title)
    room = len(t) + 40 + SUMMARY_CHARS
    s = normalise(summary[:room])
    if len(summary) > room and len(s) < len(t) + 40:
        s = normalise(summary)  # many blanks or compatibility characters: read it all
    if t and (s in t or (s.startswith(t) and len(s) - len(t) < 40)):
        return ""
    return s[:SUMMARY_CHARS].rstrip()


def _weigh(keys: Any, np: Any) -> tuple[Any, Any]:
    """Hashed keys (bucket * 2 + part, 0 title, 1 summary; any high bits above) counted: the
    distinct buckets, sorted, and their weights, 1 + log(count) per part, the summary's times
    SUMMARY_WEIGHT, the two parts summed. Sorts ``keys`` in place."""
    keys.sort()
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    counts = np.diff(np.append(starts, len(keys)))
    keys = keys[starts]
    values = (1.0 + np.log(counts)) * np.where(keys & 1, SUMMARY_WEIGHT, 1.0)
    keys >>= 1
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return keys[starts], np.add.reduceat(values, starts)


def vector(title: str, summary: str = "", n_features: int = N_FEATURES) -> Vector:
    """The hashed, unit-length feature vector of an item, as arrays (the reading's form): each
    bucket weighted 1 + log(count) per text, the summary's times SUMMARY_WEIGHT."""
    np = _numpy()
    texts = (normalise(title), _summary_text(title, summary))
    if not any(texts):
        return Vector(np.zeros(0, dtype=np.int64), np.zeros(0))
    keys = _char_buckets(*texts, n_features, np)
    words = [2 * b + i for i, text in enumerate(texts) for b in _word_buckets(text, n_features)]
    if words:
        keys = np.concatenate((keys, np.array(words, dtype=np.int64)))
    keys, values = _weigh(keys, np)
    return Vector(keys, values / math.sqrt(float(values @ values)))


def vectors(items: Sequence[tuple[str, str]], n_features: int = N_FEATURES) -> list[Vector]:
    """``[vector(title, summary) for title, summary in items]``, for all the items at once: the
    n-grams of every text hashed, sorted and counted in one pass each (a feed's items are read
    together; vector's NumPy calls cost more than their work on one item's few hundred
    n-grams). The same vectors: integers hashed, counted and summed as vector does, and each
    item's length taken on its own array (tests/domain/editorial/test_textmodel.py)."""
    np = _numpy()
    texts = [(normalise(title), _summary_text(title, summary)) for title, summary in items]
    # Each item's keys get its index above them (key < 2 * n_features: bucket * 2 + part).
    span = 2 * n_features
    padded: list[str] = []
    sizes: list[int] = []  # of each text as padded, title and summary of each item in turn
    words: list[int] = []
    for index, pair in enumerate(texts):
        for part, text in enumerate(pair):
            padded.append(f" {text} " if text else "")
            sizes.append(len(padded[-1]))
            words += [index * span + 2 * b + part for b in _word_buckets(text, n_features)]
    points = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32)
    points = points.astype(np.uint64)
    lengths = np.array(sizes, dtype=np.int64)
    ends = np.repeat(np.cumsum(lengths), lengths)  # where each position's text ends
    text_of = np.repeat(np.arange(len(sizes), dtype=np.int64), lengths)
    owner = (text_of >> 1) * span + (text_of & 1)  # item index * span + part (0 title, 1 summary)
    position = np.arange(len(points), dtype=np.int64)
    found = []
    gram = points
    for n in range(1, NGRAMS[-1] + 1):
        if n > 1:  # the n-gram starting at each position, as a polynomial of its code points
            gram = gram[:-1] * np.uint64(_PRIME) + points[n - 1 :]
        if n in NGRAMS:
            inside = position[: len(gram)] + (n - 1) < ends[: len(gram)]  # within one text
            buckets = ((gram[inside] * np.uint64(_MIX)) >> np.uint64(32)) % np.uint64(n_features)
            found.append(buckets.astype(np.int64) * 2 + owner[: len(gram)][inside])
    found.append(np.array(words, dtype=np.int64))
    keys = np.concatenate(found)
    if not len(keys):  # no item has a text
        return [Vector(np.zeros(0, dtype=np.int64), np.zeros(0)) for _ in texts]
    if len(texts) * span <= _INT32_MAX:
        # Sorted as 32-bit integers when every key fits (a feed of up to 4,095 items): the same
        # order, and the sort, the largest step here, takes about half the time.
        keys = keys.astype(np.int32)
    keys, values = _weigh(keys, np)
    keys = keys.astype(np.int64)  # Vector keys are int64, as vector makes them
    item_of = keys // n_features
    bounds = np.searchsorted(item_of, np.arange(len(texts) + 1)).tolist()
    result = []
    for index in range(len(texts)):
        first, last = bounds[index], bounds[index + 1]
        if first == last:
            result.append(Vector(np.zeros(0, dtype=np.int64), np.zeros(0)))
            continue
        # A copy, as vector's own array: its length is summed by the same dot product.
        item_values = values[first:last].copy()
        norm = math.sqrt(float(item_values @ item_values))
        result.append(Vector(keys[first:last] - index * n_features, item_values / norm))
    return result


def features(title: str, summary: str = "", n_features: int = N_FEATURES) -> Features:
    """The hashed, unit-length feature vector of an item (bucket -> weight)."""
    return vector(title, summary, n_features).as_dict()


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
    def _table(self) -> tuple[Any, Any, Any]:
        """The weights as arrays: bucket -> row (0: no weight), the rows (one column per
        vector), the intercepts; built on first use, where items are read."""
        np = _numpy()
        keys = sorted({key for vector in self.weights for key in vector})
        top = keys[-1] + 1 if keys else 0
        index = np.zeros(top + 1, dtype=np.int32)  # index[top]: any bucket beyond the weights
        index[keys] = np.arange(1, len(keys) + 1, dtype=np.int32)
        rows = np.zeros((len(keys) + 1, len(self.weights)))
        for column, vector in enumerate(self.weights):
            if vector:
                rows[index[list(vector)], column] = list(vector.values())
        return index, rows, np.array(self.intercepts, dtype=np.float64)

    def scores(self, x: Vector) -> list[float]:
        """The raw score of each stored vector: one gather and one product for all of them."""
        index, rows, intercepts = self._table
        if not len(x.keys):
            return [float(b) for b in intercepts]
        np = _numpy()
        found = rows[index[np.minimum(x.keys, len(index) - 1)]]
        return [float(s) for s in x.values @ found + intercepts]

    def decision(self, x: Features | Vector) -> list[float]:
        """The raw score of each stored vector."""
        return self.scores(x if isinstance(x, Vector) else Vector.of(x))

    def probabilities(self, x: Features | Vector) -> dict[str, float]:
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
    # Feed context: one weight vector applied to the mean features of the feed's items read
    # together, added to each item's relevance score (logit); None: no context.
    context: LinearModel | None = None
    trained_on: Mapping[str, int] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)

    def features(self, title: str, summary: str) -> Vector:
        """An item's features for this model (compute once, then score relevance and section)."""
        return vector(title, summary, self.n_features)

    def features_of_items(self, items: Sequence[tuple[str, str]]) -> list[Vector]:
        """The features of several items (title, summary), computed together."""
        return vectors(items, self.n_features)

    def relevance_of(self, x: Features | Vector) -> float:
        """Probability (0-1) that the item with these features belongs in this newsletter (read
        alone: its feed context is the item itself)."""
        return self.relevance_of_items([x])[0]

    def relevance_of_items(self, xs: Sequence[Features | Vector]) -> list[float]:
        """Relevance of several items of one feed read together: each item's score (logit) plus
        the context weights applied to the mean of their features (the same shift for all)."""
        raw = [self.relevance.decision(x)[0] for x in xs]
        if self.context is not None and raw:
            shift = sum(self.context.decision(x)[0] for x in xs) / len(xs)
            raw = [r + shift for r in raw]
        return [probabilities(self.relevance.classes, [r])[self.relevance.classes[1]] for r in raw]

    def sections_of(self, x: Features | Vector) -> dict[str, float]:
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
