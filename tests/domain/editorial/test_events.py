"""newsletter.domain.editorial.events: upcoming events (name, first day, place), not reports of past ones.

Conventions (from tests/data/editorial_eval.jsonl): the start is the first day of a range;
a date without a year is the next such date (one up to 30 days back still counts as this year);
"next Tuesday" / 下周二 is that weekday in the following Monday-based calendar week.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from newsletter.domain.editorial.events import EventFact, detect_event, event_date

ROOT = Path(__file__).resolve().parents[3]
PUBLISHED = date(2026, 11, 10)  # a Tuesday


def xfail(why: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=why)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # stated, English
        ("December 3-5, 2026", date(2026, 12, 3)),
        ("Dec. 3", date(2026, 12, 3)),
        ("Dec 3", date(2026, 12, 3)),
        ("3 December", date(2026, 12, 3)),
        ("3rd December 2026", date(2026, 12, 3)),
        ("Sept. 9, 2027", date(2027, 9, 9)),
        ("2026-12-03", date(2026, 12, 3)),
        ("2027/1/5", date(2027, 1, 5)),
        # stated, Chinese
        ("12月3日", date(2026, 12, 3)),
        ("12月3号", date(2026, 12, 3)),
        ("2026年12月3日", date(2026, 12, 3)),
        ("2027年1月8日至10日", date(2027, 1, 8)),
        ("12月3日至5日", date(2026, 12, 3)),
        ("１２月３日", date(2026, 12, 3)),  # full-width digits
        # relative
        ("in 3 days", date(2026, 11, 13)),
        ("10 days to go", date(2026, 11, 20)),
        ("5 days away", date(2026, 11, 15)),
        ("倒计时2天", date(2026, 11, 12)),
        ("还有5天", date(2026, 11, 15)),
        ("3天后", date(2026, 11, 13)),
        ("tomorrow", date(2026, 11, 11)),
        ("Tomorrow", date(2026, 11, 11)),
        ("明天", date(2026, 11, 11)),
        ("明晚8点", date(2026, 11, 11)),
        ("next Tuesday", date(2026, 11, 17)),
        ("next Monday", date(2026, 11, 16)),
        ("next Sunday", date(2026, 11, 22)),
        ("下周二", date(2026, 11, 17)),
        ("下星期三", date(2026, 11, 18)),
        ("下周日", date(2026, 11, 22)),
        # the first date in the text wins
        ("Dec 3 and Dec 10", date(2026, 12, 3)),
        ("12月3日和12月10日", date(2026, 12, 3)),
        # a month/day a little before publication stays in this year
        ("Nov 1", date(2026, 11, 1)),
        ("October 5", date(2027, 10, 5)),
        # none, or impossible
        ("no date here", None),
        ("February 30", None),
        ("2026年2月30日", None),
        ("13月5日", None),
    ],
)
def test_event_date(text: str, expected: date | None) -> None:
    assert event_date(text, PUBLISHED) == expected


@pytest.mark.parametrize(
    ("published", "text", "expected"),
    [
        (date(2026, 12, 20), "January 5", date(2027, 1, 5)),
        (date(2026, 12, 20), "Jan 5", date(2027, 1, 5)),
        (date(2026, 12, 20), "5 January", date(2027, 1, 5)),
        (date(2026, 12, 20), "1月5日", date(2027, 1, 5)),
        (date(2026, 12, 20), "Dec 28", date(2026, 12, 28)),
        (date(2026, 12, 28), "in 5 days", date(2027, 1, 2)),
        (date(2026, 12, 31), "明天", date(2027, 1, 1)),
        (date(2026, 12, 31), "next Monday", date(2027, 1, 4)),
        (date(2026, 12, 20), "2026年1月5日", date(2026, 1, 5)),  # a stated year is kept
    ],
)
def test_event_date_year_rollover(published: date, text: str, expected: date) -> None:
    assert event_date(text, published) == expected


@pytest.mark.parametrize(
    ("published", "text", "expected"),
    [
        (date(2026, 11, 12), "next Tuesday", date(2026, 11, 17)),  # Thursday
        (date(2026, 11, 13), "next Wednesday", date(2026, 11, 18)),  # Friday
        (date(2026, 11, 15), "next Tuesday", date(2026, 11, 17)),  # Sunday
        (date(2026, 11, 16), "下周二", date(2026, 11, 24)),  # Monday
        (date(2026, 11, 13), "下周四", date(2026, 11, 19)),
    ],
)
def test_next_weekday_is_in_the_following_week(published: date, text: str, expected: date) -> None:
    assert event_date(text, published) == expected


def ev(
    title: str,
    summary: str,
    lang: str,
    start: date | None,
    place: str | None,
    published: date = PUBLISHED,
    marks: Any = (),
) -> Any:
    return pytest.param(title, summary, lang, published, start, place, id=title[:60], marks=marks)


EVENTS = [
    # English, stated dates
    ev(
        "Digital Health Summit 2026, December 3-5, 2026, Boston",
        "",
        "en",
        date(2026, 12, 3),
        "Boston",
    ),
    ev(
        "Join us at the Medtech Forum on Dec. 3 in San Francisco",
        "",
        "en",
        date(2026, 12, 3),
        "San Francisco",
    ),
    ev("Register now: Pharma Congress, 3 December, London", "", "en", date(2026, 12, 3), "London"),
    ev(
        "Medtech Funding Forum 2026 will be held December 10 in Boston",
        "",
        "en",
        date(2026, 12, 10),
        "Boston",
    ),
    ev(
        "Nursing Workforce Summit 2026 set for December 4 in Atlanta",
        "",
        "en",
        date(2026, 12, 4),
        "Atlanta",
    ),
    ev(
        "Save the date: BioPartnering Europe 2027, March 3-5, Munich",
        "",
        "en",
        date(2027, 3, 3),
        "Munich",
    ),
    ev("Digital Health Meetup, Dec 3, Boston and New York", "", "en", date(2026, 12, 3), "Boston"),
    ev(
        "Global Longevity Conference, Dec 1-3, Dubai",
        "Last chance to book.",
        "en",
        date(2026, 12, 1),
        "Dubai",
    ),
    # English, relative
    ev(
        "Health Equity Summit kicks off in Chicago in 3 days",
        "",
        "en",
        date(2026, 11, 13),
        "Chicago",
    ),
    ev(
        "Healthcare Supply Chain Summit: 10 days to go",
        "The summit meets in Nashville.",
        "en",
        date(2026, 11, 20),
        "Nashville",
    ),
    ev(
        "Tomorrow: Hospital Cybersecurity Roundtable goes live online",
        "",
        "en",
        date(2026, 11, 11),
        "online",
    ),
    ev(
        "Join us next Tuesday for the AI in Radiology livestream",
        "",
        "en",
        date(2026, 11, 17),
        "online",
    ),
    ev(
        "Bio-Investor Summit Nordic opens in 5 days in Stockholm",
        "",
        "en",
        date(2026, 11, 15),
        "Stockholm",
    ),
    # English, online
    ev(
        "Free webinar on December 15: Building a Payer-Ready Evidence Package",
        "",
        "en",
        date(2026, 12, 15),
        "online",
    ),
    ev(
        "Workshop: FDA Submissions for AI Devices, December 16-17, virtual",
        "",
        "en",
        date(2026, 12, 16),
        "online",
    ),
    ev(
        "Join us online December 8 for the Healthcare Finance Outlook webcast",
        "",
        "en",
        date(2026, 12, 8),
        "online",
    ),
    ev("Upcoming: Genomics Symposium, date to be announced", "", "en", None, None),
    # English, year roll-over
    ev(
        "Medtech Forum 2027 returns to Boston January 5",
        "",
        "en",
        date(2027, 1, 5),
        "Boston",
        published=date(2026, 12, 20),
    ),
    # Chinese, stated dates
    ev("第二届合成生物学产业大会12月3日深圳见", "", "zh", date(2026, 12, 3), "深圳"),
    ev("诚邀 | 首届中医药科技创新大会，2026年12月3日，广州", "", "zh", date(2026, 12, 3), "广州"),
    ev("2026中国医疗健康投资峰会将于12月3日至5日在上海举行", "", "zh", date(2026, 12, 3), "上海"),
    ev(
        "2027中国国际康复医疗博览会将于2027年1月8日至10日在上海举办",
        "",
        "zh",
        date(2027, 1, 8),
        "上海",
    ),
    ev("第九届国际精准医学论坛12月22日在西安召开", "", "zh", date(2026, 12, 22), "西安"),
    ev(
        "邀请函 | 第三届中国细胞治疗产业峰会",
        "大会将于12月5日在苏州举办，欢迎报名。",
        "zh",
        date(2026, 12, 5),
        "苏州",
    ),
    ev(
        "医疗健康峰会将于1月5日在上海举行",
        "",
        "zh",
        date(2027, 1, 5),
        "上海",
        published=date(2026, 12, 20),
    ),
    # Chinese, relative
    ev("倒计时2天｜2026中国医院院长论坛", "本届论坛在杭州举办。", "zh", date(2026, 11, 12), "杭州"),
    ev("3天后开幕！2026创新药BD交易大会", "大会在上海举行。", "zh", date(2026, 11, 13), "上海"),
    ev("明天见！医疗AI投融资闭门会", "本次闭门会将在深圳举行。", "zh", date(2026, 11, 11), "深圳"),
    ev(
        "创投沙龙｜下周二，聊聊种子轮怎么融",
        "本期沙龙在北京举办。",
        "zh",
        date(2026, 11, 17),
        "北京",
    ),
    # Chinese, online
    ev("直播预告｜12月4日「AI+新药研发」技术分享会", "", "zh", date(2026, 12, 4), "online"),
    ev("线上研讨会｜医保支付改革解读，12月2日准时开讲", "", "zh", date(2026, 12, 2), "online"),
    ev("云端峰会｜2026医药数字化营销峰会11月28日线上举行", "", "zh", date(2026, 11, 28), "online"),
    ev("直播预告｜明晚8点「创新药出海圆桌」与您不见不散", "", "zh", date(2026, 11, 11), "online"),
    # places: known bugs
    ev(
        "2026中国医院院长论坛将于12月3日在杭州举办",
        "主办方为上海市医院协会。",
        "zh",
        date(2026, 12, 3),
        "杭州",
    ),
    ev(
        "Pitch to investors at the Medtech Startup Showcase, December 12, Minneapolis",
        "",
        "en",
        date(2026, 12, 12),
        "Minneapolis",
    ),
    ev(
        "Join our LinkedIn Live next Wednesday: Founders on Raising a Series A",
        "",
        "en",
        date(2026, 11, 18),
        "online",
    ),
]


@pytest.mark.parametrize(("title", "summary", "lang", "published", "start", "place"), EVENTS)
def test_detect_event(
    title: str, summary: str, lang: str, published: date, start: date | None, place: str | None
) -> None:
    fact = detect_event(title, summary, lang, published)
    assert fact is not None
    assert (fact.start, fact.place) == (start, place)
    assert fact.name


@pytest.mark.parametrize(
    ("title", "lang", "name"),
    [
        ("Health Equity Summit kicks off in Chicago in 3 days", "en", "Health Equity Summit"),
        ("RSVP: Digital Pharmacy Meetup in Austin on December 1", "en", "Digital Pharmacy Meetup"),
        ("第九届国际精准医学论坛12月22日在西安召开", "zh", "第九届国际精准医学论坛"),
        ("诚邀 | 首届中医药科技创新大会，2026年12月6日，广州", "zh", "首届中医药科技创新大会"),
        ("峰会预告 | 《2026医疗健康投资峰会》12月3日上海见", "zh", "2026医疗健康投资峰会"),
    ],
)
def test_event_name(title: str, lang: str, name: str) -> None:
    fact = detect_event(title, "", lang, PUBLISHED)
    assert fact is not None
    assert fact.name == name


def not_event(title: str, lang: str, summary: str = "") -> Any:
    return pytest.param(title, summary, lang, id=title[:60])


@pytest.mark.parametrize(
    ("title", "summary", "lang"),
    [
        # past-event reports
        not_event("Recap: five takeaways from last week's Biotech Financing Forum", "en"),
        not_event("Digital Health Summit wrapped up in Singapore with record attendance", "en"),
        not_event("Highlights from the 2026 Digital Health Summit in Boston", "en"),
        not_event("The 2026 Rural Health Innovation Summit concluded Friday in Denver", "en"),
        not_event("Replay of our payer contracting webinar is now available", "en"),
        not_event("Pharma supply chain conference closes with call for onshoring", "en"),
        not_event("What we learned at the Hospital CIO Roundtable", "en"),
        not_event("2026中国医疗器械创新大会在苏州圆满落幕", "zh"),
        not_event("第八届生物医药产业峰会成功举办，签约项目金额超50亿元", "zh"),
        not_event("直播回放｜医保支付改革线上研讨会", "zh"),
        not_event("峰会回顾：大咖共话创新药出海", "zh"),
        not_event("第三届细胞与基因治疗大会昨日闭幕", "zh"),
        not_event("2026中国医院管理年会在杭州落下帷幕", "zh"),
        # a report in the summary, with no invitation in the title
        not_event(
            "Digital Health Summit in Boston",
            "en",
            "The summit wrapped up on Friday with a record 4,000 attendees.",
        ),
        not_event("第五届医疗器械大会", "zh", "大会于上周在北京圆满落幕。"),
        # a stated date before publication
        not_event("The Medtech Forum will be held November 1 in Boston", "en"),
        not_event("Medtech Forum set for Boston, November 5", "en"),
        not_event("第五届医疗投资人年会将于11月1日在北京召开", "zh"),
        not_event("11月5日，首届医疗机器人创新论坛在北京召开", "zh"),
        # not events at all
        not_event("FDA approves Tessaro's once-monthly schizophrenia injection", "en"),
        not_event("Ardent Surgical raises $19.5 million Series A", "en"),
        not_event("「安济医疗」完成1.2亿元A+轮融资", "zh"),
        not_event("国家药监局发布医疗器械注册人制度新规", "zh"),
    ],
)
def test_not_an_upcoming_event(title: str, summary: str, lang: str) -> None:
    assert detect_event(title, summary, lang, PUBLISHED) is None


def test_event_to_dict() -> None:
    fact = detect_event("Medtech Forum on December 3 in Boston", "Register now.", "en", PUBLISHED)
    assert isinstance(fact, EventFact)
    assert fact.to_dict() == {
        "name": "Medtech Forum",
        "start": "2026-12-03",
        "place": "Boston",
        "precision": "day",
    }


@pytest.mark.parametrize("measure", ["events_precision", "events_recall"])
def test_labelled_set_events(figures: dict[str, float], measure: str) -> None:
    assert figures[measure] >= 0.90, figures
