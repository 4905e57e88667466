"""Deterministic RSS 2.0 feeds for the benchmarks: ~2 KB HTML descriptions, English and Chinese."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

_EN_WORDS_TEXT = (
    "patients hospital clinical outcomes study researchers health system care costs "
    "data treatment therapy drug device company market investors analysts physicians "
    "nurses insurers coverage digital platform pilot program results safety efficacy "
    "cohort enrollment biomarker oncology cardiology diabetes obesity vaccine gene "
    "cell imaging diagnostics workflow staffing revenue quarter growth board pricing "
    "access rural"
)
EN_WORDS = tuple(_EN_WORDS_TEXT.split())
EN_TITLES = (
    "FDA approves {co} therapy for {area} after Phase 3 trial",
    "{co} raises $120 million Series B to expand {area} platform",
    "{co} partners with regional hospitals on {area} care",
    "CMS guidance on {area} reimbursement draws industry comment",
    "Annual {area} summit opens registration for November forum",
    "Report: {area} spending outlook for the next five years",
    "{co} names new chief medical officer",
    "Study links {area} screening to lower readmissions",
)
_ZH_PHRASES_TEXT = (
    "医院 临床 研究 患者 治疗 药物 器械 企业 市场 投资 数据 平台 试点 项目 结果 安全性 有效性 "
    "队列 入组 肿瘤 心血管 糖尿病 疫苗 基因 细胞 影像 诊断 医保 支付 创新 产业 发展 合作"
)
ZH_PHRASES = tuple(_ZH_PHRASES_TEXT.split())
ZH_TITLES = (
    "{co}完成数亿元B轮融资，加速{area}布局",
    "国家药监局批准{co}{area}创新药上市",
    "{co}与多家医院达成{area}战略合作",
    "2026{area}产业发展大会将于下月举行",
    "深度报告：{area}市场格局与展望",
    "医保局发布{area}支付政策指导原则",
)
COMPANIES = ("Acme Bio", "Northwind Health", "Helix Therapeutics", "Medora", "Caresoft", "Lumen Dx")
ZH_COMPANIES = ("华康医疗", "启明生物", "联影智能", "康泰药业", "瑞医科技")
# Phrases the fact detectors act on (financing rounds, upcoming and past events), so that a
# benchmark exercises the reading as real trade-press feeds do (PITFALLS: content that never
# triggers the detectors flatters ingest).
EN_FACTS = (
    "{co} said it raised $45 million in a Series A round led by Health Ventures, with "
    "participation from existing investors.",
    "The company closed a $12.5 million seed financing to expand its {area} team.",
    "The {area} summit will be held on March 12 in Boston; registration is open and seats "
    "are limited.",
    "Join us for a webinar next Tuesday on {area} reimbursement; sign up to reserve your seat.",
    "Highlights from last week's {area} conference, which drew 2,000 attendees.",
    "Analysts expect the IPO to price next month as {area} valuations recover.",
)
ZH_FACTS = (
    "{co}宣布完成1.2亿元A轮融资，由红杉中国领投，老股东持续加注。",
    "公司近日获得数千万元天使轮投资，将用于{area}产品研发。",
    "2026{area}创新大会将于3月12日在上海举办，诚邀您报名参会。",
    "{area}产业论坛即将开幕，扫码报名，不见不散！",
    "第十届{area}峰会圆满落幕，吸引了上千名嘉宾参会。",
)
AREAS = ("oncology", "cardiology", "diabetes", "digital health", "imaging", "gene therapy")
ZH_AREAS = ("肿瘤", "心血管", "糖尿病", "数字医疗", "医学影像", "基因治疗")


def _en_sentence(rng: random.Random) -> str:
    words = [rng.choice(EN_WORDS) for _ in range(rng.randint(7, 13))]
    return " ".join(words).capitalize() + "."


def _zh_sentence(rng: random.Random) -> str:
    return "".join(rng.choice(ZH_PHRASES) for _ in range(rng.randint(10, 18))) + "。"


def _fact(rng: random.Random, chinese: bool) -> str:
    """A sentence that a financing or event detector acts on."""
    if chinese:
        return rng.choice(ZH_FACTS).format(co=rng.choice(ZH_COMPANIES), area=rng.choice(ZH_AREAS))
    return rng.choice(EN_FACTS).format(co=rng.choice(COMPANIES), area=rng.choice(AREAS))


def _description(rng: random.Random, chinese: bool, site: str, n: int, facts: bool = False) -> str:
    """An HTML fragment like a publisher's feed: paragraphs, links, an image, a list, junk;
    with ``facts``, every item also carries a financing or event sentence."""
    plain = _zh_sentence if chinese else _en_sentence
    fact_at = rng.randrange(3) if facts else -1
    calls = iter(range(1_000))

    def sentence(rng: random.Random) -> str:
        return _fact(rng, chinese) if next(calls) == fact_at else plain(rng)

    link = f"{site}/related/{n}?utm_source=rss&utm_medium=feed&utm_campaign=weekly"
    parts = [
        f'<p class="lead" style="margin:0 0 1em">{sentence(rng)} {sentence(rng)}</p>',
        f'<figure><img src="{site}/img/{n}.jpg" width="640" height="360" alt="photo {n}">'
        f"<figcaption>{sentence(rng)}</figcaption></figure>",
        f'<p>{sentence(rng)} <a href="{link}" target="_blank">{sentence(rng)}</a> '
        f"<strong>{sentence(rng)}</strong> {sentence(rng)}</p>",
        "<ul>" + "".join(f"<li>{sentence(rng)}</li>" for _ in range(3)) + "</ul>",
        f"<blockquote><p><em>{sentence(rng)}</em></p></blockquote>",
        f'<p>{sentence(rng)} <a href="/news/{n}/more">{"更多" if chinese else "Read more"}</a></p>',
        '<script>window.track && track("view")</script>',
        f'<p><img src="{site}/pixel.gif?id={n}" width="1" height="1"></p>',
    ]
    return "".join(parts)


def _title(rng: random.Random, chinese: bool) -> str:
    if chinese:
        return rng.choice(ZH_TITLES).format(co=rng.choice(ZH_COMPANIES), area=rng.choice(ZH_AREAS))
    return rng.choice(EN_TITLES).format(co=rng.choice(COMPANIES), area=rng.choice(AREAS))


def is_chinese(index: int) -> bool:
    """Every fifth feed is in Chinese."""
    return index % 5 == 4


def make_feed(
    index: int,
    items: int,
    now: datetime,
    window: timedelta = timedelta(days=7),
    seed: int = 2026,
    facts: bool = False,
) -> bytes:
    """Feed number ``index`` as RSS 2.0 bytes (UTF-8), items dated within ``window`` before now;
    ``facts`` puts a financing or event sentence in every item (for the reading's detectors)."""
    rng = random.Random(seed * 100_003 + index)
    chinese = is_chinese(index)
    site = f"https://feed{index}.example.com"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel>",
        f"<title>{'医疗资讯' if chinese else 'Health News'} {index}</title>",
        f"<link>{site}/</link>",
        f"<description>Benchmark feed {index}</description>",
        f"<language>{'zh-cn' if chinese else 'en-us'}</language>",
    ]
    span = window.total_seconds()
    for n in range(items):
        published = now - timedelta(seconds=span * (n + rng.random()) / (items + 1))
        parts += [
            "<item>",
            f"<title>{escape(_title(rng, chinese))} #{n}</title>",
            f"<link>{site}/news/{n}?utm_source=rss&amp;utm_medium=feed</link>",
            f'<guid isPermaLink="false">{site}/news/{n}</guid>',
            f"<dc:creator>{'记者 王' if chinese else 'Staff Reporter'} {n % 7}</dc:creator>",
            f"<pubDate>{format_datetime(published)}</pubDate>",
            f"<description>{escape(_description(rng, chinese, site, n, facts))}</description>",
            "</item>",
        ]
    parts += ["</channel>", "</rss>"]
    return "\n".join(parts).encode("utf-8")
