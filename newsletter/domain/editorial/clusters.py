"""Story clusters: the same news from several feeds (or twice from one), found deterministically.

Two items are the same story when the first of these that applies says so:
- the same canonical link: same story;
- both announce a funding round: same story exactly when the round agrees and either the
  companies agree (one name may extend the other: 宇道生物 / 宇道生物Nutshell Therapeutics) or,
  across languages, the amounts agree within 5 % in US dollars (fixed rates, RATES_TO_USD) and
  the two share a Latin token of three letters or more ("Nutshell"); two different rounds are
  never merged, however alike their headlines;
- both announce an upcoming event: never the same story on different days or in different
  cities; across languages, the same story when day and city agree and the titles share a
  Latin token of three letters or more; otherwise the text decides;
- the same title once prefixes such as 【首发】 or "速递 |", case and punctuation are removed;
- (from here on, never for a digest (周报, 一周, weekly roundup), nor for two titles that
  number their subject differently: 第四十三批 / 第四十四批 (批, 轮 and 次 count batches, 届 and
  期 editions), or name different procurement batches: 第五批国采 / 第六批国采, a national
  batch / a regional alliance's)
- both name the same national procurement batch (第五批国采 = 第五轮集采 = 第五次集采: the
  aliases 国采, 带量采购, 集中采购 are folded into 集采 before titles are compared), and neither
  or both announce a round, neither or both an event;
- (from here on, never for two headlines that open with different subjects, "恒瑞…获批" /
  "信达…获批", or name different 《》 documents)
- their titles share at least 75 % of the smaller title's tokens (English word stems, Chinese
  character pairs);
- they share a rare entity (a 《》 name, its note in brackets left out, a name marked ® or ™,
  or a brand-like Latin word such as "CureVac" found in at most RARE_ENTITY_DF titles of the
  batch) and at least
  RARE_ENTITY_OVERLAP of the smaller title's other tokens;
- title and summary together have a TF-IDF cosine similarity of at least 0.4 (the weights
  come from the batch, so with only two items shared words weigh nothing); never between an
  invitation and another item.
Clusters are the connected groups of such pairs, except that a group with a funding round (or
an event) never joins one with a different round (or event). The cluster id is derived from
its smallest item id, so the same items always give the same clusters. Batches of more than 400 items
compare only pairs that share a link, title fingerprint, funding key, procurement batch or a
title token that is not too common, which keeps a week of 25,000 items fast.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from newsletter.domain.editorial.events import is_place_or_date_word, place_key
from newsletter.domain.numerals import chinese_number
from newsletter.domain.rounds import round_family, rounds_agree
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
# A registered or trade mark names one product in any language: "泽普生®", "Opdivo®". Of a Chinese
# name only its last two characters are kept (where the name starts is not written).
_MARKED = re.compile(r"([\u4e00-\u9fff]{2}|(?<![A-Za-z0-9-])[A-Za-z][A-Za-z0-9-]{2,})\s*[®™]")
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
        # capitalized by convention inside sentence-case titles, names of nothing
        "phase",
        "stage",
        "part",
        "class",
        "type",
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
class EventRef:
    """What clustering compares of an upcoming event: its first day (with its precision) and
    its place folded across languages (``place_key``)."""

    start: date | None
    precision: str = "day"
    place: str | None = None


@dataclass(frozen=True)
class StoryInput:
    """What clustering needs of one item."""

    id: int
    title: str
    summary: str = ""
    url: str | None = None
    financing_key: str | None = None  # "company|round" when the item announces a round
    financing: FinancingRef | None = None
    event: EventRef | None = None


def event_ref(facts: dict[str, Any] | None) -> EventRef | None:
    """The event of an item's facts, for clustering (None: it announces none)."""
    event = (facts or {}).get("event") or {}
    if not event:
        return None
    start = event.get("start")
    return EventRef(
        date.fromisoformat(str(start)) if start else None,
        str(event.get("precision") or "day"),
        place_key(event.get("place")),
    )


def story_input(
    item_id: int, title: str, summary: str, url: str | None, facts: dict[str, Any] | None
) -> StoryInput:
    """One item as clustering reads it: its text, link and the facts that decide a pair."""
    return StoryInput(
        item_id,
        title,
        summary,
        url,
        financing_key(facts),
        financing_ref(facts),
        event_ref(facts),
    )


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
    if not rounds_agree(a.round, b.round):
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


def _is_chinese(text: str) -> bool:
    return bool(_CJK.search(text))


def same_event(a: EventRef, b: EventRef, title_a: str, title_b: str) -> bool | None:
    """Whether two invitations are the same event: False when their days or their places differ
    (two events, however alike their titles); True across languages when the day and the place
    agree and the titles share a Latin token of three letters or more ("ChinaBio"); None when
    the text must decide."""
    if a.start is not None and b.start is not None:
        if "month" in (a.precision, b.precision):
            if (a.start.year, a.start.month) != (b.start.year, b.start.month):
                return False
        elif a.start != b.start:
            return False
    if a.place and b.place and "online" not in (a.place, b.place) and a.place != b.place:
        return False
    if (
        _is_chinese(title_a) != _is_chinese(title_b)
        and a.start is not None
        and a.start == b.start
        and a.place is not None
        and a.place == b.place
    ):
        return bool(_latin_tokens(title_a) & _latin_tokens(title_b))
    return None


def conflicting(a: StoryInput, b: StoryInput) -> bool:
    """Whether two items can never be one story, whatever links them through others: two
    different funding rounds, or two events on different days or in different places."""
    if a.financing is not None and b.financing is not None:
        return not same_round(a.financing, b.financing, a.title, b.title)
    if a.event is not None and b.event is not None:
        return same_event(a.event, b.event, a.title, b.title) is False
    return False


_MIXED = re.compile(r"[a-z][A-Z]|\d")


def rare_entities(title: str) -> set[str]:
    """The names in a title that can tie two reports together: 《》 titles and brand-like words.

    A Latin word inside a Chinese title is a name when capitalized ("CureVac", "Novavax"). In
    an English title a capital starts every sentence and, in title case, every word: there only
    mixed-case or digit words count ("BioNTech", "BNT162b2"), and, in sentence case (a word of four
    letters or more written in lower case), capitalized
    words after the first (or a first word followed by another capitalized one: "Wenrui Medical")."""
    # 《医疗保障法（征求意见稿）》 names the law 《医疗保障法》: a note in brackets is no part of it.
    found = {f"《{_BOOK_NOTE.sub('', m).strip()}》" for m in _BOOK.findall(title)} - {"《》"}
    if "®" in title or "™" in title:  # _MARKED backtracks over long runs of letters
        found |= {f"{m.casefold()}®" for m in _MARKED.findall(title)}
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
    found |= {
        w.casefold()
        for w in names
        if len(w) >= 3 and w.casefold() not in _COMMON_WORDS and not is_place_or_date_word(w)
    }
    return found


# One name for what Chinese healthcare titles write several ways (domain knowledge, not one
# title's words): national volume-based procurement is 集采, 国采 or (集中)带量采购; the
# regulators go by their full and short names. Applied before titles are compared.
_ALIASES = (
    (re.compile(r"国采|集中带量采购|带量采购|集中采购"), "集采"),
    (re.compile(r"国家医疗保障局"), "国家医保局"),
    (re.compile(r"国家药品监督管理局"), "国家药监局"),
    (re.compile(r"国家卫生健康委员会|国家卫生健康委|国家卫健委"), "国家卫健委"),
    (re.compile(r"中央纪委"), "中纪委"),
)
_CN_ORDINAL = r"[〇零一二两三四五六七八九十百]+|\d+"
# "第五批", "第十一轮", "第3届": the numbered instalment of a programme, list or event series.
# 批, 轮 and 次 all count a procurement batch or a list's instalment; 届 and 期 count editions.
_ORDINAL = re.compile(rf"第\s*({_CN_ORDINAL})\s*([批轮次届期])")
_ORDINAL_KIND = {"批": "batch", "轮": "batch", "次": "batch", "届": "edition", "期": "edition"}
# The Nth national procurement batch, however it is written (第五批国采, 第五轮集采, 第五次集采,
# 第五批国家组织药品集中采购): a named event many reports of a week are about (RULES.md
# decision 12). A regional alliance's batch (广东联盟第二批集采) is another programme.
_PROCUREMENT = re.compile(
    rf"第\s*({_CN_ORDINAL})\s*[批轮次]\s*(?:国家)?(?:组织)?(药品|高值医用耗材|医用耗材|耗材)?集采"
)
# Just before the batch: an alliance or a region's own programme (江苏省第二批集采); a
# province or city right before 第 only when the title does not say the batch is national
# (湖北省医保局：第十批国采 is the national batch carried out in one province).
_REGIONAL = re.compile(r"联盟|省级|省际|自治区|京津冀|长三角|区域|跨区")
_REGION_BEFORE = re.compile(r"(?<![各全])省(?!份)\s*$|(?<![上城])市(?![场值民])\s*$")
_NATIONAL_WORDS = re.compile(r"国采|国家组织|国家集采|国家集中采购|全国")


def normalized_title(title: str) -> str:
    """A title with its aliases folded (国采 → 集采, 国家医疗保障局 → 国家医保局), NFKC."""
    text = unicodedata.normalize("NFKC", title)
    for pattern, name in _ALIASES:
        text = pattern.sub(name, text)
    return text


def _number(numeral: str) -> int | None:
    if numeral.isdigit():
        return int(numeral)
    value = chinese_number(numeral)
    return int(value) if value else None


def ordinals(title: str) -> dict[str, set[int]]:
    """The instalment numbers a title names, by kind: {"batch": {43}} for 第四十三批."""
    found: dict[str, set[int]] = {}
    for m in _ORDINAL.finditer(normalized_title(title)):
        n = _number(m.group(1))
        if n is not None:
            found.setdefault(_ORDINAL_KIND[m.group(2)], set()).add(n)
    return found


def procurement_batches(title: str) -> set[str]:
    """The procurement batches a title names: national ones as "集采#5" or "集采#耗材2"
    (devices are a programme of their own), a regional alliance's as "集采#5@regional"."""
    text = normalized_title(title)
    national = bool(_NATIONAL_WORDS.search(unicodedata.normalize("NFKC", title)))
    found = set()
    for m in _PROCUREMENT.finditer(text):
        n = _number(m.group(1))
        if n is None:
            continue
        key = f"集采#{'耗材' if m.group(2) and '耗材' in m.group(2) else ''}{n}"
        before = text[max(0, m.start() - 8) : m.start()]
        regional = _REGIONAL.search(before) or (_REGION_BEFORE.search(before[-3:]) and not national)
        found.add(key + "@regional" if regional else key)
    return found


def _national(batches: set[str]) -> set[str]:
    return {b for b in batches if not b.endswith("@regional")}


def _ordinal_conflict(a: dict[str, set[int]], b: dict[str, set[int]]) -> bool:
    """Two titles that number their subject and share no number of the same kind: the 43rd and
    the 44th list, the 4th and the 5th summit, are two stories however alike their words."""
    return any(kind in b and not (numbers & b[kind]) for kind, numbers in a.items())


# A short opener before the headline proper: "重磅！", "快讯：", "遗憾！", "FDA:".
_OPENER = re.compile(r"^[^，。！!？?：:|｜丨\s]{1,4}\s*[！!？?：:|｜丨]+\s*")
# A digest names itself: it carries many stories and is none of them (RULES.md decision 1), and
# joined to two of them it would join those two.
_DIGEST = re.compile(
    r"周报|日报|早报|晚报|周刊|月报|简报|快报|一周|周览|要闻|早知道|"
    r"\b(?:weekly|daily|morning|evening) (?:round-?up|digest|briefing|brief|news)\b|"
    r"\bweek in review\b|\bthis week in\b|\bnews round-?up\b",
    re.I,
)
_BOOK_NOTE = re.compile(r"[（(][^）)]*[）)]")
_HEAD_TOKEN = re.compile(r"[a-z0-9][a-z0-9+]*|[\u3400-\u9fff]+")


def _head(title: str) -> str | None:
    """The first token of the headline proper (after prefixes and a short opener): where a
    Chinese or English headline names its subject ("恒瑞…获批" / "信达…获批")."""
    text = unicodedata.normalize("NFKC", _OPENER.sub("", _PREFIX.sub("", title.strip()[:300])))
    for m in _HEAD_TOKEN.finditer(text.lower()):
        word = m.group(0)
        if _CJK.match(word):
            return word[:2]
        if len(word) > 1 and word not in _STOP and not word.isdigit():
            return _stem(word)
    return None


def _books(title: str) -> set[str]:
    """The 《》 names of a title, without notes in brackets (《…法（征求意见稿）》 is the law)."""
    return {_BOOK_NOTE.sub("", m).strip().casefold() for m in _BOOK.findall(title)} - {""}


def _different_subjects(va: _Vector, vb: _Vector) -> bool:
    """Two headlines about different subjects however many words they share: each opens with
    a name the other never mentions ("恒瑞PD-1新适应症获批" / "信达PD-1第3项适应症获批"), or
    they name different 《》 documents (two policies)."""
    if va.books and vb.books and not any(x in y or y in x for x in va.books for y in vb.books):
        return True
    return bool(
        va.head
        and vb.head
        and va.head != vb.head
        and va.head not in vb.title
        and vb.head not in va.title
    )


@dataclass
class _Vector:
    title: set[str]
    weights: dict[str, float] = field(default_factory=dict)
    norm: float = 0.0
    fingerprint: str = ""
    rare: set[str] = field(default_factory=set)
    head: str | None = None
    books: set[str] = field(default_factory=set)
    digest: bool = False
    ordinals: dict[str, set[int]] = field(default_factory=dict)
    programmes: set[str] = field(default_factory=set)


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
    text = normalized_title(_PREFIX.sub("", text[:300]) + text[300:2000]).lower()
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
            _Vector(
                set(tokens(item.title)),
                weights,
                norm,
                title_fingerprint(item.title),
                rare,
                _head(item.title),
                _books(item.title),
                bool(_DIGEST.search(item.title)),
                ordinals(item.title),
                procurement_batches(item.title),
            )
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
    if a.event is not None and b.event is not None:
        verdict = same_event(a.event, b.event, a.title, b.title)
        if verdict is not None:
            return verdict
    if va.fingerprint and va.fingerprint == vb.fingerprint:
        return True
    if va.digest or vb.digest:
        return False  # a digest is one story only with itself (same link or title)
    if _ordinal_conflict(va.ordinals, vb.ordinals) or (
        va.programmes and vb.programmes and not va.programmes & vb.programmes
    ):
        return False  # the 43rd and the 44th list, a national and a regional batch: two stories
    if (
        _national(va.programmes) & _national(vb.programmes)
        and (a.financing is None) == (b.financing is None)
        and (a.event is None) == (b.event is None)
        and not _different_subjects(va, vb)
    ):
        # The same national procurement batch, however worded; not two companies' results in
        # it ("恒瑞…第十批集采中标" / "信达…第十批集采落选").
        return True
    if not (va.rare & vb.rare) and _different_subjects(va, vb):
        return False
    smaller = min(len(va.title), len(vb.title))
    if smaller >= 3 and len(va.title & vb.title) / smaller >= TITLE_OVERLAP:
        return True
    if (
        va.rare & vb.rare
        and (a.financing is None) == (b.financing is None)
        and (a.event is None) == (b.event is None)
        and smaller >= 3
        and len(va.title & vb.title) / smaller >= RARE_ENTITY_OVERLAP
    ):
        return True
    if (a.event is None) != (b.event is None):
        return False  # an invitation and a report (of that event or another): told apart
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
            keys |= {f"r:{r}" for r in round_family(item.financing.round)}
        keys |= {f"e:{e}" for e in vector.rare}
        keys |= {f"p:{p}" for p in _national(vector.programmes)}
        for key in keys:
            postings.setdefault(key, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for key, members in postings.items():
        if len(members) > COMMON_TOKEN_DF and key.startswith(("t:", "p:")):
            continue  # a word (or a batch) in many titles: their pairs come from other keys
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
    # The members with facts of each group: two groups never join when that would put two
    # different rounds (or two different events) in one story through a third item.
    facts: dict[int, list[int]] = {
        i: [i] for i, item in enumerate(ordered) if item.financing or item.event
    }
    for i, j in _candidate_pairs(ordered, vectors):
        ri, rj = find(i), find(j)
        if ri == rj or not same_story(ordered[i], ordered[j], vectors[i], vectors[j]):
            continue
        fi, fj = facts.get(ri, []), facts.get(rj, [])
        if any(conflicting(ordered[x], ordered[y]) for x in fi for y in fj):
            continue
        root, other = min(ri, rj), max(ri, rj)
        parent[other] = root
        if fi or fj:
            facts[root] = fi + fj
            facts.pop(other, None)
    result = {}
    for index, item in enumerate(ordered):
        root = ordered[find(index)].id
        result[item.id] = "c" + hashlib.sha1(str(root).encode()).hexdigest()[:10]
    return result
