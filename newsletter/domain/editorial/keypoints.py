"""Key points: 3-5 sentences extracted from an article, each citing the paragraph it came from.

Extractive and offline: sentences are scored by how many of the article's frequent content
tokens (English word stems, Chinese character pairs) they carry, with a bonus for the opening
paragraphs and a penalty for very short or very long sentences; the best are shown in article
order. No model is downloaded.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from newsletter.domain.editorial.clusters import tokens
from newsletter.domain.sentences import split_sentences

MIN_CHARS = {"en": 40, "zh": 14}
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
    """Paragraphs of plain text (blank lines or single newlines between them)."""
    parts = [p.strip() for p in re.split(r"\n\s*\n|\n", text)]
    return [p for p in parts if len(p) >= 20]


def key_points(
    paragraphs: list[str], lang: str = "en", limit: int = 5, minimum: int = 3
) -> list[KeyPoint]:
    """The best ``minimum``..``limit`` sentences, in article order, with paragraph citations."""
    candidates: list[tuple[int, int, str]] = []  # (paragraph index, order, sentence)
    for p_index, paragraph in enumerate(paragraphs):
        for sentence in split_sentences(paragraph, lang):
            candidates.append((p_index, len(candidates), sentence))
    if not candidates:
        return []
    frequency: Counter[str] = Counter()
    for _, _, sentence in candidates:
        frequency.update(set(tokens(sentence)))
    short = MIN_CHARS["zh" if lang.startswith("zh") else "en"]
    scored = []
    for p_index, order, sentence in candidates:
        toks = set(tokens(sentence))
        if not toks:
            continue
        value = sum(frequency[t] for t in toks if frequency[t] > 1) / (len(toks) ** 0.5)
        value *= 1.3 if p_index == 0 else (1.1 if p_index == 1 else 1.0)
        if len(sentence) < short:
            value *= 0.3
        if len(sentence) > MAX_CHARS:
            value *= 0.6
        scored.append((value, order, p_index, sentence))
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
    return [
        KeyPoint(text=s if len(s) <= MAX_CHARS else s[: MAX_CHARS - 1] + "…", paragraph=p + 1)
        for _, _, p, s in chosen
    ]
