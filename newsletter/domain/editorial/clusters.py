"""Story clusters: the same news from several feeds (or twice from one), found deterministically.

Two items are the same story when the first of these that applies says so:
- the same canonical link: same story;
- both announce a funding round: same story exactly when the round agrees and either the
  companies agree (one name may extend the other: 宇道生物 / 宇道生物Nutshell Therapeutics) or,
  across languages, the amounts agree within 5 % in US dollars (fixed rates, RATES_TO_USD) and
  the two share a Latin token of three letters or more ("Nutshell"); two different rounds are
  never merged, however alike their headlines;
- they share a rare entity (a 《》 name, or a brand-like Latin word such as "CureVac" found in
  at most RARE_ENTITY_DF titles of the batch) and at least RARE_ENTITY_OVERLAP of the smaller
  title's other tokens;
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
RARE_ENTITY_DF = 10  # a name in more titles than this is a topic, not one story
RARE_ENTITY_OVERLAP = 0.2
AMOUNT_TOLERANCE = 0.05
# Fixed, documented rates (docs/editorial.md, "Stories"): only to tell whether two reports of
# a round in different currencies name the same sum, never to show or total an amount.
RATES_TO_USD = {
    "USD": 1.0,
    "CNY": 0.14,
    "EUR": 1.08,
    "GBP": 1.27,
    "HKD": 0.128,
    "JPY": 0.0067,
    "SGD": 0.74,
    "KRW": 0.00072,
}
_BOOK = re.compile(r"《([^》]{2,40})》")
# A brand-like Latin word: a capital and a lower-case letter, or letters with digits
# ("CureVac", "Novavax", "BNT162b2"); all-capital acronyms (FDA, ASCO) are too common.
_BRAND = re.compile(
    r"(?<![A-Za-z0-9])([A-Z][a-z]+[A-Z]?[A-Za-z0-9]*|[A-Za-z]+\d+[A-Za-z0-9]*)(?![A-Za-z0-9])"
)
_COMMON_WORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "from",
        "this",
        "that",
        "new",
        "how",
        "why",
        "what",
        "who",
        "when",
        "series",
        "raises",
        "lands",
        "secures",
        "closes",
        "funding",
        "round",
        "million",
        "billion",
        "china",
        "chinese",
        "global",
        "nature",
        "science",
        "cell",
        "lancet",
        "health",
        "medical",
        "pharma",
        "biotech",
        "therapeutics",
        "bio",
        "inc",
        "ltd",
        "corp",
        "group",
        "capital",
        "ventures",
    ]
)
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
class FinancingRef:
    """What clustering compares of a funding round: company, round, amount in US dollars."""

    company: str
    round: str
    usd_low: float | None = None


@dataclass(frozen=True)
class StoryInput:
    """What clustering needs of one item."""

    id: int
    title: str
    summary: str = ""
    url: str | None = None
    financing_key: str | None = None  # "company|round" when the item announces a round
    financing: FinancingRef | None = None


def financing_ref(facts: dict[str, Any] | None) -> FinancingRef | None:
    """The round of an item's facts, for clustering (None: it announces none)."""
    fin = (facts or {}).get("financing") or {}
    if not fin:
        return None
    low, rate = fin.get("amount_low"), RATES_TO_USD.get(str(fin.get("currency")))
    usd = float(low) * rate if low is not None and rate is not None else None
    return FinancingRef(str(fin.get("company") or ""), str(fin.get("round")), usd)


def _latin_tokens(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9]{2,}", text.casefold()) if w not in _COMMON_WORDS}


def same_round(a: FinancingRef, b: FinancingRef, title_a: str, title_b: str) -> bool:
    """Whether two funding announcements are the same round (see the module docstring)."""
    if a.round != b.round:
        return False
    ca, cb = a.company.casefold(), b.company.casefold()
    if (
        ca
        and cb
        and (ca == cb or (min(len(ca), len(cb)) >= 2 and (ca.startswith(cb) or cb.startswith(ca))))
    ):
        return True
    if a.usd_low is None or b.usd_low is None or not a.usd_low or not b.usd_low:
        return False
    if abs(a.usd_low - b.usd_low) > AMOUNT_TOLERANCE * max(a.usd_low, b.usd_low):
        return False
    # Same round and sum: one Latin token of the names (or titles) in common, never none.
    return bool(_latin_tokens(f"{a.company} {title_a}") & _latin_tokens(f"{b.company} {title_b}"))


_MIXED = re.compile(r"[a-z][A-Z]|\d")


def rare_entities(title: str) -> set[str]:
    """The names in a title that can tie two reports together: 《》 titles and brand-like words.

    A Latin word inside a Chinese title is a name when capitalized ("CureVac", "Novavax"). In
    an English title a capital starts every sentence and, in title case, every word: there only
    mixed-case or digit words count ("BioNTech", "BNT162b2"), and, in sentence case (a word of four
    letters or more written in lower case), capitalized
    words after the first (or a first word followed by another capitalized one: "Wenrui Medical")."""
    found = {f"《{m}》" for m in _BOOK.findall(title)}
    words = [m.group(1) for m in _BRAND.finditer(title)]
    if _CJK.search(title):
        names = words
    else:
        latin = re.findall(r"[A-Za-z][\w'-]*", title)
        long_words = [w for w in latin if len(w) >= 4]
        title_case = bool(long_words) and all(w[0].isupper() for w in long_words)
        names = []
        for index, word in enumerate(latin):
            if not _BRAND.fullmatch(word):
                continue
            if _MIXED.search(word):
                names.append(word)
            elif title_case:
                continue
            elif index > 0 or (len(latin) > 1 and latin[1][:1].isupper()):
                names.append(word)
    found |= {w.casefold() for w in names if len(w) >= 3 and w.casefold() not in _COMMON_WORDS}
    return found


@dataclass
class _Vector:
    title: set[str]
    weights: dict[str, float] = field(default_factory=dict)
    norm: float = 0.0
    fingerprint: str = ""
    rare: set[str] = field(default_factory=set)


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
    entities = [rare_entities(i.title) for i in items]
    entity_df: Counter[str] = Counter()
    for found in entities:
        entity_df.update(found)
    vectors = []
    for item, doc, found in zip(items, docs, entities, strict=True):
        tf = Counter(doc)
        weights = {t: c * math.log((1 + n) / (1 + df[t])) for t, c in tf.items()}
        weights = {t: w for t, w in weights.items() if w > 0}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        rare = {e for e in found if entity_df[e] <= RARE_ENTITY_DF}
        vectors.append(
            _Vector(set(tokens(item.title)), weights, norm, title_fingerprint(item.title), rare)
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
    if a.financing is not None and b.financing is not None:
        return same_round(a.financing, b.financing, a.title, b.title)
    if a.financing_key and b.financing_key:
        # Two funding announcements are one story exactly when company and round agree.
        return a.financing_key == b.financing_key
    if va.fingerprint and va.fingerprint == vb.fingerprint:
        return True
    smaller = min(len(va.title), len(vb.title))
    if smaller >= 3 and len(va.title & vb.title) / smaller >= TITLE_OVERLAP:
        return True
    if (
        va.rare & vb.rare
        and (a.financing is None) == (b.financing is None)
        and smaller >= 3
        and len(va.title & vb.title) / smaller >= RARE_ENTITY_OVERLAP
    ):
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
        if item.financing is not None:
            keys.add(f"r:{item.financing.round}")
        keys |= {f"e:{e}" for e in vector.rare}
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
