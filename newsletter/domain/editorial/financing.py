"""Financing facts: is this item a company announcing a funding round, and what round, how much,
led by whom. English and Chinese; pure functions of the text."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

from newsletter.domain.editorial.amounts import Amount, find_amount, normalize
from newsletter.domain.editorial.prefilter import prefiltered

# The round ids (names, tranches, two rounds together) live in newsletter.domain.rounds, which
# the email layer reads too without importing the detectors; re-exported here.
from newsletter.domain.rounds import ROUNDS as ROUNDS
from newsletter.domain.rounds import is_round as is_round

# --- English ------------------------------------------------------------------------------
_EN_RAISE = prefiltered(
    r"\b(emerges from stealth with|launches with|debuts with|takes in|adds|takes|grabs|hauls in|scoops up|"
    r"collects|attracts|wins|handed|raises|raised|has raised|secures|secured|closes|closed|lands|landed|bags|nabs|snags|banks|"
    r"completes|completed|announces|announced|gets|receives|received|nets|scores|picks up|pulls in|"
    r"brings in|rakes in|snaps up|garners|clinches|inks|draws|obtains|wraps up|wraps|"
    # verbs of the trade press for a round ("reels in $30M", "tops up its Series B")
    r"reels in|scoops up|scoops|pockets|amasses|snares|racks up|unveils|tops up|seals|"
    r"lines up|expands|extends|upsizes|books)\b",
    re.I,
)
_EN_ROUND = prefiltered(
    r"\b(?:(?P<pre>pre-?)\s?series\s?(?P<prel>[a-f])|series\s?(?P<l>[a-f])(?P<plus>\+)?(?:-?(?P<sub>[1-9]))?|"
    r"(?P<preipo>pre-?ipo)|(?P<seed>pre-?seed|seed)|(?P<angel>angel)|"
    r"(?P<strat>strategic)\s+(?:investment|round|funding|financing)|pre-?(?P<prel2>[a-c]))(?![A-Za-z0-9])",
    re.I,
)
_EN_FUNDING_WORD = prefiltered(
    r"\b(funding|financing|investment|round|series [a-e]|seed|venture|capital injection|raise)\b",
    re.I,
)
_EN_LISTING = prefiltered(
    r"(?<!pre-)(?<!pre)\b(ipo|initial public offering|goes public|go public|public offering|listing|lists on|"
    r"nasdaq debut|spac|share (?:sale|placement|offering)|placement|secondary offering|follow-on offering)\b",
    re.I,
)
_EN_NOT = prefiltered(
    r"\b(startups|companies|biotechs|"
    # "VC funding in Q2", "funding for digital health"; not a company's own round ("raises $20M
    # in funding to expand", "Series A funding to advance", "seed funding for its platform")
    r"(?<!\bin )(?<!new )(?<!series [a-f] )(?<!seed )(?<!round )(?<!million )(?<!billion )"
    r"(?<![0-9][mbk] )"
    r"funding (?:in|for|to)|in (?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december)\b|"
    r"acquir\w*|acquisition|merger|merges|buyout|takes over|to buy|buys|"
    r"licens\w*|upfront|milestone payments?|royalt\w*|"
    r"fund (?:i|ii|iii|iv|v|vi|vii|\d)\b|(?:seed|new|debut|first|second|third|fourth|fifth|sixth|flagship|venture|"
    r"growth|opportunity|evergreen|[a-z]+-focused|life[- ]sciences?|biotech|healthcare|medtech|health)\s+fund\b|"
    r"fund close|closes? (?:its |a )?(?:\S+ )?fund\b|for (?:a |its )?(?:\S+ )?fund\b|grant|award|contract|"
    r"lays off|layoffs?|after raising|since raising|"
    r"in talks|plans to raise|planning to raise|seeks|seeking|looking to raise|aims to raise|set to raise|"
    r"in discussions|considering|weighs|guidance|revenue|earnings|"
    r"funding (?:fell|rose|dropped|declined|slumped|surged|climbed|jumped|totals|totaled|hits|reached)|"
    r"quarter|q[1-4]\b|h[12]\b|report|analysis|outlook|investors pour|funding trends?|funding landscape)\b",
    re.I,
)

# --- Chinese ------------------------------------------------------------------------------
_ZH_DONE = prefiltered(
    r"(完成|获得|获|宣布完成|斩获|拿下|获得了|迎来|顺利完成|正式完成|已完成|落地)"
)
_ZH_ROUND = prefiltered(
    r"(?P<r>Pre-?IPO|pre-?ipo|Pre[-\s]?[A-Ca-c]\+{0,2}|pre[-\s]?[a-c]\+{0,2}|[A-Fa-f]\+{1,2}|[A-Fa-f]\d?|天使\+?|种子\+?|战略)"
    r"\s*(?:系列)?轮"
    # "B轮临床试验", "A轮谈判", "第B轮集采": a round of something else than funding
    r"(?!\s*(?:临床|试验|研究|测试|招募|入组|谈判|评审|评选|集采|采购|投票|比赛|答辩|面试|筛选|"
    r"订单|中标|报价|竞价|磋商|审核|检查|督查|巡视|巡查))"
    r"|(?P<strat>战略融资|战略投资)"
    r"|(?P<series>[A-Fa-f])\s*系列(?=[^，。；,;]{0,10}融资)"
    # "B3融资": a numbered tranche needs no 轮
    r"|(?<![A-Za-z])(?P<sub>[A-Fa-f][1-9])\s*融资"
    # without 轮: "天使投资" / "种子投资" (not 天使投资人, an angel investor), "Series A融资",
    # "Pre-IPO融资"
    r"|(?P<named>天使|种子)\s*(?=(?:投资|融资)(?!人|机构|基金|方|项目|补贴|课程|平台|评审|奖|政策))"
    r"|(?:[Ss]eries|SERIES)\s*(?P<series2>[A-Fa-f])(?![A-Za-z])"
    r"|(?P<preipo>[Pp]re-?(?:IPO|ipo))\s*(?=融资|投资)"
)
_ZH_ROUND_TOKEN = r"(?:Pre[-\s]?[A-Ca-c]\+{0,2}|[A-Fa-f]\+{0,2}[1-9]?|天使\+?|种子)"
# Two rounds announced together: "A轮及A+轮", "B、C轮", "B1轮和B2轮", "天使轮及Pre-A轮".
_ZH_TWO_ROUNDS = re.compile(
    rf"(?<![A-Za-z])(?P<a>{_ZH_ROUND_TOKEN})\s*轮?\s*(?:及|和|与|、|/|＆|&)\s*(?P<b>{_ZH_ROUND_TOKEN})\s*(?:系列)?轮",
    re.I,
)
# 获投 ("got invested") is a funding word by itself, but not in 获投票, 获投诉, 获投产, 获投用,
# 获投中 (an award of 投中, a ranking firm), nor in 获投资 (获投资者关注, 项目获投资5亿元), which
# is read as 获 + 投资 like any other title.
_ZH_GOT_INVESTED = r"获投(?![资票诉放入产标保运用中])"
_ZH_FUNDING = prefiltered(rf"融资|投资|注资|{_ZH_GOT_INVESTED}")
_ZH_NOT = prefiltered(
    # a listed company as the investor ("获上市公司战略投资", "上市公司领投") is no listing; any
    # other 上市 is ("成为上市公司后", "上市公司融资数亿元")
    r"(IPO|上市(?!公司(?:战略投资|投资|领投|参投|跟投|入股|独家投资))|招股|募资|募集资金|港股|科创板|创业板|北交所|递表|挂牌|配售|定增|增发|"
    r"收购|并购|合并|控股权|私有化|"
    r"授权|许可|首付款|里程碑付款|BD交易|引进|"
    r"基金.*(?:募集|关账|设立)|(?:完成|首轮)关账|母基金|基金规模|新基金|"
    r"拟|计划|筹划|寻求|洽谈|正在进行|启动.{0,4}融资|意向|路演|现场直击|"
    r"融资租赁|发债|债券|质押|增资扩股|城投|偿还|投资额度|融资额度|授信|贷款|国资委|财政|融资额(?:同比|环比)|融资总额|融资事件|投融资(?:报告|月报|周报|数据|盘点|观察)|"
    r"季度|上半年|下半年|前三季度|全年|月报|周报|盘点|报告|分析|趋势)"
)
_ZH_STRONG = prefiltered(
    r"(?:宣布完成|完成|获得?|斩获|拿下|拿到|迎来)[^，。；,;]{0,24}?(?:轮|战略)融资"
)
# 刚 ("just") only where a word starts: 金刚医疗 is a name
_ZH_MENTION_BEFORE = prefiltered(
    r"(?:距|(?<![\u4e00-\u9fff])刚|曾|此前|对话|采访|专访|回顾|盘点)[^，。；]{0,6}$"
)
# ("的首关", "的首次交割" are the round's own closing, not a mention of it)
_ZH_MENTION_AFTER = prefiltered(
    r"^(?:后|的(?!\s*(?:首关|首次交割|交割|首轮交割)(?![^，。；]{0,6}后))|以来|之后|不久|仅)"
)
_ZH_HARD_NOT = prefiltered(
    r"(IPO|上市|招股|港股|科创板|递表|收购|并购|基金|授权|首付款|意向|寻求|拟)"
)
_ZH_PREFIX = re.compile(r"^\s*(?:【[^】]{1,10}】|[^|｜]{1,10}\s*[|｜]|独家\s*[|｜:：]?)\s*")
_ZH_LEAD = prefiltered(
    r"(?:领投方为|领投方是)(?P<after>[^，。；,;（）()]{2,40})|"
    r"(?P<who>[^，。；,;（）()]{2,60}?)(?:联合|共同)?(?:领投|独家投资|独投)"
)
_EN_LEAD = prefiltered(
    r"\b(?:co-)?led by (?P<who>.+?)(?=,? with participation|,? with |,? alongside|\s+and existing|,? as well as|"
    r"[.;。]|,? bringing|,? to |,? which|,? who|$)",
    re.I,
)


@dataclass(frozen=True)
class FinancingFact:
    """A funding announcement; ``company`` is "" when the title names none ("某新锐完成B轮"),
    ``company_confidence`` how sure the name is (1.0 quoted or clean, lower when a descriptor
    was cut off or no name was found), ``sector`` "healthcare" or "other" (a title rule)."""

    company: str
    round: str
    amount: Amount | None
    lead_investors: list[str] = field(default_factory=list)
    company_confidence: float = 1.0
    sector: str = "other"

    def to_dict(self) -> dict[str, object]:
        """JSON form stored in item.facts['financing']."""
        amount = self.amount
        return {
            "company": self.company,
            "round": self.round,
            "amount_low": amount.low if amount else None,
            "amount_high": amount.high if amount else None,
            "currency": amount.currency if amount else None,
            "amount_text": amount.text if amount else None,
            "lead_investors": self.lead_investors,
            "company_confidence": self.company_confidence,
            "sector": self.sector,
        }


def _without_pre_ipo(text: str) -> str:
    """Pre-IPO rounds are rounds: keep "IPO" inside them from looking like a listing."""
    return re.sub(r"pre-?ipo", "", text, flags=re.I)


# The rounds that are a name rather than a letter: the group of _EN_ROUND that matched it, or
# how the round in _ZH_ROUND starts (in this order: "pre-ipo" before "pre").
_EN_NAMED_ROUNDS = (
    ("preipo", "pre-ipo"),
    ("seed", "seed"),
    ("angel", "angel"),
    ("strat", "strategic"),
)
_ZH_NAMED_ROUNDS = (
    ("pre-ipo", "pre-ipo"),
    ("preipo", "pre-ipo"),
    ("pre-b", "pre-b"),
    ("preb", "pre-b"),
    ("pre-c", "pre-c"),
    ("prec", "pre-c"),
    ("pre", "pre-a"),
    ("天使", "angel"),
    ("种子", "seed"),
    ("战略", "strategic"),
)


def _en_round(text: str) -> str | None:
    m = _EN_ROUND.search(text)
    if not m:
        return None
    pre = m.group("prel") or m.group("prel2")
    if pre:
        return "pre-" + pre.lower()
    if m.group("l"):
        sub = m.group("sub") if not m.group("plus") else None
        return m.group("l").lower() + (sub or ("+" if m.group("plus") else ""))
    return next((label for group, label in _EN_NAMED_ROUNDS if m.group(group)), None)


def _zh_round_token(raw: str) -> str:
    """One round as Chinese titles write it ("B3", "A+", "Pre-A", "天使") to its id."""
    raw = raw.lower().replace(" ", "").replace("pre-", "pre")
    # Pre-A+轮 is the Pre-A round's follow-on, a round of its own (RULES.md writes it so)
    follow_on = re.fullmatch(r"pre([a-c])\+{1,2}", raw)
    if follow_on:
        return f"pre-{follow_on.group(1)}+"
    for prefix, label in _ZH_NAMED_ROUNDS:
        if raw.startswith(prefix):
            return label
    letter, rest = raw[0], raw[1:]
    if rest[:1].isdigit():
        return letter + rest[0]  # B3轮: the third tranche of the B round
    # A++轮, the second follow-on, is a round of its own; A+++ is read as A++
    return letter + ("++" if rest.startswith("++") else "+" if rest.startswith("+") else "")


def _zh_round(text: str) -> str | None:
    m = _ZH_ROUND.search(text)
    if not m:
        return None
    two = _ZH_TWO_ROUNDS.search(text)
    if two and two.start() <= m.start() < two.end():
        first, second = _zh_round_token(two.group("a")), _zh_round_token(two.group("b"))
        return first if first == second else f"{first}/{second}"
    if m.group("strat"):
        return "strategic"
    if m.group("series"):  # 完成A系列亿元融资
        return m.group("series").lower()
    if m.group("sub"):
        return m.group("sub").lower()
    if m.group("series2"):  # 完成Series A融资
        return m.group("series2").lower()
    if m.group("named") or m.group("preipo"):
        return _zh_round_token(m.group("named") or m.group("preipo"))
    return _zh_round_token(m.group("r"))


def _clean_company(name: str) -> str:
    bracketed = re.search(r"[「『“\"]([^」』”\"]{1,40})[」』”\"]", name)
    if bracketed:  # 「安济医疗」, AI制药公司「晶算智药」: the bracketed name is the company
        return bracketed.group(1).strip()
    name = _ZH_PREFIX.sub("", name).strip(" :：,，|｜-\"'“”")
    name = re.sub(
        r"^(exclusive|breaking|scoop|funding|startup|update)\s*[:|-]\s*", "", name, flags=re.I
    )
    return name[:80].strip()


def _en_company(title: str) -> str:
    m = _EN_RAISE.search(title)
    head = title[: m.start()] if m else title
    head = re.split(r"[:|]\s*", head)[-1]
    # "Acme, a digital health startup, raises": the apposition is no part of the name.
    head = re.sub(r",\s+(?:a|an|the|which|whose|that|who)\s[^,]*,?\s*$", "", head.strip())
    # "Acme, backed by Alpha, raises"; "Alpha-backed Acme raises"; "Acme in $30M Series A"
    head = re.sub(r",\s+(?i:backed|funded|supported)\s+by\s[^,]*,?\s*$", "", head.strip())
    # (the backer can be a few capitalized words: "Tiger Global-backed Acme")
    head = re.sub(
        r"^(?:[A-Z0-9][\w&.]*\s+){0,3}?\S*-(?i:backed|funded)\s+(?=[A-Z0-9])", "", head.strip()
    )
    head = re.sub(r"\s+in$", "", head.strip())
    # "Boston-based Acme Health" -> "Acme Health"; "Digital health startup Acme" -> "Acme"
    # (only when a capitalized name follows, so "Zhiyuan Biotech" keeps its name)
    head = re.sub(
        r"^.*?\b(?i:based|startup|company|firm|maker|developer|biotech|platform|provider|specialist|unicorn|pioneer|innovator)\s+(?=[A-Z0-9])",
        "",
        head,
    )
    # "London's Medora Labs" -> "Medora Labs"
    head = re.sub(r"^[A-Z][\w.-]*(?:\s[A-Z][\w.-]*)?['’]s\s+(?=[A-Z0-9])", "", head)
    # "Acme Bio's $30M Series A": the possessive before the round is no part of the name.
    head = re.sub(r"['’]s?\s*$", "", head.strip(" ,"))
    return _clean_company(head.strip(" ,"))


_ZH_DESCRIPTOR = re.compile(
    r"^.*?(?:企业|公司|厂商|平台|品牌|服务商|开发商|研发商|器械商|供应商|制造商|初创|新锐)(?=[\u4e00-\u9fffA-Za-z])"
)


def _zh_company(title: str) -> str:
    title = _ZH_PREFIX.sub("", title)
    m = _ZH_DONE.search(title)
    head = title[: m.start()] if m else title
    head = re.split(r"[，,：:]", head)[-1]
    stripped = _ZH_DESCRIPTOR.sub("", head)
    return _clean_company(stripped or head)


def _split_investors(text: str) -> list[str]:
    # Not on 和: it is part of many names (泰和资本). ", the venture arm of ..." is a description.
    text = re.split(r",\s+(?:the|a|an|its)\s", text, maxsplit=1)[0]
    parts = re.split(
        r"\s*(?:,|，|、|以及|与|及| and |&|(?<=资本|投资|创投|基金|集团|资产|控股|证券|银行)和)\s*",
        text,
    )
    names = [p.strip(' .。"“”') for p in parts]
    return [
        n for n in names if 1 < len(n) <= 60 and not n.lower().startswith(("existing", "other"))
    ]


def _lead_investors(text: str, lang: str) -> list[str]:
    if lang == "zh":
        for zh in _ZH_LEAD.finditer(text):
            if zh.group("after"):
                names = _split_investors(zh.group("after"))
            else:
                who = zh.group("who")
                who = who.rsplit("由", 1)[-1]  # 本轮战略融资由康华集团领投 -> 康华集团
                # 甲医疗获高瓴独家投资 -> 高瓴: the company and its verb are not investors.
                who = re.split(r"获得|获|完成", who)[-1]
                who = re.sub(r"^(?:本轮|本次|融资|此轮|其中|系)+", "", who)
                names = _split_investors(who)
            if names:
                return names
        return []
    m = _EN_LEAD.search(text)
    if not m:
        led = re.search(
            r"(?:^|[.;。]\s*)(?P<who>[A-Z][\w&.'-]*(?:\s+[A-Z][\w&.'-]*){0,5}) (?:co-)?led the (?:round|financing|raise|investment)",
            text,
        )
        return _split_investors(led.group("who")) if led else []
    return _split_investors(re.sub(r"^(?:the\s+)", "", m.group("who").strip()))


def detect_financing(title: str, summary: str, lang: str) -> FinancingFact | None:
    """The funding round an item announces, or None (IPOs, M&A, licensing, funds, plans, trends);
    the first of detect_financings when a title announces two."""
    facts = detect_financings(title, summary, lang)
    return facts[0] if facts else None


_EN_WEAK_VERBS = frozenset(
    (
        "completes",
        "completed",
        "announces",
        "announced",
        "adds",
        "takes",
        "wins",
        "attracts",
        "inks",
        "draws",
        "obtains",
        "wraps",
        "wraps up",
        "unveils",
        "tops up",
        "seals",
        "lines up",
        "expands",
        "extends",
        "upsizes",
        "books",
        # a sum is not a round by itself: "racks up $5M in debt", "amasses a $1M bill"
        "racks up",
        "amasses",
        "pockets",
        "snares",
        "scoops",
        "scoops up",
        "reels in",
    )
)
# Verbs that say "more of something" of many things besides a round: only with a sum ("tops up
# its Series B with $10M"), never a round's name alone ("expands Series B trial").
_EN_NEEDS_SUM = frozenset(
    ("unveils", "tops up", "seals", "lines up", "expands", "extends", "upsizes", "books")
)
# The verbs that announce a round whose name and sum are both left out ("raises new funding",
# "completes financing round"); "FDA expands funding", "WHO gets funding" announce none.
_EN_UNSTATED_VERBS = frozenset(
    (
        "raises",
        "raised",
        "has raised",
        "secures",
        "secured",
        "closes",
        "closed",
        "completes",
        "completed",
        "lands",
        "landed",
    )
)
# A round named without its sum right after the verb: "raises new funding", "completes
# financing round", "closes a round of financing" (not "receives funding from", a grant's form).
_EN_UNSTATED_ROUND = re.compile(
    r"\s*(?:(?:a|an|its|their)\s+)?(?:(?:new|fresh|additional|undisclosed|first|latest|next)\s+)?"
    r"(?:(?:funding|financing|investment)\s+round|round\s+of\s+(?:funding|financing|investment)|"
    r"(?:funding|financing)(?=\s*(?:$|[,;:.!]|\s+(?:led|to|as|with|at|amid)\b)))",
    re.I,
)
# An investor's headline: "Pfizer invests $20M in Acme", "Alpha leads $20M Series A in Acme";
# "Pfizer makes strategic investment in Veltra Bio" only with an equity word and a proper name
# that ends the title (not "makes $500M investment in Ohio plant", "… in India manufacturing").
_EN_INVESTOR = prefiltered(
    r"^(?P<who>.+?)\s+(?:invests|co-leads|leads|backs|makes(?=\s+(?:an?\s+)?(?:strategic|equity|minority)"
    r"\s+investment\s+in\s+[A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*){0,3}$))\s+(?P<what>.*?)\s+in\s+(?P<co>[A-Z0-9].*)$"
    r"|^(?P<who2>.+?)\s+backs\s+(?P<co2>[A-Z0-9][^,;]*?)\s+with\s+(?P<what2>.+)$"
)
# Money that is no equity round (RULES.md: loans, convertible bonds, grants are never
# financing): a sum raised this way is a round only when the title also names one. Only when
# the debt is what was raised ("$50M loan", "$40M in debt", "via crowdfunding"), not a word
# anywhere ("raises $10M for its student loan app", "Debt Capital Partners"); a public funder
# only by its own name ending the phrase, case-sensitive ("from NIH", not "from State Street",
# "from EU investors", "from Department 13 Ventures").
_EN_DEBT = (
    r"(?:loans?|debt(?:\s+(?:facility|financing))?|credit\s+(?:facility|line)|line\s+of\s+credit|"
    r"convertible\s+notes?|notes\s+offering|bonds?|settlement)"
)
_EN_NOT_EQUITY = prefiltered(
    r"(?i:(?:[$€£]|\b(?:US|HK|S)\$)\s?[\d.]{1,15}(?:\s?(?:[mbk]|mn|bn|mln|bln|million|billion)\b)?\s+"
    rf"(?:in\s+|of\s+)?{_EN_DEBT}\b"
    r"|\b(?:through|via|in)\s+(?:an?\s+)?(?:convertible\s+notes?|crowdfunding|donations|debt|loans|bonds)\b)"
    r"|\b(?:from|by)\s+(?:the\s+)?(?:NIH|BARDA|DARPA|NSF|CEPI|ARPA-H|CIRM|European Commission|EU|"
    r"state|federal government|government)"
    r"(?=\s*(?:$|[,;:.!()]|\s(?:to|for|in|as|amid|after|under|with)\b))"
)
# A digest of the week's or day's deals names itself: it announces no one round.
_EN_DIGEST = prefiltered(
    r"\b(round-?up|digest|this week in|weekly|week in review|deals of the (?:week|day)|"
    r"funding news|daily brief|newsletter)\b",
    re.I,
)


def _en_fact(title_n: str, summary_n: str) -> FinancingFact | None:
    """The round one English headline (or clause of one) announces, or None."""
    if _EN_NOT.search(title_n):
        return None
    round_in_title = _en_round(title_n)
    if round_in_title is None and _EN_NOT_EQUITY.search(title_n):
        return None
    if _EN_LISTING.search(_without_pre_ipo(title_n)) and round_in_title != "pre-ipo":
        return None
    amount_in_title = find_amount(title_n)
    amount: Amount | None
    en_round: str | None
    raise_verb = _EN_RAISE.search(title_n)
    invested = _EN_INVESTOR.search(title_n)
    if invested and (round_in_title or amount_in_title) and not raise_verb:
        # "Pfizer invests $20M in Acme", "Alpha backs Acme with $5M": the company is the
        # one after "in" (or after "backs").
        what = invested.group("what") or invested.group("what2")
        co = invested.group("co") or invested.group("co2")
        company = _en_company(re.split(r"\s+(?:to|for|as|with)\s+", co)[0])
        who = invested.group("who") or invested.group("who2")
        return FinancingFact(
            company,
            _en_round(what) or _en_round(summary_n) or "undisclosed",
            find_amount(what) or find_amount(summary_n),
            _split_investors(who) if "lead" in title_n.lower() else [],
            1.0 if company else 0.2,
            sector_of(title_n),
        )
    anchor: int | None = raise_verb.start() if raise_verb else None
    if round_in_title and amount_in_title:
        # "Amberlight's $88.5M Series C will fund ...", "Series B tops $100M": a round with a sum.
        amount, en_round = amount_in_title, round_in_title
        if anchor is None:
            at_round = _EN_ROUND.search(title_n)
            at_amount = title_n.find(amount_in_title.text)
            anchor = min(p for p in (at_round.start() if at_round else -1, at_amount) if p >= 0)
    else:
        if not raise_verb:
            return None
        after = title_n[raise_verb.end() :]
        en_round = _en_round(after) or _en_round(summary_n)
        amount = find_amount(after)
        funding_word = _EN_FUNDING_WORD.search(after)
        verb = raise_verb.group(1).lower()
        if (
            en_round is None
            and amount is None
            and (verb not in _EN_UNSTATED_VERBS or not _EN_UNSTATED_ROUND.match(after))
        ):
            return None
        if en_round is None and not funding_word and verb in _EN_WEAK_VERBS:
            return None
        if amount is None and verb in _EN_NEEDS_SUM:
            return None
    if amount is None:
        amount = find_amount(summary_n)
    company = _en_company(title_n[:anchor] if anchor is not None else title_n)
    return FinancingFact(
        company,
        en_round or "undisclosed",
        amount,
        _lead_investors(f"{title_n}。{summary_n}", "en"),
        1.0 if company else 0.2,
        sector_of(title_n),
    )


# Where a second deal can start in an English title: "; ", " | ", ", ", " and ", " & ".
# (Tried only where a run of spaces starts: from each space of a long run, the pattern ran to the
# run's end again, seconds on a 6,000-space title.)
_EN_CLAUSE_SEP = re.compile(r"(?<!\s)\s*(?:;|\s[|–—]\s|,)\s*(?:and\s+)?|(?<!\s)\s+(?:and|&|\+)\s+")


_EN_MAX_SEPARATORS = 8
_EN_MAX_SPLIT_LEN = 400


def _en_deals(title_n: str, summary_n: str) -> list[FinancingFact]:
    """Every round an English title announces: one, or one per clause when a second clause has
    its own company and raising verb ("Acme raises $20M; Beta lands $5M seed"); none for a
    digest ("Funding roundup: ...")."""
    if _EN_DIGEST.search(title_n):
        return []
    cuts = [0]
    # Each separator searches the text on both sides of it: bounded to the first few separators
    # of a headline-length title, or a hostile run of ", and " is quadratic (seconds).
    separators = (
        itertools.islice(_EN_CLAUSE_SEP.finditer(title_n), _EN_MAX_SEPARATORS)
        if len(title_n) <= _EN_MAX_SPLIT_LEN
        else ()
    )
    for sep in separators:
        if not _EN_RAISE.search(title_n[cuts[-1] : sep.start()]):
            continue  # the clause before has no verb of its own
        rest = title_n[sep.end() :]
        verb = _EN_RAISE.search(rest)
        subject = rest[: verb.start()].strip() if verb else ""
        if (
            subject[:1].isupper()
            and len(subject.split()) <= 6
            and not re.search(r"[,;]", subject)
            and find_amount(subject) is None
            and _en_round(subject) is None
        ):
            cuts.append(sep.start())
    if len(cuts) >= 2:
        bounds = [*cuts, len(title_n)]
        clauses = [
            _EN_CLAUSE_SEP.sub("", title_n[a:b], count=1) if a else title_n[a:b]
            for a, b in itertools.pairwise(bounds)
        ]
        deals = [_en_fact(c.strip(), "" if n else summary_n) for n, c in enumerate(clauses)]
        named = [d for d in deals if d is not None and d.company]
        if len(named) == 2 and named[0].company != named[1].company:
            return named
        if len(named) >= 3:
            return []  # a round-up of deals, not an announcement
    fact = _en_fact(title_n, summary_n)
    return [fact] if fact is not None else []


# --- Chinese titles, segment by segment ---------------------------------------------------
# A digest names itself (周报, 日报, 一周…) or carries a dated column name (【智琰汽车 0617】);
# RULES.md decision 1: it is not a funding announcement, whatever rounds it lists.
_ZH_DIGEST = prefiltered(
    r"(周报|日报|早报|晚报|周刊|月报|简报|快报|热讯|一周|汇总|周览|要闻|早知道|融资新闻|每日|\.\.\.|…)"
)
_DATED_COLUMN = re.compile(r"【[^】]{0,20}\d{3,}[^】]{0,4}】")
_BRACKETS = re.compile(r"【[^】]{0,20}】")
# Headlines inside one title: 丨 | ； ! ? and a space between two Chinese characters.
_SEGMENT_SPLIT = re.compile(
    # (tried only where a run of spaces starts: from each space of a long run it ran to the end
    # of the run again, a second on a 6,000-space title)
    r"(?<!\s)\s*(?:[|｜丨;；!！?？]|——|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff「“])"
    # a space before the verb is between the name and its verb ("甲医疗 完成A轮融资")
    r"(?!宣布|完成|获得|获|斩获|拿下|拿到|迎来|再获|连获|喜获|正式完成|顺利完成))\s*"
)
_ZH_VERB = prefiltered(
    r"(宣布完成|顺利完成|正式完成|已完成|完成|获得了|获得|斩获|拿下|拿到|拿了|迎来|再获|连获|喜获|获投|获|"
    # 引入…投资 is a company taking investors in; 引入社会资本/外资 is a policy
    r"引入(?!社会资本|民间资本|民营资本|外资|资本))"
)
# A round without a verb: "齐碳科技B轮融资超4亿元", "Licious在F轮融资", "3700万美元C轮融资".
_ZH_BARE_ROUND = prefiltered(
    r"(?:(?:Pre[-\s]?|pre[-\s]?)?[A-Fa-f]\+{0,2}\d?|天使|种子|Pre-?IPO)\s*(?:系列)?轮\s*融资"
)
_ZH_AMOUNT_FUNDING = prefiltered(
    r"^(?:近|超|约)?\s*[\d.]+\s*(?:千万|百万|万|亿)\s*(?:美元|元|人民币|美金)?\s*[A-Fa-f+\-]{0,4}\s*轮?融资"
    # "融资2亿元", "融资数亿元", "融资逾亿元"; not a running total ("一年融资过亿", "累计融资数亿",
    # "单笔融资"), debt or a pledge ("发债融资", "质押融资"), nor money for a project: the sum ends
    # the headline or its clause ("融资数亿元建设产业园" is not a round)
    r"|(?<![年月周天笔计总债押股])融资(?:(?:近|超过?|约|逾|达)\s*(?:[\d.]+|数)?|[\d.]+|数)\s*"
    r"(?:十亿|千万|百万|万|亿)\s*(?:美元|美金|元|人民币)?(?=\s*(?:$|[，,。；;!！?？、]|[A-Fa-f]\+?\s*轮))"
)
# The tech press's spoken form, a sum raised and nothing after it: "甲医疗又融了5亿元",
# "甲医疗融了近亿元" (the sum must end the headline). 拿了 a sum is not enough: revenue, orders
# and a streamer's night take the same verb ("华为拿了300亿元", "主播一晚上拿了100万元"); only
# the press's "<what the company does>，拿了1.3亿美金" form, a clause of its own with a sum in
# dollars ending the headline, and no sale or revenue in it (_ZH_TAKE_NOT).
_ZH_SUM_AT_END = (
    r"\s*(?:(?:近|超过?|约|逾|上|过)\s*)?"
    r"(?:[\d.]{1,12}|数|[一二两三四五六七八九十]{1,4})?\s*(?:十亿|千万|百万|万|亿)\s*"
)
_ZH_TAKE_SUM = prefiltered(
    rf"(?<!金)融了{_ZH_SUM_AT_END}(?:美元|美金|元|人民币|港元|欧元)?(?=\s*[!！?？。]?\s*$)"
    rf"|[，,]\s*拿了{_ZH_SUM_AT_END}(?:美元|美金)(?=\s*[!！?？。]?\s*$)"
)
_ZH_TAKE_NOT = prefiltered(r"营收|收入|销售|销量|一晚上|直播|靠|卖|赚|中标|订单|合同|补贴|奖")


def _take_sum(text: str) -> re.Match[str] | None:
    """The spoken "又融了5亿元" / "…，拿了1.3亿美金" form in a headline, or None."""
    found = _ZH_TAKE_SUM.search(text)
    return None if found is None or _ZH_TAKE_NOT.search(text) else found


# 领投/独家投资/入股 + the company: "毅达资本领投飞谱电子Pre-A轮融资", "红杉入股时尚电商SSENSE".
_ZH_INVESTED = prefiltered(
    r"(?:领投|跟投|参投|独家投资|联合投资|共同投资|战略投资|入股)(?:了)?\s*(?!的)(?P<co>[「“\"]?[^，,。；;「」“”\"]{2,20}?[」”\"]?)"
    r"(?=\s*(?:的)?\s*(?:数|近|超|[\d千百上过]|Pre|pre|[A-Fa-f]\+?\d?\s*轮|天使|种子|新一轮|首轮|战略|融资|[？?！!]|$))"
)
# What follows 领投 in a headline about the market rather than a round: a statistic or a ranking.
_ZH_LEAD_TREND = re.compile(
    r"^(?:比例|金额|数量|规模|项目|机构|排行|占比|次数|笔数|总额|案例|事件|频次|次数)"
    r"|创新高|新高|下降|下滑|增长|上升|同比|环比|排行|榜|居首|第一|减少|翻倍"
    # another investor, not a company: "甲资本领投、乙创投跟投"
    r"|(?:跟投|参投|领投|追投|加持)$"
)
# The investor's form, "乙资本完成对甲医疗的战略投资", "乙资本对甲医疗进行投资": the company
# is the one after 对, not the subject.
_ZH_INVESTEE = re.compile(
    r"对\s*(?P<co>[「“]?[^，,。；;对的其该这]{2,20}?[」”]?)\s*(?:的|进行了?|完成了?)"
    r"[^，,。；;]{0,12}?(?:投资|注资|增资)"
)
# A plural or generic subject is a trend, not one company's round ("多家企业斩获新一轮融资").
_ZH_PLURAL = prefiltered(r"(多家|多个|数家|几家|\d+家|\d+个|这些|一批|多笔)")
_ZH_NOT_NAME = prefiltered(
    r"^(?:\d{2,4}年|今年|去年|年内|近日|日前|近期|本周|上周|半年|上半年|此前|再次|又|这家|一家|该|某|"
    r"(?:近|超|约)?\s*[\d.]+\s*(?:千万|百万|万|亿)|[A-Fa-f]\+?\s*轮)"
    # "苏州这家医疗科技公司", "一家AI制药企业": a demonstrative anywhere names no one
    r"|这家|那家|一家|某"
    # a span of time or a tally, not a name: "一年融资数亿", "单笔融资数亿"
    r"|^(?:[一二两三四五六七八九十半\d]{1,3}个?(?:年|月|周|天)|单笔|累计|总计|合计)$"
    # a date alone ("6月", "6月15日") or one character left of a clause ("并")
    r"|^(?:\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?|\d{1,2}\s*[日号]|[\u4e00-\u9fff])$"
    # a description that ends in what it is, with no name ("系统间生物学新星", "医疗科技公司")
    # (a legal name keeps its suffix: "星禾基因科技有限公司", "某某股份公司")
    r"|(?:(?<!有限)(?<!股份)(?<!责任)(?<!集团)(?<!控股)(?<!实业)(?<!\))(?<!）)公司|企业|新星|新锐|初创|独角兽|黑马|创企|明星项目)$"
)
_ZH_DESCRIPTOR_TAIL = re.compile(
    r"^.*?(?:企业|公司|厂商|平台|品牌|服务商|提供商|运营商|开发商|研发商|器械商|供应商|制造商|电商|"
    r"初创|新锐|项目|独角兽|龙头|黑马|新星|创企|明星|旗下)\s*(?=[\u4e00-\u9fffA-Za-z0-9「“])"
)
# Adverbs and verbs left between the name and the round: "「文和友」短期连续完成".
_ZH_TRAILING = re.compile(
    r"(?:再次|再|又|也|已|即将|成功|近日|日前|宣布|正式|在|短期|连续|先后|相继|累计|完成|获得|获|"
    r"[一二两三四五六七八九十半\d]+个?(?:年|月|周|天)内|年内|今年|同日|当日|近期|"
    # when and how the deal closed: "于近日", "今日", "6月15日", "再度", "接连", "逆势"
    r"于|今日|今天|昨日|昨天|日内|本周|上周|本月|刚刚|已经|终于|首次|再度|接连|逆势|一举|顺利|"
    r"(?:\d{1,2}\s*月\s*)?\d{1,2}\s*[日号]|"
    # a possessive before the round ("甲医疗的B轮融资额增至2亿美元"): no name ends in 的
    r"的)+$"
)
# An amount (or 新一轮) left between the name and a round written without a verb:
# "康途生物5亿元B轮融资", "安和医疗数千万元A轮融资落地".
_ZH_TRAILING_AMOUNT = re.compile(
    r"(?:(?:新一轮|首轮)\s*)?(?:(?:近|超过?|约|逾|达|上|过|将近)\s*(?:[\d.,]+|数|[一二两三四五六七八九十]+)?"
    r"|(?:[\d.,]+|数|[一二两三四五六七八九十]+))\s*[十百千]?\s*[万亿]\s*"
    r"(?:美元|美金|元|人民币|港元|欧元|英镑|日元)?\s*(?:级)?$"
    r"|(?:新一轮|首轮)$"
)
_ZH_CHEER = re.compile(r"^(?:热烈)?(?:祝贺|恭喜|恭贺|庆祝|喜报|喜讯|贺)[!！:：,，\s]*")
_FAMILY_PREFIX = re.compile(r"^.{0,20}?family['’s]*\s*[-–:：]\s*", re.I)
_ZH_AWARD = prefiltered(r"(荣获|获评|入选|获奖|奖项|榜单|称号|评选|年度.{0,10}(?:机构|投资人))")
_HEALTH = prefiltered(
    r"(医|药|生物|基因|诊断|器械|健康|临床|细胞|抗体|疫苗|治疗|肿瘤|癌|病|康复|护理|影像|制剂|核酸|"
    r"免疫|蛋白|分子|测序|体外|检测|手术|介入|耗材|诊所|牙|眼科|心血管|神经|脑|血|糖尿|养老|"
    r"pharma|bio|therap|health|medic|clinic|gene|genom|cell|diagnos|surg|care|drug|vaccin|oncolog|"
    r"cancer|patient|hospital|dental|immun|antibod|rna|dna|crispr|neuro|cardio)",
    re.I,
)


def sector_of(text: str) -> str:
    """ "healthcare" when the text names a healthcare activity (drugs, devices, diagnostics,
    care), else "other": a title rule, so a restaurant's or a carmaker's round stays out of a
    healthcare newsletter's table."""
    return "healthcare" if _HEALTH.search(text) else "other"


def _without_trailing(head: str) -> str:
    """``head`` without the adverbs and verbs that end it (_ZH_TRAILING), looked for in its last
    80 characters only: the pattern is tried at every position, which on a long run of such
    words took seconds (a hostile title); a name with its trailing words is far shorter."""
    if len(head) <= 80:
        return _ZH_TRAILING.sub("", head)
    return head[:-80] + _ZH_TRAILING.sub("", head[-80:])


def _without_quotes(text: str) -> str:
    """The text without quoted names and titles: a funding word inside 「…」 or “…” (an award's
    name, a policy's) says nothing about a round."""
    return re.sub(r"「[^」]*」|“[^”]*”|《[^》]*》|\"[^\"]*\"", "", text)


def _zh_name(head: str) -> tuple[str, float]:
    """The company named in the words before the verb or round, and how sure that is."""
    head = _without_trailing(head.strip(" :：,，-—")).strip()
    # An investor's or a friend's congratulations are no part of the name: "热烈祝贺甲医疗完成…"
    head = _ZH_CHEER.sub("", head).strip()
    bracket = re.search(r"[「『“\"]([^」』”\"]{1,40})[」』”\"]\s*$", head)
    if bracket:  # 「安济医疗」, AI制药公司「晶算智药」: a quoted name ending the head
        return bracket.group(1).strip(), 1.0
    # 青岛“独角兽”X: a short quoted epithet; the name is what follows it (the place or
    # descriptor before it goes too), else what is left without it.
    epithet = re.search(r"[「『“\"][^」』”\"]{0,10}[」』”\"]\s*(?=\S{2})", head)
    if epithet:
        head = head[epithet.end() :].strip()
    head = re.sub(r"[「『“\"][^」』”\"]{0,10}[」』”\"]", "", head).strip()
    head = _FAMILY_PREFIX.sub("", head)
    confidence = 1.0
    # "专注肿瘤早筛的星禾基因": a clause describing the company ends in 的; the name follows.
    described = re.search(r"的\s*(?=[^的]{2,}$)", head)
    if described and described.start() >= 2:
        head, confidence = head[described.end() :], 0.8
    # Descriptors one after another ("国际电商SaaS平台X"): cut each while a name is left.
    while (stripped := _ZH_DESCRIPTOR_TAIL.sub("", head, count=1)) != head and len(stripped) >= 2:
        head, confidence = stripped, 0.8
    head = _without_trailing(_ZH_TRAILING_AMOUNT.sub("", head)).strip(" ，,")
    cjk = len(re.findall(r"[\u4e00-\u9fff]", head))
    if not head or cjk > 20 or len(head) > 40 or _ZH_NOT_NAME.search(head):
        return "", 0.2
    return head[:40], confidence


def _money_after(segment: str, end: int, funding_only: bool = False) -> bool:
    """Whether a funding word or a round follows a verb closely, in its clause (40 characters:
    a list of investors can come between, "完成由甲、乙、丙联合领投的超10亿元C轮融资").
    ``funding_only``: a round alone is not enough (拿到 takes anything: "拿到A轮订单")."""
    window = re.split(r"[，,。；;]", segment[end : end + 40], maxsplit=1)[0]
    if funding_only:
        return bool(_ZH_FUNDING.search(window))
    return bool(_ZH_FUNDING.search(window) or _ZH_ROUND.search(window) or "入股" in window)


def _zh_segment_fact(segment: str, summary: str) -> FinancingFact | None:
    """The round one headline announces, or None."""
    plain = _without_quotes(segment)
    if (
        not _ZH_FUNDING.search(plain)
        and "入股" not in plain
        and "领投" not in plain
        and not _ZH_ROUND.search(plain)
        and not _take_sum(plain)
    ):
        return None
    if _ZH_AWARD.search(segment):
        return None
    only_lead = not (
        _ZH_FUNDING.search(plain) or "入股" in plain or _ZH_ROUND.search(plain) or _take_sum(plain)
    )
    if only_lead:
        # "X领投Y" with no other funding word: Y must be a company, not a statistic
        # ("CVC领投比例创新高", "领投机构排行榜").
        led = _ZH_INVESTED.search(segment)
        if led is None or _ZH_LEAD_TREND.search(led.group("co")):
            return None
    strong = _ZH_STRONG.search(segment)
    # The verb that governs the round: the one that starts the plain announcement (完成…轮融资),
    # else the last one with a funding word or a round shortly after it ("完成近2亿元B轮").
    verbs = [
        v
        for v in _ZH_VERB.finditer(segment)
        if _money_after(segment, v.end(), funding_only=v.group(1) == "拿到")
        or (
            v.group(1) == "获投"
            and re.match(_ZH_GOT_INVESTED, segment[v.start() : v.end() + 1]) is not None
        )
    ]
    verb = next((v for v in verbs if strong and v.start() == strong.start()), None)
    verb = verb or (verbs[-1] if verbs else None)
    if verb and _ZH_PLURAL.search(_without_quotes(segment[: verb.start()])):
        return None  # "多家企业斩获新一轮融资": a trend, not one company's round
    if len(segment) > 60 and not _ZH_STRONG.search(segment):
        return None  # a paragraph, not a headline
    bare = (
        _ZH_BARE_ROUND.search(segment) or _ZH_AMOUNT_FUNDING.search(segment) or _take_sum(segment)
    )
    invested = _ZH_INVESTED.search(segment)
    if strong:
        before, after_text = segment[: strong.start()], segment[strong.end() :]
        if _ZH_MENTION_BEFORE.search(before):
            return None
        if _ZH_MENTION_AFTER.search(after_text) and not re.match(r"^的\s*[「“]", after_text):
            return None
        if _ZH_HARD_NOT.search(_without_pre_ipo(before)):
            return None
    elif not (verb or bare or invested):
        return None
    else:
        # Only the clause that holds the round can rule it out: "爱回收 IPO同时，采货侠也完成了
        # 4500万美元融资" is a round, "某医疗拟完成B轮融资" is not.
        at = min(m.start() for m in (verb, bare, invested) if m is not None)
        starts = [segment.rfind(c, 0, at) for c in "，,"]
        ends = [e for e in (segment.find(c, at) for c in "，,") if e >= 0]
        clause = segment[max(starts) + 1 : min(ends) if ends else len(segment)]
        if _ZH_NOT.search(_without_pre_ipo(_without_quotes(clause))):
            return None
    company, confidence = "", 0.2
    investee = _ZH_INVESTEE.search(segment)
    if investee and not re.search(r"获|得到", segment[: investee.start()]):
        company, confidence = _zh_name(investee.group("co"))
    elif invested and (not verb or invested.start() < verb.start()):
        company, confidence = _zh_name(invested.group("co"))
    else:
        anchor = verb or bare
        start = anchor.start() if anchor else 0
        clause_start = max(segment.rfind(c, 0, start) for c in "，,：:") + 1
        company, confidence = _zh_name(segment[clause_start:start])
        if not company and clause_start and segment[clause_start - 1] in "：:":
            # "甲医疗：完成数亿元B轮融资": the name before the colon.
            before = segment[: clause_start - 1]
            company, confidence = _zh_name(before[max(before.rfind(c) for c in "，,") + 1 :])
        if not company:
            quoted = re.search(r"的\s*[「“]([^」”]{1,30})[」”]", segment[start:]) or re.search(
                r"「([^」]{1,30})」", segment
            )
            if quoted:
                company, confidence = quoted.group(1).strip(), 0.9
    round_name = _zh_round(segment) or ("strategic" if "入股" in segment else None)
    round_name = round_name or _zh_round(summary) or "undisclosed"
    amount = find_amount(segment) or find_amount(summary)
    return FinancingFact(
        company,
        round_name,
        amount,
        _lead_investors(f"{segment}。{summary}", "zh"),
        confidence,
        sector_of(f"{segment} {company}"),
    )


def _zh_deals(segment: str, summary: str) -> list[FinancingFact]:
    """The rounds one headline announces: one, or one per clause when two clauses each name a
    company and its round ("甲医疗完成1亿元B轮融资，乙生物获数千万元天使轮")."""
    clauses = [c.strip() for c in re.split(r"[，,]", segment) if len(c.strip()) >= 4]
    if len(clauses) >= 3:
        # Two long clauses of other news before the round's: headlines listed with commas, a
        # bulletin ("医保目录调整启动，某药适应症获批，甲医疗完成2亿美元融资").
        first_round = next(
            (n for n, c in enumerate(clauses) if _zh_segment_fact(c, "") is not None), None
        )
        if (
            first_round is not None
            and first_round >= 2
            and all(len(c) >= 10 for c in clauses[:first_round])
        ):
            return []
    if len(clauses) >= 2:
        deals: list[FinancingFact] = []
        for clause in clauses:
            fact = _zh_segment_fact(clause, "" if deals else summary)
            named = fact is not None and fact.company and fact.company_confidence >= 0.8
            if fact is not None and named and all(d.company != fact.company for d in deals):
                deals.append(fact)
        if len(deals) >= 2:
            return deals
    fact = _zh_segment_fact(segment, summary)
    return [fact] if fact is not None else []


# A Chinese title without one of these announces no round (the quick test before the patterns).
_ZH_FUNDING_WORDS = ("融资", "投资", "注资", "入股", "领投", "轮", "获投", "融了", "拿了")


def detect_zh_financings(title: str, summary: str) -> list[FinancingFact]:
    """Every round a Chinese title announces, one per headline (a title with two headlines can
    announce two rounds); none for a digest of many headlines."""
    if not any(word in title for word in _ZH_FUNDING_WORDS):
        return []  # the common case at ingest, checked without a regular expression
    if _ZH_DIGEST.search(title) or _DATED_COLUMN.search(title):
        return []
    body = _BRACKETS.sub(" ", title)
    segments = [p for p in _SEGMENT_SPLIT.split(body) if p and len(p.strip()) >= 2]
    # A short first segment without a verb is the column's name (资本｜, 厚扬Family's快讯丨).
    first = segments[0] if segments else ""
    after_first = body[body.find(first) + len(first) :].lstrip()[:1] if first else ""
    if (
        len(segments) > 1
        and len(first) <= 12
        and after_first in ("|", "｜", "丨", "")  # a column's name, not a headline before ；
        and not (_ZH_VERB.search(first) or "融资" in first)
    ):
        segments = segments[1:]
    headlines = [p for p in segments if len(p) >= 8]
    if len(headlines) >= 3:
        return []
    facts: list[FinancingFact] = []
    for segment in segments:
        facts += _zh_deals(segment.strip(), "" if facts else summary)
    if len(facts) >= 3:
        return []  # three rounds in one title: a round-up, not an announcement
    if len(facts) == 1:  # one round: the whole title says what the company does
        facts[0] = replace(facts[0], sector=sector_of(f"{title} {facts[0].company}"))
        if facts[0].amount is None:
            facts[0] = replace(facts[0], amount=_amount_apart(segments))
    return facts


# A headline that is only the sum, before or after the round's: "1.5亿美元！甲医疗完成C轮融资",
# "甲医疗宣布完成B轮融资 总额达10亿元".
_ZH_SUM_ONLY = re.compile(
    r"(?:本轮)?(?:融资)?(?:总额|总金额|金额|融资额|规模|共计|合计|总计|共)?[达为约]?"
)


def _amount_apart(segments: list[str]) -> Amount | None:
    """The round's sum when one headline of the title is that sum and nothing else."""
    for segment in segments:
        amount = find_amount(segment)
        if amount is None:
            continue
        rest = re.sub(r"[\s!！。.,，:：]", "", segment.replace(amount.text, "", 1))
        if _ZH_SUM_ONLY.fullmatch(rest):
            return amount
    return None


def detect_financings(title: str, summary: str, lang: str) -> list[FinancingFact]:
    """Every round an item announces: two headlines or clauses of one title can announce two
    (the first is what detect_financing returns); three or more are a round-up (none)."""
    title_n = normalize(title)
    if lang.startswith("zh") or re.search(r"[\u4e00-\u9fff]{4}", title_n):
        return detect_zh_financings(title_n, normalize(summary))
    return _en_deals(title_n, normalize(summary))
