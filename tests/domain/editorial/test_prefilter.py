"""The detectors' literal prefilter: a text is skipped only when the pattern cannot match it,
so every detector answers exactly as its plain regular expression does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from newsletter.domain.editorial import events, financing
from newsletter.domain.editorial.prefilter import Prefiltered, needles_of, prefiltered

DATA = Path(__file__).resolve().parents[2] / "data"


def test_needles_are_the_words_every_match_needs() -> None:
    assert needles_of(re.compile(r"\b(conference|Summit)s?\b", re.I)) == {"conference", "summit"}
    assert needles_of(re.compile(r"\bin (?P<n>\d+) days?\b")) == {" day"}
    assert needles_of(re.compile(r"(大会|峰会)")) == {"大会", "峰会"}
    # The longest required run wins over a short one; case is kept without re.I.
    assert needles_of(re.compile(r"x\d+ Series [A-Z]")) == {" Series "}
    # An alternative with no literal text: no prefilter (every text is searched).
    assert needles_of(re.compile(r"\b(webinar|\d+ days)\b")) == {"webinar", " days"}
    assert needles_of(re.compile(r"webinar|\d+")) is None
    assert needles_of(re.compile(r"[a-z]+")) is None
    # Optional parts are not required.
    assert needles_of(re.compile(r"(?:save )?the date")) == {"the date"}
    # A cased letter beyond ASCII under re.I: re's equivalences are not casefold's.
    assert needles_of(re.compile(r"straße", re.I)) is None


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        (r"\bhiring\b", "WE ARE HIRıNG"),  # re.I reads the dotless i as i
        (r"\bstrasse\b", "Hauptſtrasse STRASSE"),  # the long s
        (r"\bkelvin\b", "\u212aELVIN"),  # the Kelvin sign
        (r"\bsummit\b", "no such word here"),
    ],
)
def test_ignorecase_equivalences_are_kept(pattern: str, text: str) -> None:
    quick = prefiltered(pattern, re.I)
    plain = re.compile(pattern, re.I)
    assert bool(quick.search(text)) == bool(plain.search(text))
    assert [m.span() for m in quick.finditer(text)] == [m.span() for m in plain.finditer(text)]


def _texts() -> list[str]:
    texts = []
    for name in ("editorial_eval.jsonl", "editorial_holdout.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [
                row["title"],
                row.get("summary") or "",
                f"{row['title']}。{row.get('summary')}",
            ]
    return texts


def test_every_detector_pattern_answers_as_its_plain_regex() -> None:
    """On the labelled items (English and Chinese, real phrasing), each prefiltered pattern of
    the detectors finds exactly what the plain regular expression finds."""
    texts = _texts()
    patterns = [
        value
        for module in (events, financing)
        for value in vars(module).values()
        if isinstance(value, Prefiltered)
    ]
    assert len(patterns) >= 30
    assert sum(p.needles is not None for p in patterns) >= 25  # nearly all are prefiltered
    skipped = 0
    for quick in patterns:
        for text in texts:
            expected = [m.group(0) for m in quick.regex.finditer(text)]
            assert [m.group(0) for m in quick.finditer(text)] == expected, (quick.pattern, text)
            assert bool(quick.search(text)) == bool(expected)
            assert quick.findall(text) == quick.regex.findall(text)
            skipped += not quick.could_match(text)
    assert skipped > len(texts)  # the prefilter does skip texts


def test_the_dotted_capital_i_is_found_as_re_ignorecase_finds_it() -> None:
    """casefold turns "İ" into "i" and a combining dot; re.I reads it as a plain "i"."""
    rule = prefiltered(r"clinical trial", re.I)
    assert rule.search("CLİNİCAL TRIAL results") is not None
    assert re.search(r"clinical trial", "CLİNİCAL TRIAL results", re.I) is not None
