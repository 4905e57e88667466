"""newsletter.email.render with the real templates: HTML and text parts, escaping, sandbox, budget."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import date, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2.sandbox import SandboxedEnvironment

from newsletter.config import Config, parse_config
from newsletter.domain.assemble import (
    Candidate,
    IssueContent,
    assemble_issue,
    with_briefs,
    with_key_points,
)
from newsletter.domain.editorial.brief import Brief, Point, PointGroup
from newsletter.domain.editorial.financing import detect_financings
from newsletter.domain.periods import period_for_label
from newsletter.email.render import (
    PERSONAL_MARKERS,
    PREFERENCES_URL,
    SUBSCRIBER_EMAIL,
    UNSUBSCRIBE_URL,
    RenderedIssue,
    RenderOptions,
    html_values,
    make_environment,
    personalize,
    render_issue,
)
from newsletter.errors import TemplateError
from tests.conftest import SECTIONS, TEMPLATES, newsletter_block

SHANGHAI = ZoneInfo("Asia/Shanghai")
PERIOD = period_for_label("2026-W48", 0, time(8, 0), SHANGHAI)
CONFIG: Config = parse_config(
    {"newsletter": newsletter_block(), "sections": SECTIONS}, Path("/srv/feeds.yaml")
)
OPTIONS = RenderOptions(
    templates_dir=TEMPLATES,
    timezone=SHANGHAI,
    language="en",
    sender_name="Test Weekly 测试周报",
    base_url="https://news.example.com",
)
HOSTILE_TITLE = '<script>alert(1)</script> & "quotes"'


def candidate(
    id: int, title: str, section: str, *, url: str | None = "auto", summary: str = "", **kw: object
) -> Candidate:
    values: dict[str, object] = {
        "id": id,
        "feed": "STAT News",
        "weight": 1.0,
        "title": title,
        "url": f"https://example.com/story/{id}" if url == "auto" else url,
        "summary": summary or f"Summary of {title}.",
        "published": PERIOD.end - timedelta(hours=id),
        "language": "en",
        "section": section,
        "reason": "test",
    }
    values.update(kw)
    return Candidate(**values)  # type: ignore[arg-type]


def sample_content() -> IssueContent:
    return assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "CMS finalizes Medicare payment rule", "hot_topics"),
            candidate(2, "FDA approves first oral GLP-1 pill", "headlines"),
            candidate(3, HOSTILE_TITLE, "headlines", url='https://example.com/a?x=1&y="2"'),
            candidate(
                4,
                "康澜生物完成2000万美元A轮融资，云岭资本领投",
                "financing",
                language="zh",
                facts={
                    "financing": {
                        "company": "康澜生物",
                        "round": "a",
                        "amount_low": 2e7,
                        "amount_high": 2e7,
                        "currency": "USD",
                        "amount_text": "2000万美元",
                        "lead_investors": ["云岭资本"],
                    }
                },
            ),
            candidate(
                5,
                "Digital Health Summit opens registration",
                "events",
                url=None,
                facts={
                    "event": {
                        "name": "Digital Health Summit",
                        "start": "2099-12-10",
                        "place": "Boston",
                    }
                },
            ),
            candidate(6, "Same story", "industry", feed="Light", weight=0.5),
            candidate(7, "Same story!", "industry", feed="Heavy", weight=2.0),
        ],
    )


Rendered = tuple[RenderedIssue, IssueContent]


@pytest.fixture(scope="module")
def env() -> SandboxedEnvironment:
    return make_environment(TEMPLATES)


@pytest.fixture(scope="module")
def rendered(env: SandboxedEnvironment) -> Rendered:
    return render_issue(env, sample_content(), OPTIONS)


def parsed_tags(html: str) -> list[tuple[str, dict[str, str]]]:
    """Start tags and their attributes, as a browser's tokenizer sees them."""
    tags: list[tuple[str, dict[str, str]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.append((tag, {k: v or "" for k, v in attrs}))

    Collector().feed(html)
    return tags


def copy_templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(TEMPLATES, folder)
    return folder


def render_with(folder: Path, content: IssueContent | None = None) -> Rendered:
    options = replace(OPTIONS, templates_dir=folder)
    return render_issue(make_environment(folder), content or sample_content(), options)


# -- HTML ---------------------------------------------------------------------------------------


def test_html_has_language_subject_and_preheader(rendered: Rendered) -> None:
    result, content = rendered
    html = result.html
    assert '<html lang="en">' in html
    assert f"<title>{content.subject}</title>" in html
    preheader = re.search(r'<span class="preheader"[^>]*>(.*?)</span>', html, re.S)
    assert preheader is not None
    assert preheader.group(1).strip().startswith("CMS finalizes Medicare payment rule")
    assert result.warnings == []


def test_html_has_every_non_empty_section_and_no_empty_one(rendered: Rendered) -> None:
    html = rendered[0].html
    content: IssueContent = rendered[1]
    for section in content.sections:
        if section.items:
            assert f'id="{section.id}"' in html and section.title in html, section.id
            for item in section.items:
                if "<" not in item.title:
                    assert item.title in html
        else:
            assert section.title not in html, section.id
    assert "康澜生物完成2000万美元A轮融资" in html
    assert "also reported by" in html and "Light" in html  # the duplicate's other source


def test_css_is_inlined_and_media_query_important_kept(rendered: Rendered) -> None:
    html = rendered[0].html
    masthead = re.search(r'<td class="masthead"[^>]*style="([^"]+)"', html)
    assert masthead is not None and "background-color:#0b6e6e" in masthead.group(1).replace(" ", "")
    assert html.count('style="') > 20
    style = re.search(r"<style[^>]*>(.*?)</style>", html, re.S)
    assert style is not None
    media = style.group(1)[style.group(1).index("@media") :]
    assert "!important" in media and "prefers-color-scheme: dark" in media
    assert "<link" not in html  # nothing fetched or referenced from the network


def test_hostile_title_is_escaped_in_html(rendered: Rendered) -> None:
    html = rendered[0].html
    assert "<script>" not in html
    assert "script" not in [tag for tag, _ in parsed_tags(html)]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The quote in the URL cannot break out of the attribute: the link parses back intact.
    anchors = [attrs for tag, attrs in parsed_tags(html) if tag == "a"]
    hostile = [a for a in anchors if a.get("href", "").startswith("https://example.com/a?")]
    assert hostile == [{"href": 'https://example.com/a?x=1&y="2"', "style": hostile[0]["style"]}]


def test_dates_are_local(rendered: Rendered) -> None:
    html = rendered[0].html
    # Item 1 was published an hour before the Monday 08:00 send in Shanghai: 11-23 07:00 local.
    assert "11-23" in html
    # The masthead names the issue by its local send date, as readers write dates.
    assert "23 November 2026 · " in html
    assert "23 November 2026 · " in rendered[0].text


def test_masthead_and_subject_never_show_the_iso_week(rendered: Rendered) -> None:
    result, content = rendered
    masthead = result.text.splitlines()[1]
    assert content.issue_label in masthead and "W48" not in masthead
    assert "W48" not in content.subject


def test_markers_are_left_for_personalization(rendered: Rendered) -> None:
    result = rendered[0]
    for marker in PERSONAL_MARKERS:
        assert marker in result.html and marker in result.text, marker


# -- text part ----------------------------------------------------------------------------------


def test_text_part_has_numbered_links(rendered: Rendered) -> None:
    text = rendered[0].text
    content: IssueContent = rendered[1]
    linked = [i for s in content.sections for i in s.items if i.url]
    assert "\nLinks\n-----\n" in text
    links = text.split("\nLinks\n-----\n", 1)[1]
    for number, item in enumerate(linked, 1):
        assert f"[{number}] {item.url}\n" in links
        assert f"* {item.title} [{number}]" in text
    assert f"[{len(linked) + 1}]" not in text
    # The item without a link has no number.
    assert "* [2099-12-10 (Thu), Boston] Digital Health Summit opens registration\n" in text


def test_text_part_is_real_text_not_stripped_html(rendered: Rendered) -> None:
    text = rendered[0].text
    without_hostile = text.replace(HOSTILE_TITLE, "")
    assert "<" not in without_hostile and "&lt;" not in text and "&amp;" not in text
    assert HOSTILE_TITLE in text  # plain text: shown as written, not escaped
    assert "== Headlines 要闻 ==" in text
    assert "\n\n\n" not in text and text.endswith("\n")
    assert "Unsubscribe: %%UNSUBSCRIBE_URL%%" in text


# -- errors -------------------------------------------------------------------------------------


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    issue = folder / "email" / "issue.html"
    issue.write_text(
        issue.read_text(encoding="utf-8").replace(
            "<h1>{{ newsletter.title }}</h1>",
            "<h1>{{ cycler.__init__.__globals__.os.popen('id').read() }}</h1>",
        ),
        encoding="utf-8",
    )
    with pytest.raises(TemplateError) as info:
        render_with(folder)
    message = str(info.value)
    assert (
        message.startswith("template email/issue.html, line ")
        and "refused by the sandbox" in message
    )
    assert "__init__" in message


def test_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    partial = folder / "email" / "sections" / "events.html"
    lines = partial.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "{% if %}")  # becomes line 3
    partial.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        render_with(folder)
    message = str(info.value)
    assert "email/sections/events.html" in message and "line 3" in message


def test_undefined_variable_is_an_error(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    text = folder / "email" / "issue.txt"
    text.write_text(
        "{{ issue.no_such_field }}\n" + text.read_text(encoding="utf-8"), encoding="utf-8"
    )
    with pytest.raises(TemplateError) as info:
        render_with(folder)
    message = str(info.value)
    assert message.startswith("template email/issue.txt, line 1: ") and "no_such_field" in message


def test_missing_template(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    (folder / "email" / "issue.txt").unlink()
    with pytest.raises(TemplateError, match=r"template email/issue.txt not found in"):
        render_with(folder)


def test_missing_templates_folder(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"does not exist; check newsletter\.templates"):
        make_environment(tmp_path / "nowhere")


def test_section_without_its_own_partial_uses_the_default(tmp_path: Path) -> None:
    folder = copy_templates(tmp_path)
    (folder / "email" / "sections" / "financing.html").unlink()
    result, _ = render_with(folder)
    assert "康澜生物完成2000万美元A轮融资" in result.html
    assert 'class="fin-table"' not in result.html.split("<body", 1)[1]


# -- size budget --------------------------------------------------------------------------------


def test_size_budget_shortens_the_issue(env: SandboxedEnvironment) -> None:
    long = "A long summary sentence about digital health policy and payment. " * 20
    candidates = [
        candidate(
            n,
            # Distinct words per title: these are different stories, not one story told twice.
            f"Story {n}: " + " ".join(f"topic{n}word{k}" for k in range(30)),
            section["id"],
            summary=long,
            feed=f"Feed {n}",  # many sources: the per-source cap leaves every section full
        )
        for n, section in enumerate(SECTIONS * 12, 1)
    ]
    content = assemble_issue(CONFIG, PERIOD, candidates)
    budget = 30_000
    result, shortened = render_issue(env, content, replace(OPTIONS, html_budget_bytes=budget))
    assert result.html_bytes <= budget
    assert len(result.warnings) >= 2
    assert all(f"over the {budget:,} byte budget" in w for w in result.warnings)
    assert "summaries cut to 160 characters" in result.warnings[0]
    assert len(result.warnings) < 10  # a few renders, not one per dropped item
    rendered_items = sum(len(s.items) for s in shortened.sections)
    assert shortened.item_count == rendered_items < content.item_count
    assert all(len(i.summary) <= 81 for s in shortened.sections for i in s.items)
    # The footer (and its unsubscribe link) survives: nothing is clipped.
    assert UNSUBSCRIBE_URL in result.html and "Unsubscribe" in result.html
    linked = sum(1 for s in shortened.sections for i in s.items if i.url)
    assert f"\n[{linked}] " in result.text and f"[{linked + 1}]" not in result.text


def test_issue_within_budget_is_untouched(rendered: Rendered) -> None:
    result, content = rendered
    assert result.warnings == [] and content == sample_content()
    assert result.html_bytes == len(result.html.encode("utf-8")) <= OPTIONS.html_budget_bytes


# -- personalization ----------------------------------------------------------------------------


def test_personalize_replaces_every_marker(rendered: Rendered) -> None:
    result = rendered[0]
    values = {
        UNSUBSCRIBE_URL: "https://news.example.com/unsubscribe/tok_123",
        PREFERENCES_URL: "https://news.example.com/preferences/tok_123",
        SUBSCRIBER_EMAIL: "zhang+news@example.com",
    }
    text = personalize(result.text, values)
    html = personalize(result.html, html_values(values))
    for part in (text, html):
        assert not any(marker in part for marker in PERSONAL_MARKERS)
    assert "Unsubscribe: https://news.example.com/unsubscribe/tok_123" in text
    assert 'href="https://news.example.com/unsubscribe/tok_123"' in html
    assert "zhang+news@example.com" in html


def test_personal_values_are_escaped_for_html() -> None:
    part = f'<a href="{UNSUBSCRIBE_URL}">{SUBSCRIBER_EMAIL}</a>'
    html = personalize(
        part, html_values({UNSUBSCRIBE_URL: 'x" onclick="y', SUBSCRIBER_EMAIL: "<b>"})
    )
    assert html == '<a href="x&quot; onclick=&quot;y">&lt;b&gt;</a>'


@given(st.text(alphabet="%A_ZSUBCRIEL", max_size=60))
def test_defused_text_never_spells_a_marker(text: str) -> None:
    from newsletter.email.render import PERSONAL_MARKERS, SUBSCRIBER_TOKEN, defuse_markers

    defused = defuse_markers({"a": [text, (text,)], "b": text})
    for value in (defused["a"][0], defused["a"][1][0], defused["b"]):
        assert "%%" not in value
        for marker in (*PERSONAL_MARKERS, SUBSCRIBER_TOKEN):
            assert marker not in value
        assert value.replace("\u2060", "") == text  # only the invisible joiner was added


def test_calendar_files_are_attached_only_when_configured(env: SandboxedEnvironment) -> None:
    plain, _ = render_issue(env, sample_content(), OPTIONS)
    assert plain.attachments == []
    assert "/events/" in plain.html and ".ics" in plain.html  # the link instead
    attached, _ = render_issue(env, sample_content(), replace(OPTIONS, calendar_attachments=True))
    assert attached.attachments and all(
        a.content_type == "text/calendar" for a in attached.attachments
    )


# -- events without a day -------------------------------------------------------------------------


def _event_content() -> IssueContent:
    issue_day = PERIOD.end.astimezone(SHANGHAI).date()
    next_month = (issue_day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(
                21,
                "2099细胞治疗工艺开发专题培训班",
                "events",
                language="zh",
                facts={
                    "event": {"name": "细胞治疗工艺开发专题培训班", "start": None, "place": None}
                },
            ),
            candidate(
                22,
                "罕见病创新论坛下月在杭州举办",
                "events",
                language="zh",
                facts={
                    "event": {
                        "name": "罕见病创新论坛",
                        "start": next_month.isoformat(),
                        "place": "杭州",
                        "precision": "month",
                    }
                },
            ),
        ],
    )


@pytest.mark.parametrize(("language", "tba"), [("zh", "日期待定"), ("en", "date to be announced")])
def test_undated_and_month_only_events_stay_in_events(
    env: SandboxedEnvironment, language: str, tba: str
) -> None:
    content = _event_content()
    events = next(s for s in content.sections if s.id == "events")
    assert [i.id for i in events.items] == [22, 21]  # dated (to the month) first
    issue, _ = render_issue(env, content, replace(OPTIONS, language=language))
    assert tba in issue.html and tba in issue.text
    month = date.fromisoformat(str(events.items[0].facts["event"]["start"]))
    shown = f"{month.year}年{month.month}月" if language == "zh" else f"{month:%Y-%m}"
    assert shown in issue.html
    # No calendar file for a month or an unknown day.
    assert "BEGIN:VCALENDAR" not in issue.text and ".ics" not in issue.html


# -- core insights ------------------------------------------------------------------------------


def _with_brief() -> IssueContent:
    """The sample issue with a brief on its top story (a hostile group heading, and a point
    that spells a personal marker)."""
    made = Brief(
        insights=(
            Point("Medicare will pay for remote monitoring from January.", 1),
            Point("Hospitals expect fewer readmissions of heart failure patients.", 3),
        ),
        groups=(
            PointGroup(
                "What changes",
                (Point("The rule adds two billing codes for monitoring.", 2),),
                "subheading",
            ),
            PointGroup(
                "<b>Reactions</b>",
                (Point("Critics mailed %%UNSUBSCRIBE_URL%% to everyone.", 4),),
                "subheading",
            ),
        ),
    )
    return with_briefs(sample_content(), {1: made})


@pytest.mark.parametrize(("language", "label"), [("en", "Core insights"), ("zh", "核心观点")])
def test_brief_in_both_parts(env: SandboxedEnvironment, language: str, label: str) -> None:
    result, _ = render_issue(env, _with_brief(), replace(OPTIONS, language=language))
    for part in (result.html, result.text):
        assert label in part
        assert "Medicare will pay for remote monitoring from January." in part
        assert "The rule adds two billing codes for monitoring." in part
        assert "What changes" in part
    assert "[¶1]" in result.html and "[¶2]" in result.html
    paragraph = "第 2 段" if language == "zh" else "paragraph 2"
    assert f"The rule adds two billing codes for monitoring. [{paragraph}]" in result.text
    # the insights come first, then each group's heading and its points
    assert result.text.index(label) < result.text.index("What changes")
    assert result.html.index(label) < result.html.index("What changes")
    # feed text stays text: escaped in HTML, never a personal marker
    assert "&lt;b&gt;Reactions&lt;/b&gt;" in result.html and "<b>Reactions" not in result.html
    assert "<b>Reactions</b>" in result.text
    for part in (result.html, result.text):
        assert "Critics mailed %%UNSUBSCRIBE_URL%%" not in part


def test_items_without_a_brief_keep_their_key_points(env: SandboxedEnvironment) -> None:
    content = assemble_issue(
        CONFIG,
        PERIOD,
        [
            candidate(1, "CMS finalizes Medicare payment rule", "hot_topics"),
            candidate(2, "Annual digital health report", "reports"),
        ],
    )
    made = _with_brief().sections[0].items[0].brief
    points = [{"text": "A key point of the report.", "paragraph": 2}]
    content = with_key_points(content, {1: (points, "article"), 2: (points, "summary")})
    content = with_briefs(content, {1: made} if made else {})
    result, _ = render_issue(env, content, OPTIONS)
    # the brief replaces the top story's key points; the report shows its key points
    assert result.html.count("A key point of the report.") == 1
    assert result.text.count("A key point of the report.") == 1
    assert result.html.index("Core insights") < result.html.index("A key point of the report.")


def test_two_deals_of_one_title_are_two_rows_of_the_table(env: SandboxedEnvironment) -> None:
    title = "康宁医疗完成1亿元B轮融资，安远生物获数千万元天使轮"
    deals = detect_financings(title, "", "zh")
    facts = {"financing": deals[0].to_dict(), "financing_more": [d.to_dict() for d in deals[1:]]}
    content = assemble_issue(
        CONFIG, PERIOD, [candidate(1, title, "financing", language="zh", facts=facts)]
    )
    out, _ = render_issue(env, content, replace(OPTIONS, language="zh"))
    table = out.html.split('class="fin-table"', 1)[1].split("</table>", 1)[0]
    rows = [
        re.sub(r"<[^>]+>", " ", row).split()
        for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", table, re.S)[1:]  # the head row aside
    ]
    assert [row[:1] + row[-3:] for row in rows] == [
        ["康宁医疗", "B轮", "1亿元", "—"],
        ["安远生物", "天使轮", "数千万元", "—"],
    ]
    lines = [line.strip() for line in out.text.splitlines() if line.count(" | ") == 3]
    assert [line.split(" | ")[:3] for line in lines] == [
        ["康宁医疗", "B轮", "1亿元"],
        ["安远生物", "天使轮", "数千万元"],
    ]
    # Both rounds in the week's total, each once: 1.1亿–2亿元 in 2 rounds.
    assert [(t["currency"], t["rounds"]) for t in content.financing_totals] == [("CNY", 2)]
    assert "1.1亿–2亿元，共2笔" in out.text
