"""An analyst's brief of one article: two or three core insights, then themed groups of points,
every point a sentence of the article citing its paragraph.

Extractive, offline and deterministic. Sentences are found and scored as for key points
(keypoints.py: body sentences only, never the title; scored by the article's recurring terms).
The insights are the best whole statements, one per paragraph. The groups come from the
article's own subheadings when it has at least two that head real text; otherwise from themes:
the terms (English words and two-word phrases, Chinese character runs) that recur in several
sentences, picked greedily so that each theme covers sentences the others do not, and shown as
the group's heading (a term of the article, never invented text).

Only real body text gives a brief: at least MIN_SENTENCES body sentences in MIN_PARAGRAPHS
paragraphs, mostly prose. A title-only item, a short teaser, a one-paragraph abstract or a list
of links gets none (it keeps its key points, or nothing). docs/editorial.md, "Core insights",
gives every rule and threshold.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from newsletter.domain.editorial.clusters import tokens
from newsletter.domain.editorial.keypoints import (
    MIN_CHARS,
    body_sentences,
    sentence_scores,
    shorten,
)
from newsletter.domain.paragraphs import HEADING_CHARS, TextBlock
from newsletter.domain.text import has_cjk

MIN_SENTENCES = 8  # body sentences (keypoints.body_sentences) for a brief
MIN_PARAGRAPHS = 3
MIN_POINTS = 6  # sentences fit to be points (is_point) among them
MIN_STATEMENTS = 6  # ... and whole sentences (is_statement) among those
MIN_GROUPS = 2
MAX_TEXT_CHARS = 40_000  # a brief reads the article's first 40,000 characters of text (cost)
MAX_INSIGHTS = 3  # two when there are fewer than INSIGHTS_3 fit sentences
INSIGHTS_3 = 12
MAX_GROUPS = 4
MAX_GROUP_POINTS = 3
MIN_THEME_SENTENCES = 2  # a theme (no subheadings) recurs in at least this many sentences,
MIN_WORD_SENTENCES = 3  # ... a single English word or two Chinese characters in this many
MAX_THEME_SHARE = 0.6  # ... and in at most this share of them (else it is the subject)
SAME_SENTENCE = 0.6  # token overlap (Jaccard) above which two insights say the same thing

BACK_MATTER = -2  # the section of paragraphs under "References", "Sources", 参考文献 ...
_BACK_MATTER = re.compile(
    r"^(?:references?|sources?(?: and resources)?|resources|further reading|read more|"
    r"related(?: articles| stories| reading)?|see also|notes|footnotes|credits|"
    r"参考文献|参考资料|资料来源|相关阅读|延伸阅读|推荐阅读|往期回顾|往期推荐|免责声明)$",
    re.IGNORECASE,
)

GroupSource = Literal["subheading", "theme"]


@dataclass(frozen=True)
class Point:
    """One sentence of the article and the 1-based number of its paragraph (headings are not
    counted, as for key points)."""

    text: str
    paragraph: int

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"text": self.text, "paragraph": self.paragraph}


@dataclass(frozen=True)
class PointGroup:
    """Points under one heading: an article subheading, or a term the sentences share."""

    heading: str
    points: tuple[Point, ...]
    source: GroupSource

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "heading": self.heading,
            "source": self.source,
            "points": [p.to_dict() for p in self.points],
        }


@dataclass(frozen=True)
class Brief:
    """Core insights, then themed groups of points, in article order."""

    insights: tuple[Point, ...]
    groups: tuple[PointGroup, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON form (docs/issue-json.md, item "brief")."""
        return {
            "insights": [p.to_dict() for p in self.insights],
            "groups": [g.to_dict() for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Brief:
        """A brief from its JSON form (stored issue content)."""
        return cls(
            insights=tuple(_point_from(p) for p in data.get("insights") or []),
            groups=tuple(
                PointGroup(
                    heading=str(g["heading"]),
                    points=tuple(_point_from(p) for p in g.get("points") or []),
                    source="subheading" if g.get("source") == "subheading" else "theme",
                )
                for g in data.get("groups") or []
            ),
        )


def _point_from(data: Mapping[str, Any]) -> Point:
    return Point(text=str(data["text"]), paragraph=int(data["paragraph"]))


@dataclass(frozen=True)
class _Sentence:
    order: int  # position among the body sentences
    paragraph: int  # 0-based index among the body paragraphs
    section: int  # index of the usable subheading above it, -1 before the first
    text: str
    score: float


def brief(blocks: Sequence[TextBlock], lang: str = "en", *, title: str = "") -> Brief | None:
    """The brief of an article given as blocks (paragraphs, list items, headings: see
    domain/paragraphs.py), or None when its body text is too short for one."""
    paragraphs: list[str] = []
    sections: list[int] = []  # section of each paragraph
    headings: list[str] = []
    section = -1
    read = 0
    for block in blocks:
        read += len(block.text)
        if read > MAX_TEXT_CHARS:  # the work grows with the text: a huge page reads its start
            break
        if block.kind == "heading":
            label = heading_label(block.text)
            if label is not None and _BACK_MATTER.match(label):
                section = BACK_MATTER
            elif label is not None:  # a repeated subheading ("Results" twice) is one section
                if label not in headings:
                    headings.append(label)
                section = headings.index(label)
            continue
        paragraphs.append(block.text)
        sections.append(section)
    found = body_sentences(paragraphs, lang, title)
    if len(found) < MIN_SENTENCES or len({p for p, _ in found}) < MIN_PARAGRAPHS:
        return None
    scores = sentence_scores(found, lang)
    sentences = [
        _Sentence(order, p_index, sections[p_index], text, score)
        for order, ((p_index, text), score) in enumerate(zip(found, scores, strict=True))
        if score is not None and is_point(text, lang) and sections[p_index] != BACK_MATTER
    ]
    sentences = _first_of_each(sentences)
    statements = [s for s in sentences if is_statement(s.text)]
    if len(sentences) < MIN_POINTS or len(statements) < MIN_STATEMENTS:
        return None  # a list of links or labels (show notes, a table of contents), not prose
    insights = _insights(statements)
    rest = [s for s in sentences if s not in insights]
    groups = _subheading_groups(rest, headings)
    if not groups and _themes_known(lang, paragraphs):
        groups = _theme_groups(rest, title)
    if len(groups) < MIN_GROUPS:
        return None
    return Brief(
        insights=tuple(_point(s) for s in sorted(insights, key=lambda s: s.order)),
        groups=tuple(groups),
    )


def _first_of_each(sentences: list[_Sentence]) -> list[_Sentence]:
    """A sentence the article repeats is one point, at its first place."""
    seen: set[str] = set()
    kept = []
    for sentence in sentences:
        if sentence.text not in seen:
            seen.add(sentence.text)
            kept.append(sentence)
    return kept


# ---- which sentences can be points ---------------------------------------------------------

_CODE = re.compile(r"[{}]|==|=>|->|\(\)|;\s*\w+\s*=")  # code, not prose
_LETTER = re.compile(r"[^\W\d_]")


def is_point(sentence: str, lang: str = "en") -> bool:
    """A sentence that reads as a statement of its own: long enough, mostly letters, not
    code, and not an introduction to something that follows (ends with ":")."""
    text = sentence.strip()
    if text.endswith((":", "：", ",", "，")) or text.startswith(("—", "–", "―", "-")):
        return False  # an introduction, or a quote's attribution ("— Jane Doe (@jane)")
    if "://" in text or "pic.twitter.com" in text or "www." in text:
        return False  # a link, an embedded post
    if len(text) < MIN_CHARS["zh" if (lang.startswith("zh") or has_cjk(text)) else "en"]:
        return False
    if _CODE.search(text) and not has_cjk(text):
        return False
    letters = len(_LETTER.findall(text))
    return letters >= 0.6 * len(text.replace(" ", ""))


_STATEMENT_END = re.compile(r"[.!。！]['\"’”」』)）]*$")


def is_statement(sentence: str) -> bool:
    """A sentence ended as one (not a question, a label or a link's title)."""
    return _STATEMENT_END.search(sentence.strip()) is not None


def _themes_known(lang: str, paragraphs: list[str]) -> bool:
    """Themes are found in English and Chinese text only (the stop words and function
    characters are those of these two languages)."""
    return lang.lower().startswith(("en", "zh")) or any(has_cjk(p) for p in paragraphs[:3])


def _point(sentence: _Sentence) -> Point:
    return Point(text=shorten(sentence.text), paragraph=sentence.paragraph + 1)


def _insights(sentences: list[_Sentence]) -> list[_Sentence]:
    """The best two or three statements, one per paragraph, none repeating another."""
    count = MAX_INSIGHTS if len(sentences) >= INSIGHTS_3 else MAX_INSIGHTS - 1
    picked: list[_Sentence] = []
    for candidate in sorted(sentences, key=lambda s: (-s.score, s.order)):
        if any(p.paragraph == candidate.paragraph for p in picked):
            continue
        if any(_overlap(p.text, candidate.text) > SAME_SENTENCE for p in picked):
            continue
        picked.append(candidate)
        if len(picked) == count:
            break
    return picked


def _overlap(a: str, b: str) -> float:
    ta, tb = set(tokens(a)), set(tokens(b))
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def _best(sentences: list[_Sentence]) -> tuple[Point, ...]:
    """The best MAX_GROUP_POINTS sentences of a group, in article order."""
    top = sorted(sentences, key=lambda s: (-s.score, s.order))[:MAX_GROUP_POINTS]
    return tuple(_point(s) for s in sorted(top, key=lambda s: s.order))


# ---- groups under the article's subheadings ------------------------------------------------

_NOT_HEADING = re.compile(
    r"^(?:[—–―-]|@|https?://|www\.|pic\.twitter)|://|"  # a quote's attribution, a link
    r"^[\d\s:.,/apmAPMGT-]+$",  # a time or a date ("8.04pm GMT", "12 min:")
)


def heading_label(text: str) -> str | None:
    """A subheading as a group heading (a trailing colon dropped), or None when the line is
    not one: a link, a quote's attribution, a time, a full sentence, or too long."""
    label = " ".join(text.split()).rstrip(":：").strip()
    cjk = has_cjk(label)
    if not label or len(label) > HEADING_CHARS["zh" if cjk else "en"]:
        return None
    if _NOT_HEADING.search(label) or label.endswith((".", "。", "!", "！", "?", "？")):
        return None
    if re.search(r"\d+\s*min\b", label) and len(label) < 12:
        return None  # "13 min" of a live blog
    letters = len(_LETTER.findall(label))
    return label if letters >= (2 if cjk else 3) else None


def _subheading_groups(sentences: list[_Sentence], headings: list[str]) -> list[PointGroup]:
    """One group per subheading that heads fit sentences (the best MAX_GROUPS of them, in
    article order); none unless at least two do."""
    by_section: dict[int, list[_Sentence]] = defaultdict(list)
    for sentence in sentences:
        if sentence.section >= 0:
            by_section[sentence.section].append(sentence)
    if len(by_section) < 2:
        return []
    strongest = sorted(by_section, key=lambda k: (-max(s.score for s in by_section[k]), k))
    return [
        PointGroup(headings[k], _best(by_section[k]), "subheading")
        for k in sorted(strongest[:MAX_GROUPS])
    ]


# ---- groups around recurring terms (no subheadings) ----------------------------------------

_STOP_EN = frozenset({
    "a", "about", "above", "across", "after", "again", "against", "all", "almost", "also",
    "although", "always", "am", "among", "an", "and", "another", "any", "are", "around", "as",
    "at", "away", "back", "be", "became", "because", "become", "been", "before", "being", "below",
    "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "done", "down",
    "during", "each", "either", "else", "enough", "even", "ever", "every", "few", "first", "for",
    "from", "further", "get", "gets", "getting", "give", "given", "go", "goes", "going", "got",
    "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself",
    "his", "how", "however", "i", "if", "in", "including", "into", "is", "it", "its", "itself",
    "just", "last", "later", "least", "less", "let", "like", "likely", "made", "make", "makes",
    "making", "many", "may", "me", "might", "more", "most", "much", "must", "my", "myself",
    "near", "need", "needs", "never", "new", "next", "no", "nor", "not", "now", "of", "off",
    "often", "on", "once", "one", "only", "onto", "or", "other", "others", "our", "ours", "out",
    "over", "own", "part", "per", "perhaps", "put", "rather", "really", "said", "same", "say",
    "says", "see", "seen", "several", "shall", "she", "should", "since", "so", "some",
    "something", "still", "such", "take", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "thing", "things", "this", "those", "though",
    "three", "through", "thus", "to", "today", "too", "toward", "two", "under", "until", "up",
    "upon", "us", "use", "used", "uses", "using", "very", "via", "want", "was", "way", "ways",
    "we", "well", "were", "what", "whatever", "when", "where", "whether", "which", "while", "who",
    "whole", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you",
    "your", "yours", "year", "years", "week", "weeks", "day", "days", "time", "times", "lot",
    "lots", "kind", "sort", "told", "according",
})  # fmt: skip
# Quantities and units (a number's word is no theme: "Million", "Percent")
_UNITS_EN = frozenset({
    "million", "millions", "billion", "billions", "thousand", "thousands", "hundred", "hundreds",
    "percent", "cent", "dollar", "dollars", "month", "months", "quarter", "quarters",
})  # fmt: skip
_ZH_EDGE = frozenset(
    "的了是在和与及等也都而或之其这那就对将把被从为以于上中下个们着过很还又但并已可会能要让使向由到给所该此各每仍均约即共"
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’+-]*[A-Za-z0-9+]|[A-Za-z]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
ZH_TERM = (2, 6)  # lengths of Chinese terms, in characters


def _terms(sentence: str) -> dict[str, str]:
    """The candidate theme terms of a sentence: key -> surface form. English: words of three
    letters or more and two-word phrases, stop words left out, plurals folded; Chinese: runs of
    2 to 6 characters that neither start nor end with a function character."""
    found: dict[str, str] = {}
    words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(sentence[:2000])]
    previous: tuple[str, str, int] | None = None  # key, surface, end
    for surface, start, end in words:
        key = _word_key(surface)
        if key is None:
            previous = None
            continue
        surface = re.sub(r"['’]s$", "", surface)
        found.setdefault(key, surface)
        if previous is not None and sentence[previous[2] : start] == " ":
            found.setdefault(f"{previous[0]} {key}", f"{previous[1]} {surface}")
        previous = (key, surface, end)
    for run in _CJK_RUN.findall(sentence[:2000]):
        for size in range(ZH_TERM[0], ZH_TERM[1] + 1):
            for i in range(len(run) - size + 1):
                term = run[i : i + size]
                if term[0] not in _ZH_EDGE and term[-1] not in _ZH_EDGE:
                    found.setdefault(term, term)
    return found


def _word_key(surface: str) -> str | None:
    word = surface.lower().replace("’", "'")
    word = word.removesuffix("'s")
    if word in _STOP_EN or word in _UNITS_EN or (len(word) < 3 and not surface.isupper()):
        return None
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word


def _title_keys(title: str) -> set[str]:
    keys = set(_terms(title))
    return keys | {k for key in keys for k in key.split(" ")}


def _theme_groups(sentences: list[_Sentence], title: str) -> list[PointGroup]:
    """Up to MAX_GROUPS groups, each the sentences that share a recurring term (the term is the
    heading), chosen greedily by the score of the sentences a term brings that no earlier theme
    took; longer terms (phrases, longer Chinese runs) are preferred at equal cover."""
    where: dict[str, list[int]] = defaultdict(list)  # term -> the sentences that have it
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    for index, sentence in enumerate(sentences):
        for key, surface in _terms(sentence.text).items():
            where[key].append(index)
            if key.isascii() or surface != key:  # (a Chinese term is written as found)
                surfaces[key][surface] += 1
    in_title = _title_keys(title)
    limit = max(MIN_THEME_SENTENCES, int(MAX_THEME_SHARE * len(sentences)))
    eligible = {
        key
        for key, found in where.items()
        if MIN_THEME_SENTENCES <= len(found) <= limit
        and key not in in_title
        and not (has_cjk(key) and key in title)
    }
    # A term always seen inside a longer one ("monitoring" in "remote monitoring", 心电监 in
    # 心电监测) is that longer term: the shorter one is no theme of its own.
    eligible -= {
        part
        for key in eligible
        for part in _parts(key)
        if part in eligible and len(where[part]) == len(where[key])
    }
    taken: set[int] = set()
    groups: list[tuple[int, PointGroup]] = []
    while len(groups) < MAX_GROUPS:
        best: tuple[float, int, str] | None = None
        for key in eligible:
            members = [i for i in where[key] if i not in taken]
            if len(members) < _least(key):
                continue
            weight = sum(sentences[i].score for i in members) * _term_bonus(key)
            rank = (weight, len(key), key)
            if best is None or rank > best:
                best = rank
        if best is None:
            break
        key = best[2]
        chosen = [sentences[i] for i in where[key] if i not in taken]
        taken.update(i for i in where[key])
        eligible.discard(key)
        group = PointGroup(_heading(surfaces.get(key) or Counter({key: 1})), _best(chosen), "theme")
        groups.append((min(s.order for s in chosen), group))
    return [group for _, group in sorted(groups, key=lambda g: g[0])]


def _parts(key: str) -> tuple[str, ...]:
    """The terms one step shorter that a term contains (its words; a Chinese run less its first
    or its last character)."""
    if has_cjk(key):
        return (key[1:], key[:-1]) if len(key) > ZH_TERM[0] else ()
    return tuple(key.split(" ")) if " " in key else ()


def _least(key: str) -> int:
    """How many sentences a term must bring to a theme: a lone word, or a two-character
    Chinese one, is seen twice by chance; a phrase seen twice is a theme."""
    short = len(key) <= 2 if has_cjk(key) else " " not in key
    return MIN_WORD_SENTENCES if short else MIN_THEME_SENTENCES


def _term_bonus(key: str) -> float:
    if has_cjk(key):
        return 1.0 + 0.15 * (len(key) - 2)
    return 1.3 if " " in key else 1.0


def _heading(surfaces: Counter[str]) -> str:
    """The term as the article writes it most often (first letter raised for English)."""
    surface = sorted(surfaces.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return surface[:1].upper() + surface[1:] if surface[:1].islower() else surface
