"""Issue to email parts: sandboxed Jinja2 templates, premailer CSS inlining, a real text part."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from premailer import Premailer

from newsletter.domain.assemble import edition_title, financing_rows, issue_label
from newsletter.domain.content import IssueContent, IssueItem
from newsletter.domain.text import clean_html, shorten, shorten_to_width
from newsletter.email.calendar import (
    Attachment,
    calendar_attachments,
    calendar_links,
    ics_name,
)
from newsletter.email.i18n import event_date, is_chinese, money, round_label, translations
from newsletter.email.sandbox import LimitedEnvironment, RenderLimits
from newsletter.email.templates import render_template
from newsletter.email.urls import (
    PREVIEW_TOKEN,
    archive_url,
    event_ics_url,
    preferences_url,
    unsubscribe_url,
)
from newsletter.errors import TemplateError

log = logging.getLogger("newsletter.render")  # the name operators' log filters know

# Per-subscriber parts are rendered as these markers once, then replaced per message.
UNSUBSCRIBE_URL = "%%UNSUBSCRIBE_URL%%"
PREFERENCES_URL = "%%PREFERENCES_URL%%"
SUBSCRIBER_EMAIL = "%%SUBSCRIBER_EMAIL%%"
# Only in click-redirect links, when the operator tracks who clicked (off by default).
SUBSCRIBER_TOKEN = "%%SUBSCRIBER_TOKEN%%"
PERSONAL_MARKERS = (UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_EMAIL)


@dataclass(frozen=True)
class RenderOptions:
    """What the templates need besides the issue content."""

    templates_dir: Path
    timezone: ZoneInfo
    language: str
    sender_name: str
    base_url: str
    html_budget_bytes: int = 100_000
    sender_domain: str = "localhost"
    # A reader's edition (their language): titles from feeds.yaml `titles`; None: the whole issue.
    edition: str | None = None
    calendar_attachments: bool = False  # an .ics file per upcoming event in every copy


@dataclass(frozen=True)
class RenderedIssue:
    """HTML (CSS inlined) and plain-text parts, still holding the personal markers."""

    html: str
    text: str
    warnings: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def html_bytes(self) -> int:
        """Size of the HTML part in UTF-8."""
        return len(self.html.encode("utf-8"))


def make_environment(
    templates_dir: Path, limits: RenderLimits | None = None
) -> SandboxedEnvironment:
    """A sandboxed, autoescaping (for .html) environment over the templates folder, whose
    renders stop past ``limits`` (default: 10 s and 5 MB per render)."""
    if not templates_dir.is_dir():
        raise TemplateError(
            f"templates folder {templates_dir} does not exist; check newsletter.templates in "
            "feeds.yaml, or run `newsletter init` in the folder of feeds.yaml to write the "
            "bundled templates (it keeps the files that are there)"
        )
    env = LimitedEnvironment(
        limits=limits,
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "html.j2"], default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["shorten"] = shorten
    # The email's own words go through gettext: `{{ _("Unsubscribe") }}`; render_issue installs
    # the reader's language, English (the msgids) until then.
    env.add_extension("jinja2.ext.i18n")
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def markdown_to_html(text: str) -> str:
    """Editor Markdown to safe HTML: raw HTML is not passed through, then an allow-list clean."""
    return clean_html(_MARKDOWN.render(text))


def _local(iso: str, tz: ZoneInfo, fmt: str) -> str:
    return datetime.fromisoformat(iso).astimezone(tz).strftime(fmt)


_JOINED_PERCENTS = "%%"  # every personal marker starts with it (%%UNSUBSCRIBE_URL%% and the rest)
_WORD_JOINER = "\u2060"  # invisible, and it keeps the two signs on one line


def defuse_markers(value: Any) -> Any:
    """``value`` (a string, or dicts and lists of them) with every "%%" split by an invisible
    WORD JOINER, so that untrusted text can never form a personal marker."""
    if isinstance(value, str):
        while _JOINED_PERCENTS in value:
            value = value.replace(_JOINED_PERCENTS, "%" + _WORD_JOINER + "%")
        return value
    if isinstance(value, dict):
        return {key: defuse_markers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [defuse_markers(item) for item in value]
    return value


def _issue_label(content: IssueContent, language: str) -> str:
    """The issue's number and date in the language of this copy (the stored label is in the
    newsletter's language)."""
    if not content.issue_date:
        return content.issue_label or content.period
    return issue_label(
        content.number, date.fromisoformat(content.issue_date), language, content.special_title
    )


def _financing_row(fin: dict[str, Any], title: str, language: str) -> dict[str, Any]:
    """One round as the financing table shows it, in the reader's language."""
    low, high, currency = fin.get("amount_low"), fin.get("amount_high"), fin.get("currency")
    return {
        "company": fin.get("company") or title,
        # No name found: the HTML table shows the title in its place; the text part, which
        # prints the title just above the row, shows a dash.
        "company_named": bool(fin.get("company")),
        "round": round_label(fin.get("round"), language),
        # The amount as the feed wrote it, else (an editor's amount) normalized.
        "amount": fin.get("amount_text") or money(low, high, currency, language),
        "amount_normalized": money(low, high, currency, language),
        "lead_investors": ", ".join(fin.get("lead_investors") or []) or "—",
    }


def build_context(content: IssueContent, options: RenderOptions) -> dict[str, Any]:
    """The template context: sections with numbered items, dates in the newsletter's timezone."""
    tz = options.timezone
    language = options.language
    issue_date = content.issue_date or content.window_end[:10]
    number = 0
    sections: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for section in content.sections:
        items = []
        for item in section.items:
            if item.url:
                number += 1
                links.append({"number": number, "url": item.url, "title": item.title})
            entry: dict[str, Any] = {
                **item.__dict__,
                "number": number if item.url else None,
                "published_local": _local(item.published, tz, "%Y-%m-%d %H:%M"),
                "date_local": _local(item.published, tz, "%m-%d"),
                "financing": None,
                "event": None,
                # plain dicts and lists, so defuse_markers reaches every point's text
                "brief": item.brief.to_dict() if item.brief else None,
            }
            # One table row per deal of the title (the assembler left one row per round).
            entry["financing_rows"] = [
                _financing_row(fin, item.title, language) for fin in financing_rows(item.facts)
            ]
            if entry["financing_rows"]:
                entry["financing"] = entry["financing_rows"][0]
            ev = item.facts.get("event")
            if ev and not ev.get("start") and section.id == "events":
                # An invitation without a date stays with the events, its date to be announced.
                entry["event"] = {
                    "name": ev.get("name") or item.title,
                    "date": translations(language).gettext("date to be announced"),
                    "place": ev.get("place") or "",
                    "ics": None,
                    "attached": False,
                    "links": None,
                }
            if ev and ev.get("start"):
                day = date.fromisoformat(ev["start"])
                entry["event"] = {
                    "name": ev.get("name") or item.title,
                    "date": event_date(day, language, ev.get("precision") or "day"),
                    "place": ev.get("place") or "",
                    "ics": ics_name(item.id),
                    # A month-only date has no day for a calendar file.
                    "attached": options.calendar_attachments
                    and ev.get("precision", "day") == "day"
                    and ev["start"] >= issue_date,
                    "links": None,
                }
                if ev["start"] >= issue_date and ev.get("precision", "day") == "day":
                    cal = calendar_links(
                        item, event_ics_url(options.base_url, content.period, item.id)
                    )
                    entry["event"]["links"] = {
                        "ics": cal.ics,
                        "google": cal.google,
                        "outlook": cal.outlook,
                    }
            items.append(entry)
        title = edition_title(section.titles, section.title, options.edition)
        sections.append({"id": section.id, "title": title, "items": items})
    totals = [
        {**t, "label": money(t["low"], t["high"], t["currency"], language)}
        for t in content.financing_totals
    ]
    base = options.base_url
    untrusted: dict[str, Any] = {
        "newsletter": {
            "title": edition_title(content.titles, content.title, options.edition),
            "language": options.language,
            "sender_name": options.sender_name,
        },
        "issue": {
            "period": content.period,
            "subject": content.subject,
            "preheader": content.preheader,
            "date_label": _local(content.window_end, tz, "%Y-%m-%d"),
            "label": _issue_label(content, language),
            "number": content.number,
            # A special issue (a named period, not a week): the templates word it without "week".
            "special": content.special_title is not None,
            "window_start_label": _local(content.window_start, tz, "%Y-%m-%d"),
            "window_end_label": _local(content.window_end, tz, "%Y-%m-%d"),
            "item_count": content.item_count,
        },
        "viewpoint": {"html": content.viewpoint_html, "text": content.viewpoint_text}
        if content.viewpoint_html
        else None,
        "financing_totals": totals,
        "financing_totals_label": ("；" if is_chinese(language) else "; ").join(
            translations(language).ngettext(
                "%(amount)s in %(num)d round", "%(amount)s in %(num)d rounds", t["rounds"]
            )
            % {"amount": t["label"], "num": t["rounds"]}
            for t in totals
        ),
        "sections": [s for s in sections if s["items"]],
        "all_sections": sections,
        "links": links,
    }
    # Everything above comes from feeds (and editors): it must never be able to spell a
    # personal marker, or one reader's address and unsubscribe link would be filled in where
    # feed text put it. Only the entries below carry markers.
    return {
        **defuse_markers(untrusted),
        "urls": {
            "unsubscribe": UNSUBSCRIBE_URL,
            "preferences": PREFERENCES_URL,
            "archive": archive_url(base, content.period),
            "home": base,
        },
        "subscriber": {"email": SUBSCRIBER_EMAIL},
    }


# premailer's defaults fetch <link rel=stylesheet> while rendering and drop !important inside
# @media (dark mode and responsive rules lose): PITFALLS.md. The <style> block stays for the
# clients that read it.
PREMAILER_OPTIONS: dict[str, Any] = {
    "allow_network": False,
    "allow_loading_external_files": False,
    "strip_important": False,
    "keep_style_tags": True,
    "remove_classes": False,
    "disable_validation": True,
    "cssutils_logging_level": logging.CRITICAL,
}


def inline_css(html: str) -> str:
    """Inline <style> rules with premailer: no network, media-query !important kept."""
    return str(Premailer(html, **PREMAILER_OPTIONS).transform())


def _shrink(content: IssueContent, summary_chars: int | None, drop: int = 1) -> IssueContent:
    """A smaller issue: shorter summaries, or ``drop`` items fewer, each from the then-largest
    section."""
    if summary_chars is not None:
        sections = [
            replace(
                s,
                items=[
                    replace(i, summary=shorten_to_width(i.summary, summary_chars)) for i in s.items
                ],
            )
            for s in content.sections
        ]
        return replace(content, sections=sections)
    kept = [list(s.items) for s in content.sections]
    for _ in range(drop):
        max(kept, key=len).pop()
    sections = [replace(s, items=items) for s, items in zip(content.sections, kept, strict=True)]
    return replace(content, sections=sections, item_count=sum(len(items) for items in kept))


def render_issue(
    env: SandboxedEnvironment, content: IssueContent, options: RenderOptions
) -> tuple[RenderedIssue, IssueContent]:
    """Render HTML and text in ``options.language``; shorten the issue until the HTML fits the
    size budget.

    Returns the rendered parts and the content actually rendered (possibly shortened).
    """
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(options.language), newstyle=True
    )
    warnings: list[str] = []
    summary_steps = [160, 80]
    while True:
        context = build_context(content, options)
        html = inline_css(render_template(env, "email/issue.html", context))
        size = len(html.encode("utf-8"))
        if size <= options.html_budget_bytes or content.item_count <= 1:
            break
        step = summary_steps.pop(0) if summary_steps else None
        # Drop about as many items as the excess is worth: one per render (premailer is slow)
        # made a long issue take hundreds of renders and warnings.
        excess_items = math.ceil((size - options.html_budget_bytes) * content.item_count / size)
        drop = min(content.item_count - 1, max(1, excess_items))
        if step:
            what = f"summaries cut to {step} characters"
        else:
            what = f"{drop} item(s) dropped from the largest sections"
        warnings.append(
            f"HTML is {size:,} bytes, over the {options.html_budget_bytes:,} byte budget; {what}"
        )
        log.info(warnings[-1])
        content = _shrink(content, step, drop)
    text = render_template(env, "email/issue.txt", context)
    attachments = (
        calendar_attachments(content, options.sender_domain) if options.calendar_attachments else []
    )
    return RenderedIssue(
        html=html, text=_normalize_text(text), warnings=warnings, attachments=attachments
    ), content


def _normalize_text(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"


def personalize(part: str, values: dict[str, str]) -> str:
    """Replace the personal markers in a rendered part."""
    for marker, value in values.items():
        part = part.replace(marker, value)
    return part


def html_values(values: dict[str, str]) -> dict[str, str]:
    """Escape personal values for the HTML part."""
    return {k: escape(v, quote=True) for k, v in values.items()}


def marker_values(unsubscribe: str, preferences: str, email: str) -> dict[str, str]:
    """What the three personal markers become, as plain text (``html_values`` for HTML)."""
    return {UNSUBSCRIBE_URL: unsubscribe, PREFERENCES_URL: preferences, SUBSCRIBER_EMAIL: email}


def preview_values(base_url: str) -> dict[str, str]:
    """The personal markers as a preview shows them: links with a token no subscriber has."""
    return marker_values(
        unsubscribe_url(base_url, PREVIEW_TOKEN),
        preferences_url(base_url, PREVIEW_TOKEN),
        "preview@example.com",
    )


__all__ = [
    "IssueItem",
    "RenderOptions",
    "RenderedIssue",
    "build_context",
    "html_values",
    "make_environment",
    "marker_values",
    "personalize",
    "preview_values",
    "render_issue",
]
