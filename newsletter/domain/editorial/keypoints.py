"""Key points: 3-5 sentences extracted from an article, each citing the paragraph it came from.

Extractive and offline: sentences are scored by how many of the article's frequent content
tokens (English word stems, Chinese character pairs) they carry, with a bonus for the opening
paragraphs and a penalty for very short or very long sentences; the best are shown in article
order. No model is downloaded.

Only real body text gives key points: at least three sentences that are not the title (nor a
piece of it, nor the title plus a source tag), each long enough to say something. A title-only
item (WeChat bridges) or a one-line teaser has none and shows as a headline with source and
date.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from newsletter.domain.editorial.clusters import tokens
from newsletter.domain.paragraphs import clean_paragraph
from newsletter.domain.sentences import split_sentences
from newsletter.domain.text import has_cjk, summary_repeats_title

MIN_CHARS = {"en": 40, "zh": 14}  # shorter sentences score lower
BODY_CHARS = {"en": 20, "zh": 8}  # shorter ones ("Read more.", "详见下文。") are no body text
MIN_BODY_SENTENCES = 3
MAX_CHARS = 320


@dataclass(frozen=True)
class KeyPoint:
    """One extracted sentence and the 1-based number of the paragraph it comes from."""

    text: str
    paragraph: int

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"text": self.text, "paragraph": self.paragraph}


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of plain text (blank lines or single newlines between them), without the
    source tags and glued headings they open with."""
    parts = [clean_paragraph(p) for p in re.split(r"\n\s*\n|\n", text)]
    return [p for p in parts if len(p) >= 20]


def body_sentences(
    paragraphs: list[str], lang: str = "en", title: str = ""
) -> list[tuple[int, str]]:
    """(paragraph index, sentence) of each sentence that is real body text: long enough, and
    neither the title, a piece of it, nor the title with a few characters added."""
    result = []
    for p_index, paragraph in enumerate(paragraphs):
        for sentence in split_sentences(paragraph, lang):
            shortest = BODY_CHARS["zh" if has_cjk(sentence) else "en"]
            if len(sentence) < shortest or not tokens(sentence):
                continue
            if title and summary_repeats_title(sentence, title):
                continue  # the title, or the title split in pieces
            result.append((p_index, sentence))
    return result


def sentence_scores(found: list[tuple[int, str]], lang: str = "en") -> list[float | None]:
    """The score of each (paragraph index, sentence) of ``found`` (None: no tokens): how many
    of the article's recurring tokens it carries, over the square root of its token count, with
    a bonus in the first two paragraphs and a penalty when very short or very long."""
    frequency: Counter[str] = Counter()
    token_sets = [set(tokens(sentence)) for _, sentence in found]
    for toks in token_sets:
        frequency.update(toks)
    short = MIN_CHARS["zh" if lang.startswith("zh") else "en"]
    scores: list[float | None] = []
    for (p_index, sentence), toks in zip(found, token_sets, strict=True):
        if not toks:
            scores.append(None)
            continue
        value = sum(frequency[t] for t in toks if frequency[t] > 1) / (len(toks) ** 0.5)
        value *= 1.3 if p_index == 0 else (1.1 if p_index == 1 else 1.0)
        if len(sentence) < short:
            value *= 0.3
        if len(sentence) > MAX_CHARS:
            value *= 0.6
        scores.append(value)
    return scores


def shorten(sentence: str) -> str:
    """A sentence as shown: cut to MAX_CHARS with "…" when longer."""
    return sentence if len(sentence) <= MAX_CHARS else sentence[: MAX_CHARS - 1] + "…"


def key_points(
    paragraphs: list[str],
    lang: str = "en",
    limit: int = 5,
    minimum: int = 3,
    *,
    title: str = "",
    min_sentences: int = MIN_BODY_SENTENCES,
) -> list[KeyPoint]:
    """The best ``minimum``..``limit`` sentences, in article order, with paragraph citations;
    none unless the text has ``min_sentences`` sentences of real body text (see
    body_sentences: never the ``title`` or pieces of it)."""
    found = body_sentences(paragraphs, lang, title)
    if len(found) < max(1, min_sentences):
        return []
    scored = [
        (value, order, p_index, sentence)
        for order, ((p_index, sentence), value) in enumerate(
            zip(found, sentence_scores(found, lang), strict=True)
        )
        if value is not None
    ]
    scored.sort(key=lambda t: (-t[0], t[1]))
    count = max(minimum, min(limit, len(scored) // 2 or minimum))
    # At most two points from one paragraph, so the points cover the article.
    per_paragraph: Counter[int] = Counter()
    picked = []
    for entry in scored:
        if per_paragraph[entry[2]] < 2:
            picked.append(entry)
            per_paragraph[entry[2]] += 1
        if len(picked) == count:
            break
    chosen = sorted(picked, key=lambda t: t[1])
    return [KeyPoint(text=shorten(s), paragraph=p + 1) for _, _, p, s in chosen]
