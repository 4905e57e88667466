"""Story clusters: the same news from several feeds (or twice from one), found deterministically.

Two items are the same story when the first of these that applies says so:
- the same canonical link: same story;
- both announce a funding round: same story exactly when company and round agree (two
  different rounds are never merged, however alike their headlines);
- the same title once prefixes such as 【首发】 or "速递 |", case and punctuation are removed;
- their titles share at least 75 % of the smaller title's tokens (English word stems, Chinese
  character pairs);
- title and summary together have a TF-IDF cosine similarity of at least 0.4 (the weights
  come from the batch, so with only two items shared words weigh nothing).
Clusters are the connected groups of such pairs; the cluster id is derived from its smallest
item id, so the same items always give the same clusters. Batches of more than 400 items
compare only pairs that share a link, title fingerprint, funding key or a title token that is
not too common, which keeps a week of 25,000 items fast.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from newsletter.domain.text import title_fingerprint

TITLE_OVERLAP = 0.75
CONTENT_COSINE = 0.4
_PREFIX = re.compile(
    r"^\s*(?:【[^】]{1,10}】|[^|｜]{1,10}\s*[|｜]|(?:exclusive|breaking|update)\s*:)\s*", re.I
)
_LATIN = re.compile(r"[a-z0-9][a-z0-9+]*")
_CJK = re.compile(r"[\u3400-\u9fff]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "and",
        "or",
        "from",
        "as",
        "is",
        "are",
        "be",
        "its",
        "it",
        "this",
        "that",
        "new",
        "into",
        "over",
        "after",
        "via",
        "will",
        "has",
        "have",
        "more",
        "than",
        "about",
        "up",
        "out",
        "your",
        "our",
        "their",
        "us",
    ]
)


@dataclass(frozen=True)
class StoryInput:
    """What clustering needs of one item."""

    id: int
    title: str
    summary: str = ""
    url: str | None = None
    financing_key: str | None = None  # "company|round" when the item announces a round


@dataclass
class _Vector:
    title: set[str]
    weights: dict[str, float] = field(default_factory=dict)
    norm: float = 0.0
    fingerprint: str = ""


def financing_key(facts: dict[str, Any] | None) -> str | None:
    """ "company|round" of an item's funding announcement, for merging reports of the same round."""
    fin = (facts or {}).get("financing") or {}
    if not fin:
        return None
    if not fin.get("company"):
        # No name: two such rounds are one story only with the same round and amount text,
        # never merged with a named company's round by their similar headlines.
        return f"?|{fin.get('round')}|{fin.get('amount_text')}"
    return f"{str(fin['company']).casefold()}|{fin.get('round')}"


def _stem(word: str) -> str:
    # Crude but language-free: the first five letters ("finalizes" and "final" agree).
    return word[:5] if word.isalpha() else word


def tokens(text: str) -> list[str]:
    """English word stems and Chinese character bigrams."""
    text = text.strip()
    text = unicodedata.normalize("NFKC", _PREFIX.sub("", text[:300]) + text[300:2000]).lower()
    out = [_stem(w) for w in _LATIN.findall(text) if w not in _STOP and len(w) > 1]
    for run in _CJK.findall(text):
        if len(run) == 1:
            out.append(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def _vectors(items: Sequence[StoryInput]) -> list[_Vector]:
    docs = [tokens(i.title) * 2 + tokens(i.summary[:600]) for i in items]
    df: Counter[str] = Counter()
    for doc in docs:
        df.update(set(doc))
    n = len(items)
    vectors = []
    for item, doc in zip(items, docs, strict=True):
        tf = Counter(doc)
        weights = {t: c * math.log((1 + n) / (1 + df[t])) for t, c in tf.items()}
        weights = {t: w for t, w in weights.items() if w > 0}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        vectors.append(
            _Vector(set(tokens(item.title)), weights, norm, title_fingerprint(item.title))
        )
    return vectors


def _cosine(a: _Vector, b: _Vector) -> float:
    if not a.norm or not b.norm:
        return 0.0
    small, large = (a, b) if len(a.weights) < len(b.weights) else (b, a)
    return sum(w * large.weights.get(t, 0.0) for t, w in small.weights.items()) / (a.norm * b.norm)


def same_story(a: StoryInput, b: StoryInput, va: _Vector, vb: _Vector) -> bool:
    """Whether two items report the same news (see the module docstring)."""
    if a.url and a.url == b.url:
        return True
    if a.financing_key and b.financing_key:
        # Two funding announcements are one story exactly when company and round agree.
        return a.financing_key == b.financing_key
    if va.fingerprint and va.fingerprint == vb.fingerprint:
        return True
    smaller = min(len(va.title), len(vb.title))
    if smaller >= 3 and len(va.title & vb.title) / smaller >= TITLE_OVERLAP:
        return True
    return _cosine(va, vb) >= CONTENT_COSINE


ALL_PAIRS_UP_TO = 400  # below this many items every pair is compared
COMMON_TOKEN_DF = 50  # above it, a title token is too common to suggest the same story


def _candidate_pairs(items: Sequence[StoryInput], vectors: list[_Vector]) -> list[tuple[int, int]]:
    """Pairs worth comparing, in a fixed order: all of them for a small batch; for a large one,
    pairs that share a link, fingerprint, financing key or a not-too-common title token (the
    same story told twice shares words of its title)."""
    n = len(items)
    if n <= ALL_PAIRS_UP_TO:
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    postings: dict[str, list[int]] = {}
    for index, (item, vector) in enumerate(zip(items, vectors, strict=True)):
        keys = {f"t:{t}" for t in vector.title}
        if item.url:
            keys.add(f"u:{item.url}")
        if vector.fingerprint:
            keys.add(f"f:{vector.fingerprint}")
        if item.financing_key:
            keys.add(f"k:{item.financing_key}")
        for key in keys:
            postings.setdefault(key, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for key, members in postings.items():
        if len(members) > COMMON_TOKEN_DF and key.startswith("t:"):
            continue
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs.add((members[a], members[b]))
    return sorted(pairs)


def cluster_ids(items: Sequence[StoryInput]) -> dict[int, str]:
    """Map every item id to its cluster id (deterministic for the same items)."""
    ordered = sorted(items, key=lambda i: i.id)
    parent = list(range(len(ordered)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    vectors = _vectors(ordered)
    for i, j in _candidate_pairs(ordered, vectors):
        if find(i) != find(j) and same_story(ordered[i], ordered[j], vectors[i], vectors[j]):
            parent[max(find(i), find(j))] = min(find(i), find(j))
    result = {}
    for index, item in enumerate(ordered):
        root = ordered[find(index)].id
        result[item.id] = "c" + hashlib.sha1(str(root).encode()).hexdigest()[:10]
    return result
