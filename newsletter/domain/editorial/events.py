"""Event facts: is this item an invitation to an upcoming industry event, and its name, start
date and place. Reports about events that already happened are not events."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from newsletter.domain.editorial.amounts import normalize
from newsletter.domain.editorial.prefilter import prefiltered
from newsletter.domain.numerals import chinese_number

_EN_KIND = prefiltered(
    r"\b(conference|summit|forum|webinar|web seminar|livestream|live stream|expo|exhibition|congress|"
    r"symposium|workshop|training|bootcamp|meetup|roundtable|hackathon|fair|convention|masterclass|"
    r"virtual event|annual meeting|showcase|webcast|fireside chat|linkedin live|live session|live q&a|"
    r"r&d day|investor day|demo day|open house|breakfast|luncheon|dinner|reception|gala|pitch night|"
    r"partnering|town hall|ask me anything|ama|seminar|lecture|colloquium|grand rounds|panel discussion|"
    # "Annual Scientific Meeting", "scientific sessions" (not a company's "annual general meeting")
    r"info(?:rmation)? session|annual (?!general\b|share\w*|stock\w*|budget\b)[a-z]+ meeting|"
    r"scientific (?:meeting|session)|(?:live|online|in-person|networking|virtual) event)s?\b"
    # the first part of a compound is no event: "event-driven", "lecture-based", "seminar-style"
    r"(?!-[a-z])",
    re.I,
)
_EN_FUTURE = prefiltered(
    r"\b(will (?:be )?(?:hold|host|take place|open|kick off|convene|bring|gather|feature|run|return|be held)|"
    r"to be held|join us|join (?:our|the|me)|register|registration|save the date|upcoming|coming up|returns to|heads to|"
    r"invit\w*|call for|early[- ]bird|kicks off (?:on|next)|opens (?:on|next)|ahead of|preview|"
    r"in \d+ days|next (?:week|month|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"tomorrow|this (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|countdown|sign up|rsvp|tickets|agenda announced|speakers announced|set for|slated for|"
    r"scheduled for|is coming|are you ready|don't miss|reserve your|see you (?:at|in|there|next)|"
    r"tickets? (?:are )?(?:now )?on sale|agenda (?:released|is live|now live)|submit (?:your )?abstracts?|"
    r"last chance|\d+ days to go|days away|"
    r"\d+ days left|applications are open|apply now|seats? (?:are )?limited|opens? (?:on )?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))\b",
    re.I,
)
# An invitation without the word for the event ("Meet us at BIO 2021, June 14-17",
# "Registration is open: …"): an event only with a date or a month.
_EN_INVITE = prefiltered(
    r"\b(save the date|join us|register now|invitation|you're invited|you are invited|"
    r"registration (?:is )?(?:now )?open|registrations? opens?|meet us at|visit us at|"
    r"book (?:a|your) (?:meeting|seat|spot|place)|call for (?:abstracts|papers|speakers|posters))\b",
    re.I,
)
_EN_PAST = prefiltered(
    r"\b(recap|wrap(?:s|ped)? up|concluded|concludes|highlights from|took place|was held|were held|"
    r"drew|attracted|held last|closed (?:on|with|its)|wrapped|came to a close|ended|looking back|"
    r"takeaways from|lessons from|what we learned|at last week's|at this year's|after the|round-?up|"
    r"closes with|closed with|replay|on demand|on-demand|recording|photos from|in pictures|live from|"
    r"live updates|live blog)\b",
    re.I,
)
_ZH_KIND = prefiltered(
    r"(大会|峰会|论坛|直播|研讨会|博览会|展会|展览会|交流会|培训|沙龙|年会|会议|路演|开放日|训练营|工作坊|线上会|云会|"
    r"闭门会|见面会|推介会|分享会|说明会|座谈会|研讨班|讲座|公开课|对接会|创新周|健康周|活动周|嘉年华|发布会|"
    r"培训班|研修班|高级班|课程|直播间|开讲|创业营|共创营|训练营|招生|采购会|策略会|大赛|会议邀请|会议通知|"
    r"参会|邀请函|邀约|盛会|参展|展商|招展|观展|嘉宾(?:揭晓|发布|公布|官宣|阵容)|"
    # trade fairs by their short names: 药交会, 医博会, 进博会, 高交会 (not 移交会计, 外交会谈)
    # classes and meetings of doctors and professionals: 学习班, 进修班, 读片会, 学术会议, 云课堂
    # (not "AI走进课堂", into the classroom; nor 交易会员, a bourse's trading members)
    r"学习班|进修班|研习班|读书会|读片会|学术会(?![员计])|讲堂|(?<!进)课堂|私董会|圆桌会|报告会|"
    r"交易会(?![员计])|直播课|巡讲|"
    r"[药医械进高广康](?:交会|博会)|领袖班|总裁班|今晚\d{1,2}点|Demo Day|demo day|路演日|Bootcamp|bootcamp|参观|参访|"
    r"(?<!提上)(?:议程|日程)[^，。！!？?|｜丨]{0,6}?(?:更新|发布|公布|出炉|曝光|亮相|抢先看|揭晓|来了))"
)
_ZH_FUTURE = prefiltered(
    r"(邀您|邀请您|诚邀|邀你|诚意邀请|诚挚邀请|邀请你|免费参加|免费报名|报名|嘉宾(?:揭晓|发布|公布|官宣|阵容)|"
    # a call for papers, a visitor's guide, pre-registration, a course that opens, a call to join
    r"征文|征稿|摘要征集|(?:观展|参展|参会|参观)(?:指南|攻略|须知)|预登记|招展|开课|招募|"
    r"免费[^，。！？!?|｜丨]{0,10}?(?:会议|培训|讲座|沙龙|论坛|峰会|直播|公开课|课|大会|研讨会)|"
    r"倒计时|即将|将于|将在|定于|拟于|定档|预告|"
    # registration and tickets: 参会注册, 注册通道开启, 立即预约, 早鸟票, 门票开售 (not 药品注册)
    r"(?:参会|在线|开放|立即)注册|注册(?:通道|已?开启|中)|预约(?:直播|参会|观看|报名|席位)|立即预约|"
    r"早鸟|门票|购票|征集(?:中|令|启动|开启|通知)|开播|开幕在即|蓄势待发|席位|敬请期待|"
    r"火热招募|开启报名|日程公布|议程|期待您|等你|锁定|不见不散|欢迎参加|免费参会|扫码|即将开幕|即将召开|即将举办|"
    r"\d+天后|明天|明日|明晚|明早|后天|下周|最后\s*[\d一二两三]\s*天|(?:直播|观看|参会|报名)入口|下个?月|(?:即将|将|将于|明天|明日|后天|\d+日|周.)\s*开幕|开幕倒计时|见！|见!|报名中|开启.{0,4}招募|招募中|开始了|开学|"
    r"(?:火热|正在|开始|启动)招生|招生(?:中|啦|简章|通知|开启|启动)|参会|名额|不容错过|不可错过|别错过|不要错过|剧透|预览|抢先看|相约|"
    r"(?:本|这)(?:周|星期)[一二三四五六日天]|(?<![下每上])(?:周|星期)[一二三四五六日天](?:上午|下午|晚|\d{1,2}点|见))"
)
_ZH_PAST = prefiltered(
    r"(圆满|直击|侧记|花絮|精彩瞬间|结业|(?<!即将)(?<!将)(?<!将于)(?:正式|今日|今天|昨日|昨天)开幕|圆满落幕|成功举办|圆满结束|落下帷幕|落幕|回顾|举行了|已于|顺利召开|精彩回顾|盛况|圆满召开|顺利举办|"
    r"成功召开|闭幕|收官|会后|实录|举办了|召开了|吸引了|隆重举行|胜利召开|回放|纪要|"
    r"致辞|开幕式|受邀|(?<!即将)(?:盛大|隆重)开幕|召集(?!令)|讲话|会上|期间|(?<!将)(?<!议程)(?<!日程)(?<!程精彩)亮相|已有.{0,8}报名|"
    # attending or appearing, unless still ahead ("确认出席", "将亮相", "即将登场")
    r"(?<!将)(?<!确认)(?<!邀请)出席|(?<!将)登场|组织召开|"
    r"周报|日报|热讯|汇总|读后感|观后感|书评|影评)"
)
# A title that is the event's own notice: a headline (or a part between | 丨 【】 ：) that ends
# with the kind of event, or words only a notice uses. It needs no date or "will" word: labels
# and readers take "2021生物制品工艺开发及放大实战培训班" as an invitation.
# "Webinar: Real-world evidence in oncology", "Virtual summit | …": a title that opens with the
# kind of event is the event's own notice (a past one says "recording", "replay", "recap").
# (A hyphen separates only with spaces around it: "Seminar-style classes" is a compound.)
_EN_NOTICE = prefiltered(
    r"^\s*(?:upcoming |free |live |new |our )?(?:webinar|virtual summit|virtual event|livestream|"
    r"live stream|web seminar|masterclass|fireside chat|workshop|meetup)s?(?:\s*[:|｜–—]|\s+-\s)"
    # "[Webinar] …", "(Live event) …": the kind as a tag before the title.
    r"|^\s*[\[(【]\s*(?:upcoming |free |live |virtual |online )?(?:webinar|virtual event|livestream|"
    r"live stream|web seminar|masterclass|fireside chat|workshop|meetup|event|conference|summit)s?\s*[\])】]",
    re.I,
)
# Kinds that also name teaching and news columns ("Lecture: Nobel laureate dies at 89",
# "Grand rounds: a case of …"): the title opens as a notice only with a date or a word ahead.
_EN_NOTICE_DATED = prefiltered(
    r"^\s*(?:upcoming |free |live |new |our )?(?:seminar|lecture|info session|grand rounds|"
    r"colloquium|live event|online event)s?(?:\s*[:|｜–—]|\s+-\s)",
    re.I,
)
# A company's statutory meetings and the US Congress at work are no industry events.
_EN_NOT_EVENT = prefiltered(
    r"\b(?:(?:share|stock)holders?'? meeting|annual general meeting|agm|board meeting|"
    r"congress(?:ional)? (?:delays?|pass(?:es|ed)?|votes?|voted|approves?|approved|rejects?|"
    r"members?|leaders?|must|should|could|would|fails?))\b",
    re.I,
)
# Invitations to a vaccine, a trial, an enrollment, a vote, a job or a new office: no events.
_EN_NOT_INVITE = prefiltered(
    r"\b(?:vaccin\w*|enrol+ment|enrol+ing|patients?|trials?|voters?|jobs?|careers?|hiring|"
    r"headquarters|offices?|stores?|clinics?|pharmac(?:y|ies)|ages \d)\b",
    re.I,
)
_ZH_NOTICE = prefiltered(
    r"(?:大会|峰会|论坛|研讨会|年会|博览会|交流会|沙龙|沙龙会|训练营|工作坊|培训班|研修班|高级班|公开课|"
    r"创业营|共创营|策略会|采购会|大赛|路演(?:第.期)?|直播|直播间|讲座|分享会|座谈会|对接会|"
    r"学习班|进修班|研习班|读书会|读片会|学术会议?|私董会|圆桌会|报告会|交易会|直播课)"
    r"(?:\s*[A-Za-z][A-Za-z0-9-]{1,11})?(?:[（(][^）)]{0,12}[）)])?"
    r"(?:\s*第[一二三四1-4]轮)?(?:通知|邀请函|报名|招生|开班啦|议程|日程|参会指[南导]|报名通道|火热招生中?|招生中)?"
    r"\s*(?:[|｜丨:：!！【】」]|——|$)"
    r"|(?:议程|日程)[^，。！!？?|｜丨]{0,6}?(?:更新|发布|公布|出炉|曝光|亮相|抢先看|揭晓|来了)"
    r"|会议通知|会议邀请|邀请函|参会通知|第[一二三四1-4]轮通知|参会指南|参训通知|启动招生|开班|今晚直播|直播预告|课程\s*[|｜丨]"
    r"|今晚\d{0,2}点"
    # The official form of a notice: 关于举办/召开/参加…的通知.
    r"|关于[^，。！!？?|｜丨]{0,12}(?:举办|召开|举行|参加|参会|开展|报名)[^。！!？?|｜丨]{0,40}的(?:通知|邀请函)"
    # A tag that names the kind of event: 【干货培训】, 【线上讲座】, 【会议预告】, 「直播通知」.
    r"|^[【「\[]\s*(?:干货|线上|在线|免费|公益|精品|实战|专题|系列|专家)?"
    r"(?:培训|讲座|公开课|直播|沙龙|研讨会|论坛|峰会|大会|会议|活动|课程)"
    r"(?:预告|通知|报名|邀请|招生)?\s*[】」\]]"
)

_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_WEEKDAYS = {
    d: i
    for i, d in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
}
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_MON = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_EN_DATE_MD = prefiltered(
    rf"\b{_MON}\s+(?P<day>\d{{1,2}})(?!\d)(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}})?(?:,?\s+(?P<year>\d{{4}}))?",
    re.I,
)
_EN_DATE_DM = prefiltered(
    rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:\s*[-–]\s*\d{{1,2}})?\s+{_MON}(?:,?\s+(?P<year>\d{{4}}))?",
    re.I,
)
_ISO_DATE = prefiltered(r"\b(?P<year>20\d{2})[-/.](?P<mon>\d{1,2})[-/.](?P<day>\d{1,2})\b")
_ZH_DATE = prefiltered(
    r"(?:(?P<year>\d{4})\s*年\s*)?(?P<mon>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*"
    # a span's end, in this month or the next: "18-20日", "6月28至7月2日"
    r"(?:[-–~至到]\s*(?:\d{1,2}\s*月\s*)?\d{1,2}\s*)?(?:日|号)"
)
# 6.24-25, 7·22: a month and day with a dot, not an amount or a version ("3.5亿", "2.0").
_DOT_DATE = prefiltered(
    r"(?<![\d.])(?P<mon>1[0-2]|0?[1-9])[.·](?P<day>[12]\d|3[01]|0?[1-9])(?![\d.%亿万元倍])"
)
_DIGITS_DOT = re.compile(r"[0-9][.·][0-9]")  # in every match of _DOT_DATE
# 7月, 9月北京: a month alone, kept with month precision.
_ZH_MONTH = prefiltered(
    r"(?:(?P<year>20\d\d)\s*年\s*)?(?<![\d.])(?P<mon>1[0-2]|[1-9])\s*月(?![\d份]*\s*\d{1,2}\s*[日号]|\d|份)"
)
# "25日", "本月25日", "下月18日", and a span of days "18-20日" (its first day).
_ZH_DAY_ONLY = prefiltered(
    r"(?:(?<=本月)|(?<=当月)|(?<=下月)|(?<=下个月)|(?<![\d月.\-–~至到]))(?P<day>[12]\d|3[01]|[1-9])\s*(?:[-–~至到]\s*(?:[12]\d|3[01]|[1-9])\s*)?(?:日|号)(?!报)"
)
_TONIGHT = prefiltered(r"今晚|今天|今日|今夜|tonight|today", re.I)
_ZH_COUNTDOWN = prefiltered(
    r"(?:倒计时|还有)\s*(?P<n>[一二两三四五六七八九十]{1,3})\s*天"
    r"|(?P<pre>\d{1,3}|[一二两三四五六七八九十]{1,3})\s*天\s*倒计时"
)
_IN_DAYS = prefiltered(
    r"\bin (?P<n>\d{1,3}) days?\b|(?:倒计时|还有)\s*(?P<zn>\d{1,3})\s*天|(?P<after>\d{1,3})\s*天后|"
    r"\b(?P<togo>\d{1,3}) days (?:to go|away|left|until|before)\b",
    re.I,
)
_NEXT_WEEKDAY = prefiltered(
    r"\bnext (?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|下(?:周|星期)(?P<zwd>[一二三四五六日天])",
    re.I,
)
_TOMORROW = prefiltered(r"\btomorrow\b|明天|明日|明晚|明早", re.I)
_DAY_AFTER_TOMORROW = prefiltered(r"后天")
# 本周四, 这周六, 周六见, 周四晚7点, 周四开播, "this Thursday": the coming such weekday (a bare 周一
# only before a time, 见, 开播/开讲/开课 or a separator: not 每周一 "every Monday", 下周一, 一周一次, office hours
# 周一至周五, nor a weekly column's name, 【周一课程】).
_THIS_WEEKDAY = prefiltered(
    r"(?:本|这|这个)(?:周|星期|礼拜)(?P<zwd>[一二三四五六日天])(?![次期年末]|课|专栏|讲堂)"
    r"|(?<![下每上本这个至到~-])(?:周|星期|礼拜)(?P<zwd2>[一二三四五六日天])(?!\s*[至到~-])"
    r"(?=\s*(?:上午|下午|晚|早|\d{1,2}\s*[点:：]|见|开播|开讲|开课|[|｜丨]))"
    r"|\bthis (?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.I,
)
# A date that ends something (a registration, an early-bird price) is not the event's day:
# "6月15日注册优惠截止", "报名截止6月12日", "通道将于今晚关闭", "register by June 5".
_DEADLINE_AFTER = re.compile(
    r"^\s*(?:(?:晚上?|上午|下午|中午)?\s*\d{1,2}\s*[点:：]\s*\d{0,2}\s*)?"
    r"(?:报名|注册|优惠|早鸟价?|通道|申请|投稿){0,3}\s*"
    r"(?:截止|截至|关闭|之前|止|前(?:报名|注册|提交|申请|缴费|[，,。！!）)\s]|$))"
)
_DEADLINE_BEFORE = re.compile(
    r"(?:截止|截至|截止日期|报名至|deadline|until|by|ends?|closes?)\s*(?:[:：]|为|到|至|于|on)?\s*$",
    re.I,
)
# 七月, 六月二十日: months and days written in Chinese numerals.
_ZH_NUMERAL_MONTH = re.compile(
    r"(?:(?<=[年于在至到和、今明])|(?<![\u4e00-\u9fff]))(?P<n>十[一二]?|[一二三四五六七八九])月"
)
# (and both ends of a span: 七月十八至二十日)
_ZH_NUMERAL_DAY = re.compile(
    r"(?<=[月至到~\-–])(?P<n>[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])(?=[日号至到~\-–])"
)
_NEXT_MONTH = prefiltered(r"下个?月")
_ACT_TODAY = re.compile(
    r"\b(?:register|sign up|apply|book|enrol+|subscribe|buy|get your tickets?)\s*$|(?:报名|注册|预约|购票)\s*$",
    re.I,
)
_EN_MONTH_ONLY = prefiltered(
    r"\b(?:in|this|next|during|coming|until) (?P<mon>January|February|March|April|May|June|July|"
    r"August|September|October|November|December|Sept?\.?|Oct\.?|Nov\.?|Dec\.?|Jan\.?|Feb\.?|"
    r"Aug\.?)(?! ?\d{1,2}\b)|\b(?P<mon2>January|February|March|April|June|July|August|September|"
    r"October|November|December) (?P<year>20\d\d)\b"
)

_ONLINE = prefiltered(
    r"\b(webinar|online|virtual|livestream|live stream|zoom|web seminar|linkedin live|webcast)\b|线上|云端|直播|在线|网络研讨会|云会"
    r"|云(?:峰会|论坛|大会|会议|沙龙|讲堂|课堂|发布会|展会?)",
    re.I,
)
_ZH_CITIES = [
    "上海",
    "北京",
    "深圳",
    "广州",
    "杭州",
    "苏州",
    "成都",
    "武汉",
    "南京",
    "天津",
    "重庆",
    "西安",
    "厦门",
    "青岛",
    "合肥",
    "长沙",
    "郑州",
    "济南",
    "珠海",
    "香港",
    "澳门",
    "新加坡",
    "海口",
    "博鳌",
    "三亚",
    "宁波",
    "无锡",
    "大连",
    "沈阳",
    "昆明",
    "福州",
    "东莞",
    "佛山",
    "南昌",
    "太原",
    "石家庄",
    "哈尔滨",
    "长春",
    "贵阳",
    "南宁",
    "兰州",
    "乌鲁木齐",
    "呼和浩特",
    "常州",
    "泰州",
    "烟台",
    "温州",
    "台州",
    "绍兴",
    "嘉兴",
    "中山",
    "东京",
    "波士顿",
    "旧金山",
    "纽约",
    "伦敦",
    "巴黎",
    "慕尼黑",
]
_EN_CITIES = (
    "Boston|San Francisco|San Diego|New York|Chicago|Las Vegas|Orlando|Washington|Philadelphia|Seattle|"
    "Austin|Houston|Dallas|Atlanta|Miami|Nashville|Denver|Los Angeles|Toronto|Montreal|London|Paris|Berlin|"
    "Munich|Basel|Geneva|Zurich|Amsterdam|Barcelona|Madrid|Copenhagen|Stockholm|Vienna|Milan|Dublin|"
    "Singapore|Hong Kong|Shanghai|Beijing|Shenzhen|Guangzhou|Hangzhou|Suzhou|Tokyo|Osaka|Seoul|Sydney|"
    "Melbourne|Dubai|Abu Dhabi|Tel Aviv|Bangalore|Mumbai|Cambridge|Oxford|Frankfurt|Lisbon|Helsinki|"
    "Minneapolis|Pittsburgh|Baltimore|Cleveland|Phoenix|Salt Lake City|Raleigh|Durham|Indianapolis|"
    "Minneapolis-St\\. Paul|St\\. Louis|Detroit|Portland|Vancouver|Oslo|Brussels|Tokyo|Kyoto|Taipei"
)
_EN_CITY = prefiltered(rf"\b({_EN_CITIES})\b")
_EN_CITY_WORD = re.compile(
    "|".join(sorted({w for city in _EN_CITIES.split("|") for w in city.split()} - {"St\\."})), re.I
)
_ZH_NAME = prefiltered(
    r"(?:第[一二三四五六七八九十百\d]+届)?(?:[A-Za-z][A-Za-z0-9&'.-]*\s+){0,4}"
    r"[^，。、；：:！!？?\s“”\"【】《》|｜丨]{0,30}?"
    r"(?:大会|峰会|论坛|博览会|研讨会|年会|展会|交流会|沙龙|训练营|工作坊|培训班|研修班|公开课|创业营|共创营|策略会|采购会|大赛)"
)
_BOOK_TITLE = prefiltered(r"《([^》]{2,40})》")
_EN_NAME = prefiltered(
    r"((?:the\s+)?(?:\d{4}\s+)?(?:[A-Z0-9][\w&'.-]*\s+){0,7}"
    r"(?:Conference|Summit|Forum|Webinar|Expo|Congress|Symposium|Workshop|Meeting|Meetup|Convention|Fair|Week|Day|Roundtable|Hackathon))",
)


@dataclass(frozen=True)
class EventFact:
    """An upcoming event: name, first day, place (a city, "online", or None); ``precision`` is
    "day", or "month" when only the month is known (``start`` is then its first day)."""

    name: str
    start: date | None
    place: str | None
    precision: str = "day"

    def to_dict(self) -> dict[str, object]:
        """JSON form stored in item.facts['event']."""
        return {
            "name": self.name,
            "start": self.start.isoformat() if self.start else None,
            "place": self.place,
            "precision": self.precision,
        }


def _next_occurrence(month: int, day: int, year: int | None, published: date) -> date | None:
    try:
        if year:
            return date(year, month, day)
        candidate = date(published.year, month, day)
        if candidate < published - timedelta(days=30):
            candidate = date(published.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def _zh_number(text: str) -> int | None:
    """一 to 九十九 as an int ("十" 10, "十五" 15, "二十" 20)."""
    value = chinese_number(text)
    return int(value) if value is not None and value == int(value) else None


def _zh_numerals(text: str) -> str:
    """七月 → 7月, 六月二十日 → 6月20日 (same reading, Arabic digits)."""

    def month(m: re.Match[str]) -> str:
        return f"{_zh_number(m.group('n'))}月"

    def day(m: re.Match[str]) -> str:
        return str(_zh_number(m.group("n")))

    if "月" not in text:
        return text
    return _ZH_NUMERAL_DAY.sub(day, _ZH_NUMERAL_MONTH.sub(month, text))


def _is_deadline(text: str, start: int, end: int) -> bool:
    """Whether the date at text[start:end] closes something (registration, an early-bird
    price) rather than opening the event."""
    return bool(
        _DEADLINE_AFTER.search(text[end : end + 8])
        or _DEADLINE_BEFORE.search(text[max(0, start - 10) : start])
    )


def event_date(text: str, published: date) -> date | None:
    """The first date stated or implied ("in 3 days", 倒计时2天, next Tuesday, 本周六) in the
    text; a date that closes a registration or an offer is skipped."""
    text = _zh_numerals(text)
    found: list[tuple[int, date]] = []

    def add(m: re.Match[str], d: date | None) -> None:
        if d is not None and not _is_deadline(text, m.start(), m.end()):
            found.append((m.start(), d))

    for m in _ZH_DATE.finditer(text):
        add(
            m,
            _next_occurrence(
                int(m.group("mon")),
                int(m.group("day")),
                int(m.group("year")) if m.group("year") else None,
                published,
            ),
        )
    for regex in (_EN_DATE_MD, _EN_DATE_DM):
        for m in regex.finditer(text):
            mon = _MONTHS.get(m.group("mon").lower().rstrip("."))
            if not mon:
                continue
            add(
                m,
                _next_occurrence(
                    mon,
                    int(m.group("day")),
                    int(m.group("year")) if m.group("year") else None,
                    published,
                ),
            )
    for m in _ISO_DATE.finditer(text):
        add(
            m,
            _next_occurrence(
                int(m.group("mon")), int(m.group("day")), int(m.group("year")), published
            ),
        )
    for m in _IN_DAYS.finditer(text):
        n = int(m.group("n") or m.group("zn") or m.group("after") or m.group("togo"))
        add(m, published + timedelta(days=n))
    monday_next = published + timedelta(days=7 - published.weekday())
    for m in _NEXT_WEEKDAY.finditer(text):
        target = _WEEKDAYS[m.group("wd").lower()] if m.group("wd") else _ZH_WEEKDAY[m.group("zwd")]
        # "next Tuesday" / 下周二: the weekday in the following calendar week.
        add(m, monday_next + timedelta(days=target))
    for m in _THIS_WEEKDAY.finditer(text):
        zh = m.group("zwd") or m.group("zwd2")
        target = _WEEKDAYS[m.group("wd").lower()] if m.group("wd") else _ZH_WEEKDAY[zh]
        # 本周六 / this Saturday: the coming such weekday (today included).
        add(m, published + timedelta(days=(target - published.weekday()) % 7))
    for m in _TOMORROW.finditer(text):
        add(m, published + timedelta(days=1))
    for m in _DAY_AFTER_TOMORROW.finditer(text):
        add(m, published + timedelta(days=2))
    # Every such date holds a digit, a dot and a digit: looked for first (the pattern's
    # lookbehind at every position costs about ten times more).
    for m in _DOT_DATE.finditer(text) if _DIGITS_DOT.search(text) else ():
        add(m, _next_occurrence(int(m.group("mon")), int(m.group("day")), None, published))
    for m in _ZH_COUNTDOWN.finditer(text):
        raw = m.group("n") or m.group("pre")
        days = int(raw) if raw.isdigit() else _zh_number(raw)
        if days:
            add(m, published + timedelta(days=days))
    for m in _TONIGHT.finditer(text):
        if _ACT_TODAY.search(text[max(0, m.start() - 14) : m.start()]):
            continue  # "register today", "立即报名": a call to act, not the event's day
        add(m, published)
    if not found:
        for m in _ZH_DAY_ONLY.finditer(text):
            # "25日等你来": this month's 25th, or next month's once it has passed.
            day = int(m.group("day"))
            month, year = published.month, published.year
            if day < published.day or _NEXT_MONTH.search(text[max(0, m.start() - 3) : m.start()]):
                # passed this month, or "下月18日": next month's
                month, year = (1, year + 1) if month == 12 else (month + 1, year)
            try:
                add(m, date(year, month, day))
            except ValueError:
                continue
    if not found:
        return None
    found.sort(key=lambda pair: pair[0])
    return found[0][1]


def event_month(text: str, published: date) -> date | None:
    """The first day of a month named alone ("7月", "七月", "9月北京", 下月, "in July",
    "July 2031"), the next such month from the publication day; None when there is none."""
    text = _zh_numerals(text)
    found: list[tuple[int, int, int | None]] = []
    for zh in _ZH_MONTH.finditer(text):
        # "2021年7月": the year is kept; a month after other digits and 年 ("第3年7月") is none.
        year = int(zh.group("year")) if zh.group("year") else None
        if year is not None or text[max(0, zh.start("mon") - 1) : zh.start("mon")] != "年":
            found.append((zh.start(), int(zh.group("mon")), year))
            break
    m = _NEXT_MONTH.search(text)
    if m:
        found.append((m.start(), published.month % 12 + 1, None))
    m = _EN_MONTH_ONLY.search(text)
    if m:
        name = (m.group("mon") or m.group("mon2")).lower().rstrip(".")
        year = int(m.group("year")) if m.group("year") else None
        found.append((m.start(), _MONTHS[name], year))
    if not found:
        return None
    _, month, year = min(found)
    if year is None:
        year = published.year + (month < published.month)
    return date(year, month, 1)


# Poetic and short names of cities that event notices use.
_CITY_ALIASES = {
    "蓉城": "成都",
    "在沪": "上海",
    "沪上": "上海",
    "申城": "上海",
    "姑苏": "苏州",
    "鹏城": "深圳",
    "羊城": "广州",
    "京城": "北京",
    "江北新区": "南京",
    "泉城": "济南",
    "魔都": "上海",
    "帝都": "北京",
    "在京": "北京",
    "来京": "北京",
    "赴京": "北京",
    "在穗": "广州",
    "在蓉": "成都",
    "在杭": "杭州",
    "在渝": "重庆",
}


# The cities both lists name, so that a place written in Chinese and one in English compare equal.
_ZH_TO_EN_CITY = {
    "上海": "Shanghai",
    "北京": "Beijing",
    "深圳": "Shenzhen",
    "广州": "Guangzhou",
    "杭州": "Hangzhou",
    "苏州": "Suzhou",
    "香港": "Hong Kong",
    "新加坡": "Singapore",
    "东京": "Tokyo",
    "波士顿": "Boston",
    "旧金山": "San Francisco",
    "纽约": "New York",
    "伦敦": "London",
    "巴黎": "Paris",
    "慕尼黑": "Munich",
}


def is_place_or_date_word(word: str) -> bool:
    """Whether a capitalized word only names a city, a month, a weekday or a kind of event
    ("Boston", "December", "Friday", "Summit"): shared by two titles, it ties no story."""
    folded = word.casefold()
    return (
        folded in _MONTHS
        or folded in _WEEKDAYS
        or bool(_EN_CITY_WORD.fullmatch(word))
        or bool(_EN_KIND.regex.fullmatch(word))
    )


def place_key(place: str | None) -> str | None:
    """A place as clustering compares it: a city in either language folded to one spelling
    ("上海" and "Shanghai" → "shanghai"), "online", or None."""
    if not place:
        return None
    return _ZH_TO_EN_CITY.get(place, place).casefold()


def _place(title: str, summary: str) -> str | None:
    """The first city named (title first, then summary), else "online" for online events."""
    for text in (title, summary):
        found = [(text.find(city), city) for city in _ZH_CITIES if city in text]
        found += [
            (text.find(alias), city) for alias, city in _CITY_ALIASES.items() if alias in text
        ]
        m = _EN_CITY.search(text)
        if m:
            found.append((m.start(), m.group(1)))
        if found:
            return min(found)[1]
    if _ONLINE.search(f"{title} {summary}"):
        return "online"
    return None


# Date and time words before a name are the event's date, not its name ("7月苏州细胞治疗峰会",
# "本周六医疗投资人沙龙"); a leading year stays ("2030细胞治疗峰会").
_NAME_DATE_LEAD = re.compile(
    r"^(?:(?:\d{4}\s*年\s*)?\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号]?(?:\s*[-–至到]\s*\d{1,2}\s*[日号]?)?)?"
    r"|[本这下]?(?:周|星期)[一二三四五六日天]|今晚|今天|明天|明晚|后天|\d{1,2}\s*[日号]"
    r"|(?:上午|下午|晚上?)?\d{1,2}\s*点(?:半|\d{1,2}分?)?)+\s*"
)


# "关于组织会员单位参加…的通知": the official notice's frame is no part of the event's name.
_NOTICE_FRAME = re.compile(
    r"^关于[^，。]{0,12}?(?:举办|召开|举行|参加|参会|开展)\s*|的(?:通知|邀请函)[^，。]{0,4}$"
)
# Dates, times and separators a title opens with, dropped when the title is the name
# ("今晚8点丨注册检验如何准备？" → "注册检验如何准备？").
_TITLE_LEAD = re.compile(
    rf"^(?:{_NAME_DATE_LEAD.pattern}|(?:上午|下午|晚上?)?\d{{1,2}}[:：]\d{{2}}|[\s，,、丨|｜:：])+"
)
# A tag of the kind alone before the title ("[Webinar] …", "Webinar: …").
_EN_KIND_TAG = re.compile(r"^\s*(?:[\[(【][^\])】]{1,25}[\])】]|[^:|｜–—-]{1,25}[:|｜–—-])\s*")


def _name(title: str, is_zh: bool) -> str:
    clean = re.sub(r"^\s*(?:【[^】]{1,10}】|[^|｜]{1,10}\s*[|｜])\s*", "", title)
    if is_zh:
        m = _BOOK_TITLE.search(clean)
        if m and _ZH_KIND.search(m.group(1)):
            return m.group(1)
        m = _ZH_NAME.search(clean)
        if m:
            name = _NAME_DATE_LEAD.sub("", m.group(0)) or m.group(0)
            return _NOTICE_FRAME.sub("", name).strip('“”"「」') or name
        return (_TITLE_LEAD.sub("", clean) or clean)[:80]
    m = _EN_NAME.search(clean)
    tagged = _EN_NOTICE.search(title) or _EN_NOTICE_DATED.search(title)
    if m and _EN_KIND.regex.fullmatch(m.group(1).strip()) and tagged:
        # "[Webinar] Real-world evidence": the kind is the tag, the title is the name.
        tag = _EN_KIND_TAG.match(title)
        rest = title[tag.end() :].strip() if tag else ""
        return rest[:80] or m.group(1)
    if m:
        return re.sub(r"^the\s+", "", m.group(1).strip(), flags=re.I)
    return clean[:80]


# (A trailing part that gives a time, "｜今晚直播", is the invitation itself, not a column.)
_TRAILING_COLUMN = re.compile(
    r"(?<=[？?！!])\s*[|｜丨┃]\s*(?![^|｜丨┃]*(?:今晚|今天|明天|明晚|\d+\s*[月日号点]))[^|｜丨┃]{2,10}$"
)


# "6月20日起，…调整门诊时间", "7月1日起实施", "明天8点起": a day (or hour) from which a rule
# applies, not an event.
_TAKES_EFFECT = re.compile(r"(?:\d\s*[日号点]|[:：]\d{2})\s*起(?!航)|起(?:实施|施行|执行|生效)")


def _dated_place_notice(title: str, published: date) -> bool:
    """A short title that gives a day still ahead and a city, and nothing that happened
    ("药企合规解决方案，7月3日-4日，北京"): an invitation even without the word for the event."""
    if len(title) > 40 or not ("月" in title or _DOT_DATE.search(title)):
        return False
    day = event_date(title, published)
    if day is None or day < published:
        return False
    return (
        any(city in title for city in _ZH_CITIES)
        and not _ZH_PAST.search(title)
        and not _TAKES_EFFECT.search(title)
    )


# A headline that opens with a day (and time) and a separator is the notice's own heading:
# "6.24-25 | 临床评价实务", "7月8日丨细胞治疗沙龙", "明晚7点 | 出海之路".
# (No two unbounded runs of spaces may meet: "6月18" + 3,000 spaces + "x" was quadratic.)
_DATE_LEAD = re.compile(
    r"^\s*(?:[【\[]\s*)?(?P<when>(?:(?:\d{4}\s*[年.]\s*)?\d{1,2}\s*[月.·]\s*\d{1,2}(?:\s*[日号])?"
    r"(?:\s*[-–至到~]\s*\d{1,2}(?:\s*[日号])?)?|明天|明日|明晚|后天|[本这下](?:周|星期)[一二三四五六日天]))"
    r"(?P<tail>[^|｜丨】\]]{0,12}?)\s*(?:[】\]]\s*[|｜丨]?|[|｜丨])"
)
# A headline that opens with a day ahead and a clock time, then a comma or a space: "明晚7点，
# 一起聊聊…", "6月20日（周日）14:00 北京…", "周四晚8点 …". The time makes it an appointment
# when what follows invites (_CLOCK_INVITE) or names the kind of event.
_CLOCK_LEAD = re.compile(
    r"^\s*(?P<when>(?:\d{1,2}\s*月\s*\d{1,2}\s*[日号]|明天|明日|明晚|后天|[本这下]?(?:周|星期)[一二三四五六日天]))"
    # (each optional part takes its own spaces: three \s* in a row backtrack cubically)
    r"(?:\s*[（(](?:周|星期)[一二三四五六日天][)）])?(?:\s*(?:上午|下午|中午|晚上?|早上?))?\s*"
    r"\d{1,2}(?:[:：]\d{2}|点半?(?:\d{1,2}分?)?)"
)
# After the time, words of an invitation ("一起聊聊", "对话", "直播", "相约") ...
_CLOCK_INVITE = prefiltered(r"一起|聊聊|对话|分享|直播|相约|线上|开讲|连线|见面|等你|邀您|不见不散")
# ... and not the news of a listing, a sale, a release, an exposé or an exam ("明日9:30，某药企将在
# 科创板上市", "明晚8点，某新药价格公布", "明晚8点，央视曝光…").
_CLOCK_NEWS = prefiltered(r"上市|申购|交易|公布|曝光|开考|停水|停电|停运|开售|发售|首发|开打|开赛")
# What may follow that day before the separator: a weekday, a time, a city, online.
_DATE_LEAD_TAIL = re.compile(
    r"(?:\s|[，,、()（）]|(?:周|星期)[一二三四五六日天]|上午|下午|中午|晚上?|早上?|\d{1,2}\s*(?:[:：]\s*\d{2}|点半?(?:\d{1,2}分?)?)"
    r"|线上|直播|在线|" + "|".join(_ZH_CITIES) + r")*"
)
# What makes a day before the separator an appointment: a time, a city, online.
_DATE_LEAD_SIGN = re.compile(r"上午|下午|中午|晚|早|\d|线上|直播|在线|" + "|".join(_ZH_CITIES))
# A column that says it previews: 预告｜, 【活动预告】, 会议预告: (not 业绩预告, an earnings notice).
_PREVIEW_LEAD = re.compile(
    r"^\s*[【「\[]?\s*(?:(?:活动|会议|直播|课程|论坛|峰会|沙龙|培训)?预告\s*(?:[】」\]]|[|｜丨:：])"
    # or counts down: "1天倒计时|", "【倒计时3天】", "开幕倒计时3天！"
    r"|(?:开幕|开课|大会|会议|报名)?(?:倒计时\s*[\d一二两三四五六七八九十]{1,3}\s*[天日周]"
    r"|[\d一二两三四五六七八九十]{1,3}\s*[天日周]\s*倒计时))"
)
# 召开/举行/举办 with no word of the future: the meeting is news of the day, not an invitation
# ("某司召开研讨会"); "将于…召开", "关于举办…的通知", "拟召开" are still ahead.
_ZH_HELD = prefiltered(r"召开|举行|举办")
# Not industry events: a company's statutory meetings (filings for its shareholders), a
# school's admission of students (本科招生简章), pupils' courses and job fairs.
_ZH_NOT_EVENT = prefiltered(
    r"股东大会|股东会|董事会|监事会|职工代表大会|持有人会议"
    r"|(?:本科|研究生|硕士|博士|高考|中考|专升本|自考)[^，。|｜丨]{0,6}招生"
    # courses for school pupils and exam takers, and job fairs: no trade events
    # (words taken whole: 考研 not inside 思考研发 or 参考研究, 奥赛 not in 奥赛康, a company;
    # 中小学 only with a course: a forum on school health is an event)
    r"|雅思|托福|(?<![思参备])考研(?!发|究)|学科竞赛|奥赛(?!康)|暑假班|寒假班|暑秋|寒春|招聘会|双选会|毕业生"
    r"|中小学[^，。|｜丨]{0,6}?(?:辅导|培训班|补习|暑假|寒假|课程|托管)"
    # a company's results call and live-stream selling
    r"|业绩(?:报告|说明)会|带货"
)
# Words only an invitation uses, whatever the event is called ("报名即将截止｜…嘉宾齐聚西安",
# "诚邀您莅临…"): they open the gate without a word for the event ("邀您参加" alone also asks
# for a survey or a partner, so it does not).
_ZH_INVITE = prefiltered(
    r"邀请函|不见不散|(?:诚邀|邀您|邀请您|诚挚邀请)[^，。！!？?|｜丨]{0,4}?(?:参会|莅临|出席)|"
    r"(?:嘉宾|大咖)[^，。！!？?|｜丨]{0,6}?(?:齐聚|云集|揭晓|阵容|官宣)"
)
# 报名 alone is also a call to register for a tender, a drug-price negotiation or a share plan:
# it opens the gate only with a day ahead or a city (see _signs_up).
_ZH_SIGN_UP = prefiltered(r"报名")
# ... but not a call to sit an exam, to enrol in a school, to join a trial as a patient, to
# apply for a job, nor a company's filing for a tender, a negotiation, a list or a share plan:
# 考试报名, 招生报名, 患者招募, 招聘, 集采报名, 医保谈判, 遴选, 申购, 持股计划.
_ZH_NOT_INVITE = prefiltered(
    r"考试|考生|资格考|执业药师|招聘|诚聘|求职|患者|受试者|志愿者|入学|学位|中考|高考|招生简章|报名费|"
    r"已有[^，。]{0,8}报名|报名人数|问卷|调查|贴牌|代言|集采|医保|谈判|目录|遴选|申购|持股"
)
_ZH_AHEAD = prefiltered(r"将|拟|关于|定于|计划|预计|预告|邀|报名")


def _signs_up(headline: str, published: date) -> bool:
    """A call to register (报名) for something with a day still ahead or a city: an
    invitation even without the word for the event ("6月20日北京，报名开启")."""
    if not _ZH_SIGN_UP.search(headline) or _ZH_NOT_INVITE.search(headline):
        return False
    if any(city in headline for city in _ZH_CITIES):
        return True
    day = event_date(headline, published)
    return day is not None and day > published


def _clock_invites(headline: str, end: int) -> bool:
    """Whether what follows a leading day and clock time invites: words of an invitation or the
    kind of event, no news verb, and no rule taking effect at that hour."""
    rest = headline[end:]
    return bool(
        (_CLOCK_INVITE.search(rest) or _ZH_KIND.search(rest))
        and not _CLOCK_NEWS.search(rest)
        and not _TAKES_EFFECT.search(headline[: end + 4])
    )


def _opens_as_notice(headline: str, published: date) -> bool:
    """Whether the headline opens as a notice: a day still ahead before a separator, a day
    ahead with a clock time ("明晚7点，…"), or a preview column's name."""
    if _PREVIEW_LEAD.match(headline):
        return True
    clock = _CLOCK_LEAD.match(headline)
    if clock is not None and _clock_invites(headline, clock.end()):
        # the day read with its time: "周四晚8点" is a weekday only before the time
        day = event_date(clock.group(0), published)
        if day is not None and day > published:
            return True
    m = _DATE_LEAD.match(headline)
    if m is None or not _DATE_LEAD_TAIL.fullmatch(m.group("tail")):
        return False
    if not (_DATE_LEAD_SIGN.search(m.group("tail")) or re.search(r"[-–至到~]", m.group("when"))):
        # A day alone is a dated column or a sale ("6.12 | 要闻", "11.11 | 大促"); a span of
        # days, a time, a city or "online" is an appointment.
        return False
    day = event_date(m.group("when"), published)
    return day is not None and day > published


def detect_event(title: str, summary: str, lang: str, published: date) -> EventFact | None:
    """The upcoming event an item announces, or None (including reports on past events)."""
    title_n, summary_n = normalize(title), normalize(summary)
    text = f"{title_n}。{summary_n}"
    precision = "day"
    is_zh = lang.startswith("zh") or bool(re.search(r"[\u4e00-\u9fff]{4}", title_n))
    if is_zh:
        # "…？丨紫金健康论坛": a question or exclamation, then the column's name: the column's
        # kind of event says nothing about the article.
        headline = _TRAILING_COLUMN.sub("", title_n)
        if _ZH_NOT_EVENT.search(headline):
            return None
        signed_up_only = False
        if not (
            _ZH_KIND.search(headline)
            or (_ZH_INVITE.search(headline) and not _ZH_NOT_INVITE.search(headline))
            or _dated_place_notice(headline, published)
            or _opens_as_notice(headline, published)
        ):
            if not _signs_up(headline, published):
                return None
            signed_up_only = True
        if _ZH_PAST.search(title_n) or (
            _ZH_PAST.search(summary_n) and not _ZH_FUTURE.search(title_n)
        ):
            return None
        start = event_date(text, published)
        month = event_month(title_n, published) if start is None else None
        if month is not None and month >= published.replace(day=1):
            precision, start = "month", month
        # (报名 that opened the gate does not also say the event is ahead)
        ahead = (
            any(m.group(0) != "报名" for m in _ZH_FUTURE.finditer(text))
            if signed_up_only
            else _ZH_FUTURE.search(text)
        ) or (start and start >= published)
        if not (ahead or _ZH_NOTICE.search(headline) or _opens_as_notice(headline, published)):
            return None
        if not ahead and _ZH_HELD.search(headline) and not _ZH_AHEAD.search(headline):
            return None  # "某司召开研讨会": a meeting held, reported as news
    else:
        if _EN_NOT_EVENT.search(title_n):
            return None
        invite = _EN_INVITE.search(title_n) and not _EN_NOT_INVITE.search(title_n)
        if not (_EN_KIND.search(title_n) or _EN_NOTICE.search(title_n)) and not (
            invite and (event_date(text, published) or event_month(title_n, published))
        ):
            return None
        if _EN_PAST.search(title_n) or (
            _EN_PAST.search(summary_n) and not _EN_FUTURE.search(title_n)
        ):
            return None
        start = event_date(text, published)
        if not (
            _EN_FUTURE.search(text) or (start and start >= published) or _EN_NOTICE.search(title_n)
        ):
            return None
        # A month alone ("in July", "July 2031") dates an invitation but is no invitation by
        # itself: news of a summit "this October" is not one.
        month = event_month(title_n, published) if start is None else None
        if month is not None and month >= published.replace(day=1):
            precision, start = "month", month
    if start is not None and start < published.replace(
        day=1 if precision == "month" else published.day
    ):
        return None  # a stated date in the past: a report, not an invitation
    return EventFact(_name(title_n, is_zh), start, _place(title_n, summary_n), precision)
