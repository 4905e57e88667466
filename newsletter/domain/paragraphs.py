"""Paragraphs of feed HTML and article text: block structure kept (paragraphs, list items,
headings), source tags and heading runs glued to the first sentence dropped."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import nh3

from newsletter.domain.text import CONTROL_CHARACTERS as _CONTROL
from newsletter.domain.text import clean_text

BlockKind = Literal["paragraph", "item", "heading"]
MAX_INPUT_CHARS = 200_000  # the work done on one fragment is bounded (feed text is untrusted)
MAX_BLOCKS = 400
HEADING_CHARS = {"en": 80, "zh": 30}  # a heading is a short line; longer ones are paragraphs

# Markers put in place of tags before the tags are stripped (private-use characters, removed
# from the input first so feed text cannot forge them).
_BOLD_ON, _BOLD_OFF, _HEAD, _ITEM, _BREAK = "\ue000", "\ue001", "\ue002", "\ue003", "\ue004"
_MARKER_CHARS = (_BOLD_ON, _BOLD_OFF, _HEAD, _ITEM, _BREAK)
_MARKERS = re.compile("[\ue000-\ue004]")
_TAG_HEADING = re.compile(r"<h[1-6](?:\s[^>]*)?>", re.IGNORECASE)
_TAG_ITEM = re.compile(r"<li(?:\s[^>]*)?>", re.IGNORECASE)
_TAG_BOLD_ON = re.compile(r"<(?:b|strong)(?:\s[^>]*)?>", re.IGNORECASE)
_TAG_BOLD_OFF = re.compile(r"</(?:b|strong)\s*>", re.IGNORECASE)
# Every tag that starts or ends a block in a browser, and <br>: a line of its own. nh3 drops
# div, section, h1 and h2 with their structure, which is how "Heading" and "The first
# sentence" used to reach the text as one run ("HeadingThe first sentence").
_TAG_BLOCK = re.compile(
    r"</?(?:p|div|section|article|header|footer|main|aside|nav|blockquote|pre|ul|ol|li|dl|dt|dd|"
    r"table|thead|tbody|tfoot|tr|td|th|h[1-6]|figure|figcaption|address|details|summary|hr|br)"
    r"(?:\s[^>]*)?/?>",
    re.IGNORECASE,
)

_CJK_CHAR = re.compile(r"[\u3400-\u9fff]")
_TERMINAL = tuple(".。!！?？…")  # ends a sentence
# ends a line that is not a heading (a sentence, a clause, a quote, a label)
_SENTENCE_END = (*_TERMINAL, *";；:：,，、\"”’'»」』)）]】")

# ---- source tags ----------------------------------------------------------------------------
_ZH_LABEL = (
    r"(?:文章来源|本文来源|消息来源|图片来源|来源|來源|出处|图源|图|作者|撰文|文|记者|编辑|责编|"
    r"责任编辑|编译|校对|审校|审核|排版|美编|整理|供稿|转载自|原标题)"
)
_ZH_NAME = r"[\u4e00-\u9fff·A-Za-z0-9]{1,16}"
_SOURCE_TAG_START = [
    # （来源：新华社） 【来源：动脉网】 at the start
    re.compile(
        rf"^[（(【\[]\s*(?:{_ZH_LABEL}|Source|Sources|Via)\s*[：:／/|｜]\s*[^）)】\]]{{0,40}}[）)】\]]\s*",
        re.IGNORECASE,
    ),
    # 文/记者 张三 李四 (names, then a space before the text)
    re.compile(
        rf"^{_ZH_LABEL}\s*[：:／/|｜]\s*(?:记者|通讯员|实习生)?\s*{_ZH_NAME}"
        rf"(?:[ 、，,／/|｜]+(?:记者|通讯员)?\s*{_ZH_NAME}){{0,4}}\s+(?=\S)"
    ),
    # WASHINGTON (Reuters) -   NEW YORK, June 3 (AP) —   (Reuters Health) -
    re.compile(
        r"^(?:[A-Z][A-Za-z.'’/-]*(?:[ ,]+[A-Za-z0-9.'’/-]+){0,5}\s*)?\([A-Z][A-Za-z.& ]{1,30}\)\s*[-–—]+\s*"
    ),
    # By Jane Doe |   By Jane Doe and John Roe, Reuters —
    re.compile(
        r"^By\s+[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|&|de|van|von|der))*"
        r"(?:,\s*[A-Z][\w.&' -]{1,40}?)?\s*[|｜·•–—]\s*"
    ),
    # Source: Reuters |   Source: STAT —
    re.compile(r"^(?:Source|Sources|Via)\s*[:：]\s*[^|｜–—\n]{1,40}?\s*[|｜–—]\s*", re.IGNORECASE),
]
# A paragraph that is nothing but a tag, a byline or a credit line.
_SOURCE_LINE = [
    re.compile(rf"^[（(【\[]?\s*{_ZH_LABEL}\s*[：:／/|｜]", re.IGNORECASE),
    re.compile(
        r"^(?:Source|Sources|Via|Photo|Photos|Image|Images|Credit|Photo credit|Image credit|Illustration)\s*[:：]",
        re.IGNORECASE,
    ),
    re.compile(
        r"^By\s+[A-Z][\w.'’-]*(?:\s+(?:[A-Z][\w.'’-]*|and|&|de|van|von|der))*(?:,\s*[\w.&' -]+)?\s*$"
    ),
    re.compile(r"^\(?(?:Reporting|Writing|Editing|Additional reporting) by\b.*\)?$", re.IGNORECASE),
]
# Cheap tests that tell when a source-tag pattern can match at all (most paragraphs skip them):
# a first character that opens one, "(" early on (a dateline), or "By ", "Source", "Via".
_TAG_FIRST = frozenset("（(【[文本消图来來出作撰记编责校审排美整供转原")
_TAG_STARTS = ("By ", "Source", "source", "SOURCE", "Sources", "Via", "via", "VIA")
SOURCE_LINE_CHARS = 80  # a longer paragraph that starts with "Source:" is text, not a credit
_SOURCE_TAG_END = re.compile(
    r"\s*[（(]\s*(?:文章来源|本文来源|来源|來源|Source)\s*[：:]\s*[^（）()]{1,40}[）)]\s*([。.]?)\s*$",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"^(?:read more|continue reading|read the full (?:story|article)|click here to read more|"
    r"阅读原文|点击阅读原文|查看原文|点击查看原文|[（(]完[）)]|-*\s*end\s*-*)\W*$",
    re.IGNORECASE,
)

# ---- glued heading runs ---------------------------------------------------------------------
# Words that open an English sentence; a capitalized one right after a heading-like run, and
# followed by a lowercase word or a number, is where the first sentence starts ("Key findings
# The study found ..."), unlike a name ("... said The Lancet").
_OPENERS = (
    r"(?:The|A|An|In|On|At|For|This|These|That|Those|It|Its|We|Our|They|Their|He|She|"
    r"According|After|As|When|While|With|Last|Today|Yesterday|Earlier|Since|During|Despite|"
    r"Researchers|Scientists|Officials|Analysts|Patients|Doctors)"
)
_OPENER_WORDS = frozenset(_OPENERS[3:-1].split("|"))
_FUNCTION_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "for", "to", "and", "or", "with", "by", "from",
     "as", "about", "into", "over", "under", "than", "vs"}
)  # fmt: skip
_EN_GLUED = [
    # Title Case or ALL CAPS run: "New Drug Approvals In 2023, the FDA ..."
    re.compile(rf"^(?P<head>(?:[A-Z][\w'’&/-]*[ \t]+){{1,7}}?)(?={_OPENERS}[ \t]+[a-z0-9$])"),
    # Sentence case run: "Key findings The study found ..."
    re.compile(
        rf"^(?P<head>[A-Z][a-z'’-]*(?:[ \t]+[a-z'’-]+){{1,5}}[ \t]+)(?={_OPENERS}[ \t]+[a-z0-9$])"
    ),
]
_ZH_ENUM = r"(?:[一二三四五六七八九十]{1,3}[、.．]|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[、．]|第[一二三四五六七八九十]{1,3}[部分章节])"
_ZH_GLUED_FIRST = frozenset("【一二三四五六七八九十（(0123456789第")
_ZH_GLUED = [
    # 【导读】 【重磅】 a bracketed label
    re.compile(r"^(?P<head>【[^】]{1,12}】\s*)(?=\S)"),
    # 一、行业概况 据统计…… (an enumerated heading, then a space)
    re.compile(rf"^(?P<head>{_ZH_ENUM}\s*[^，。；！？,;!?\s]{{1,20}}\s+)(?=\S)"),
]


@dataclass(frozen=True)
class TextBlock:
    """One block of text: a paragraph, a list item or a heading (plain, cleaned text)."""

    text: str
    kind: BlockKind = "paragraph"


def html_blocks(
    fragment: str, clean_first: int | None = None, sanitized: bool = False
) -> list[TextBlock]:
    """The blocks of an HTML fragment (raw feed HTML or sanitized): paragraphs, list items and
    headings as they were marked up, <br> lines apart, source tags and glued headings dropped
    (from the first ``clean_first`` blocks only, when given: what a summary shows first).

    Only text comes out (tags are stripped by nh3, entities decoded), so the result is as safe
    as ``clean_text``; it is escaped wherever it is shown. ``sanitized`` says the fragment is
    clean_html's output (what nh3 wrote): its tags are then dropped without parsing it again
    (see _mark_sanitized), with the same blocks.
    """
    marked = fragment[:MAX_INPUT_CHARS]
    for marker in _MARKER_CHARS:  # feed text cannot forge a marker (str ops: no regex scan)
        if marker in marked:
            marked = marked.replace(marker, "")
    stripped = (
        _mark_sanitized(fragment, marked)
        if sanitized and len(fragment) <= MAX_INPUT_CHARS
        else None
    )
    if stripped is None:
        stripped = nh3.clean(_mark(marked), tags=set(), attributes={}, strip_comments=True)
    text = html.unescape(stripped)
    # NFC and control characters once for the whole text. Only the markup makes blocks: a line
    # break in the HTML source is a space like any other (str.split() collapses them all).
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    lines: list[tuple[str, BlockKind]] = []
    # Whitespace collapsed once for the whole text (a marker is no whitespace, so no run spans
    # two lines): each line is then as " ".join(line.split()) would leave it, but for a space
    # next to the marker, stripped.
    for line in " ".join(text.split()).split(_BREAK):
        kind: BlockKind = "paragraph"
        line = line.strip(" ")
        if line.startswith(_HEAD):
            kind = "heading"
        elif line.startswith(_ITEM):
            kind = "item"
        if _HEAD in line or _ITEM in line:
            line = " ".join(line.replace(_HEAD, "").replace(_ITEM, "").split())
        lines.append((line, kind))
    return _blocks(lines, clean_first, normalized=True)


def _mark(marked: str) -> str:
    """Headings, list items, blocks and bold runs of HTML as markers (other tags stay)."""
    # Each tag pattern runs only where its tag can be (a case-folded "<h", "<li", "<b"...,
    # folded as re.IGNORECASE compares: casefold, and the dotless i): most summaries have no
    # heading, many no list or bold.
    folded = marked.casefold()
    if "ı" in folded:
        folded = folded.replace("ı", "i")
    if "<h" in folded:
        marked = _TAG_HEADING.sub(_BREAK + _HEAD, marked)
    if "<li" in folded:
        marked = _TAG_ITEM.sub(_BREAK + _ITEM, marked)
    marked = _TAG_BLOCK.sub(_BREAK, marked)
    if "<b" in folded or "<strong" in folded:
        marked = _TAG_BOLD_ON.sub(_BOLD_ON, marked)
    if "</b" in folded or "</strong" in folded:
        marked = _TAG_BOLD_OFF.sub(_BOLD_OFF, marked)
    return marked


# A tag as nh3 writes it (lower-case name, attribute values in double quotes, in which '"' is
# written &quot;), and a '<' inside an attribute value ('<' in text is written &lt;).
_SANITIZED_TAG = re.compile(r'<[^<>"]*(?:"[^"]*"[^<>"]*)*>')
_LT_IN_VALUE = re.compile(r'="[^"]*<')
# What _mark and nh3 together make of each tag clean_html's allow-list lets through, as nh3
# writes it: a marker, or nothing (an <a> with its attributes, inline formatting).
_SANITIZED_MARKS = {
    **{f"<{t}>": _BREAK for t in ("p", "blockquote", "pre", "ul", "ol", "br")},
    **{f"</{t}>": _BREAK for t in ("p", "blockquote", "pre", "ul", "ol", "li")},
    **{f"<h{n}>": _BREAK + _HEAD for n in range(3, 7)},
    **{f"</h{n}>": _BREAK for n in range(3, 7)},
    "<li>": _BREAK + _ITEM,
    "<b>": _BOLD_ON,
    "<strong>": _BOLD_ON,
    "</b>": _BOLD_OFF,
    "</strong>": _BOLD_OFF,
    **{f"<{t}>": "" for t in ("a", "i", "em", "u", "code", "sub", "sup")},
    **{f"</{t}>": "" for t in ("a", "i", "em", "u", "code", "sub", "sup")},
}


def _mark_sanitized(fragment: str, marked: str) -> str | None:
    """What ``nh3.clean(_mark(marked), tags=set(), ...)`` returns, in one pass and without
    parsing, when ``fragment`` is nh3's output (clean_html's) and ``marked`` the same without
    private-use characters; None when that cannot be told this way (then it is done so).

    nh3 wrote every '<' of the text as &lt; (and '>' as &gt;, '&' as &amp;), dropped comments,
    scripts and styles, and kept only allow-listed tags, each written one way (only <a> has
    attributes). When no attribute value holds a '<', every '<' starts a whole tag: _mark's
    patterns would replace exactly the tags in _SANITIZED_MARKS with their marker, and nh3 would
    drop the rest and keep the text, already escaped as it escapes it, as it is and in order.
    A tag written otherwise, or a '<' or '>' left over (a tag cut short at clean_html's length
    limit), sends the fragment the long way. tests/domain/test_paragraphs.py and
    tests/feeds/test_corpus_parse.py check both ways, on every real feed too."""
    if '="' in fragment and _LT_IN_VALUE.search(fragment):
        return None
    if "<" not in marked:
        return marked if ">" not in marked else None
    unknown: list[str] = []

    def mark(tag: re.Match[str]) -> str:
        found = _SANITIZED_MARKS.get(tag.group())
        if found is not None:
            return found
        if not tag.group().startswith("<a "):
            unknown.append(tag.group())
        return ""

    text = _SANITIZED_TAG.sub(mark, marked)
    return None if unknown or "<" in text or ">" in text else text


def text_blocks(text: str) -> list[TextBlock]:
    """The blocks of plain text, one per line (blank lines ignored), cleaned the same way."""
    text = clean_text_lines(_MARKERS.sub("", text[:MAX_INPUT_CHARS]))
    return _blocks([(line, "paragraph") for line in text.splitlines()])


def clean_text_lines(text: str) -> str:
    """clean_text for each line of a text, done once for all: NFC, control and bidi
    characters removed, line breaks kept (one "\\n" each)."""
    text = unicodedata.normalize("NFC", text)
    return "\n".join(_CONTROL.sub("", line) for line in text.splitlines())


# How a stored article text (items.article_text) marks a subheading: a line that starts with
# this private-use character (removed from the extracted text first, so a page cannot forge it).
HEADING_MARK = _HEAD


def strip_markers(text: str) -> str:
    """Text without the private-use characters this module uses as markers."""
    return _MARKERS.sub("", text) if _MARKERS.search(text) else text


def join_article(blocks: list[TextBlock]) -> str:
    """Blocks as a stored article text: one per paragraph (blank lines between), a heading
    marked with HEADING_MARK."""
    return "\n\n".join(
        (HEADING_MARK if b.kind == "heading" else "") + strip_markers(b.text) for b in blocks
    )


def split_article(text: str) -> list[TextBlock]:
    """The blocks of a stored article text (join_article; older texts have no headings)."""
    blocks = []
    for part in text.split("\n\n"):
        if part.startswith(HEADING_MARK):
            blocks.append(TextBlock(strip_markers(part), "heading"))
        elif part:
            blocks.append(TextBlock(strip_markers(part), "paragraph"))
    return blocks


def body_paragraphs(blocks: list[TextBlock]) -> list[str]:
    """The text of the paragraphs and list items (headings left out), in order."""
    return [b.text for b in blocks if b.kind != "heading"]


def blocks_text(blocks: list[TextBlock]) -> str:
    """One line of text for a summary: the body blocks (all blocks when there are only
    headings, such as a one-line description), joined by spaces."""
    body = body_paragraphs(blocks)
    return " ".join(body or [b.text for b in blocks])


def clean_paragraph(text: str) -> str:
    """A paragraph without the source tag, byline or glued heading run it starts with, nor a
    source tag at its end; "" when it is nothing but a tag, a credit line or boilerplate."""
    return _clean_line(clean_text(text))


def _clean_line(text: str) -> str:
    """clean_paragraph on text that is already clean_text'ed (one line, stripped)."""
    for _ in range(3):  # "（来源：X） 【导读】 text": a few layers, never a loop on hostile text
        before = text
        if text[:1] in _TAG_FIRST or "(" in text[:80] or text.startswith(_TAG_STARTS):
            for pattern in _SOURCE_TAG_START:
                text = pattern.sub("", text, count=1)
        text = _drop_glued_heading(text)
        if text == before:
            break
    tail = text[-60:]
    if "来源" in tail or "來源" in tail or "ource" in tail.lower():
        text = _SOURCE_TAG_END.sub(r"\1", text)
    text = text.strip()
    if len(text) <= SOURCE_LINE_CHARS and (_is_source_line(text) or _BOILERPLATE.match(text)):
        return ""
    return text


def _is_source_line(text: str) -> bool:
    """A short line that is a credit: it starts like one and holds no sentence of its own
    ("来源：新华社", "编辑：张三 审核：李四", "Source: Reuters", "By Jane Doe")."""
    if len(text) > SOURCE_LINE_CHARS or re.search(r"[。！？]|[.!?]\s", text):
        return False
    return any(pattern.match(text) for pattern in _SOURCE_LINE)


def _drop_glued_heading(text: str) -> str:
    """The text without a heading-like run glued to its first sentence (see the patterns)."""
    if _CJK_CHAR.search(text[:40]):
        if text[:1] not in _ZH_GLUED_FIRST:
            return text
        patterns = _ZH_GLUED
    else:
        # both English patterns need an opener word among the first eight words
        if not _OPENER_WORDS.intersection(text[:100].split(" ", 8)[1:8]):
            return text
        patterns = _EN_GLUED
    for pattern in patterns:
        match = pattern.match(text)
        if match is None:
            continue
        head = match.group("head").split()
        if not _CJK_CHAR.search(match.group("head")):
            if head[-1].lower() in _FUNCTION_WORDS:
                continue  # "Doctors at The ..." is one sentence
            if len(head) == 1 and not (head[0].isupper() and len(head[0]) >= 3):
                continue  # one capitalized word is as often the subject as a heading
        return text[match.end() :]
    return text


def _strip_markers(text: str) -> str:
    """Text without the bold markers (a plain string scan: most lines have none)."""
    if _BOLD_ON in text or _BOLD_OFF in text:
        return text.replace(_BOLD_ON, "").replace(_BOLD_OFF, "")
    return text


def _bold_lead(line: str) -> tuple[str, str] | None:
    """(bold run, rest) when the line opens with a bold run followed by more text."""
    if not line.startswith(_BOLD_ON) or _BOLD_OFF not in line:
        return None
    run, rest = line[1:].split(_BOLD_OFF, 1)
    return clean_text(_MARKERS.sub("", run)), clean_text(_MARKERS.sub("", rest))


def _is_heading_run(run: str, rest: str) -> bool:
    """True when a bold run that opens a paragraph is a heading glued to the text after it,
    not the bold subject of the first sentence ("<b>Acme</b> raised ...")."""
    if not run or not rest or run.endswith(_TERMINAL):  # ends a sentence itself
        return False
    cjk = _CJK_CHAR.search(run) is not None
    if len(run) > HEADING_CHARS["zh" if cjk else "en"]:
        return False
    if run.endswith((":", "：")):
        return True  # "Why it matters:", "背景："
    if cjk:
        return bool(re.match(rf"{_ZH_ENUM}|【", run))
    first = rest.split()[0]
    if not re.match(r"[A-Z0-9\"“‘(]", first):
        return False
    return run.isupper() or re.fullmatch(_OPENERS, first) is not None


def _blocks(
    lines: list[tuple[str, BlockKind]], clean_first: int | None = None, normalized: bool = False
) -> list[TextBlock]:
    """Clean each line into a block (only the first ``clean_first`` lines of source tags and
    glued headings, when given); a short line without an end, followed by a longer paragraph,
    is a heading. ``normalized``: each line's whitespace is already collapsed (html_blocks)."""
    raw: list[TextBlock] = []
    for line, kind in lines:
        if not line or line.isspace():
            continue
        if clean_first is not None and len(raw) >= clean_first:
            text = _strip_markers(line)
            if text is not line or not normalized:  # the bold markers' places collapse too
                text = " ".join(text.split())
            if text:
                raw.append(TextBlock(text, kind))
            if len(raw) >= MAX_BLOCKS:
                break
            continue
        lead = _bold_lead(line.strip())
        if lead is not None:
            run, rest = lead
            if _is_heading_run(run, rest):
                raw.append(TextBlock(run, "heading"))
                line = rest
            elif not rest and kind == "paragraph":
                kind = "heading" if _heading_sized(run) else kind  # a whole bold line
        text = _clean_line(" ".join(_strip_markers(line).split()))
        if text:
            raw.append(TextBlock(text, kind))
        if len(raw) >= MAX_BLOCKS:
            break
    blocks: list[TextBlock] = []
    for index, block in enumerate(raw):
        following = raw[index + 1] if index + 1 < len(raw) else None
        if (
            block.kind == "paragraph"
            and following is not None
            and following.kind != "heading"
            and _heading_sized(block.text)
            and len(following.text) > 2 * len(block.text)
            and following.text.endswith(_SENTENCE_END)
        ):
            block = TextBlock(block.text, "heading")
        elif block.kind == "heading" and following is None and blocks == []:
            block = TextBlock(block.text, "paragraph")  # a lone line is the text itself
        blocks.append(block)
    return blocks


def _heading_sized(text: str) -> bool:
    """Short, and not ended like a sentence."""
    if len(text) > max(HEADING_CHARS.values()):
        return False  # too long in either language: no need to look for Chinese in it
    limit = HEADING_CHARS["zh" if _CJK_CHAR.search(text) else "en"]
    return len(text) <= limit and not text.endswith(_SENTENCE_END)
