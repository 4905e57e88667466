"""Sentences of a paragraph: English with nupunkt (Punkt, model shipped in the wheel), Chinese by
rules that keep closing quotes and brackets with their sentence."""

from __future__ import annotations

import re
import threading

import nupunkt

from newsletter.domain.text import has_cjk

# Chinese sentence ends: 。！？ (full and half width), a run of them ("？！"), and the six-dot
# ellipsis …… (a lone … or ... is a pause inside a sentence as often as an end).
_ZH_END = r"(?:[。！？!?]+|…{2,}|\.{6,})"
# What closes with the sentence: quotes, brackets and book-title marks right after its end
# (他说：“明天见。”), possibly nested (“……《报告》。”）).
_ZH_CLOSE = "”’」』）)》〉】〕\"'"
_ZH_SPLIT = re.compile(rf"{_ZH_END}[{re.escape(_ZH_CLOSE)}]*")
# ；ends a sentence only inside a long one (an enumeration "一是……；二是……"), and only between
# two parts that each read as a clause of their own.
_ZH_SEMICOLON = re.compile(r"[；;]")
ZH_LONG = 90  # characters: a sentence longer than this is split at its semicolons
ZH_CLAUSE = 12  # characters: the shortest part a semicolon may leave on either side
_EN_LOCK = threading.Lock()  # nupunkt's tokenizer is one shared, cached object


def split_sentences(paragraph: str, lang: str = "en") -> list[str]:
    """The sentences of one paragraph, each an exact, stripped substring of it, in order.

    A paragraph with Chinese characters (whatever ``lang`` says: feeds mislabel their language)
    is split by the Chinese rules, any other with nupunkt, which knows "U.S.", "Dr.", "Inc.",
    "e.g." and decimals from its trained abbreviation list, and needs no download.
    """
    if not paragraph.strip():
        return []
    if lang.lower().startswith("zh") or has_cjk(paragraph):
        return split_chinese(paragraph)
    return split_english(paragraph)


def split_english(paragraph: str) -> list[str]:
    """English sentences (nupunkt spans; text between two sentences is never lost)."""
    with _EN_LOCK:
        spans = nupunkt.sent_spans(paragraph)
    sentences = [paragraph[start:end].strip() for start, end in spans]
    return [s for s in sentences if s]


def split_chinese(paragraph: str) -> list[str]:
    """Chinese sentences: split after 。！？ and ……, closing quotes and brackets kept with the
    sentence they close; a long sentence is split again at its semicolons. A stretch without
    Chinese characters (an English quote in a Chinese report) is split as English."""
    pieces: list[str] = []
    start = 0
    for match in _ZH_SPLIT.finditer(paragraph):
        pieces.extend(_split_semicolons(paragraph[start : match.end()]))
        start = match.end()
    pieces.extend(_split_semicolons(paragraph[start:]))
    sentences: list[str] = []
    for piece in (p.strip() for p in pieces):
        if piece:
            sentences.extend([piece] if has_cjk(piece) else split_english(piece))
    return sentences


def _split_semicolons(sentence: str) -> list[str]:
    """A long sentence cut after each ； that leaves a real clause on both sides."""
    if len(sentence.strip()) <= ZH_LONG:
        return [sentence]
    parts: list[str] = []
    start = 0
    for match in _ZH_SEMICOLON.finditer(sentence):
        before = sentence[start : match.end()].strip()
        after = sentence[match.end() :].strip()
        if len(before) >= ZH_CLAUSE and len(after) >= ZH_CLAUSE:
            parts.append(sentence[start : match.end()])
            start = match.end()
    parts.append(sentence[start:])
    return parts
