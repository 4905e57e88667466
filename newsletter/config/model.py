"""The feeds.yaml schema: the newsletter, its sections and its feeds, as frozen typed objects."""

from __future__ import annotations

import re
from datetime import time as TimeOfDay
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from newsletter.errors import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SECTION_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def _language_titles(value: Any, header: bool) -> tuple[tuple[str, str], ...]:
    """Titles per language ({zh: 本周热点}): keys are language codes, values one line."""
    if isinstance(value, tuple | list):
        value = dict(value)
    if not isinstance(value, dict):
        raise ValueError("must be a mapping of language codes to titles, like {zh: 本周热点}")
    for language, title in value.items():
        if not isinstance(language, str) or not isinstance(title, str):
            raise ValueError("must map language codes to titles (text), like {zh: 本周热点}")
        if not LANGUAGE_CODE.match(language):
            raise ValueError(f"{language!r} is not a language code like zh or en")
        if not title.strip() or "\n" in title or "\r" in title:
            raise ValueError(f"the {language} title must be one non-empty line")
        if header:
            _header_safe(title, "must be one line without '=?' (encoded-word syntax)")
    return tuple(
        sorted((language.lower().split("-")[0], title.strip()) for language, title in value.items())
    )


def _header_safe(value: str, problem: str) -> str:
    """Text that goes into a mail header: no line breaks, no encoded-word syntax (CVE-2024-6923)."""
    if any(c in value for c in "\r\n") or "=?" in value:
        raise ValueError(problem)
    return value


def _each_once(kind: str, field: str, keys: list[str]) -> None:
    """Refuse a key that appears twice, naming both entries by number."""
    first: dict[str, int] = {}
    for number, key in enumerate(keys, 1):
        if key in first:
            raise ValueError(
                f"{kind} {key!r}, field {field!r}: appears twice "
                f"({kind}s #{first[key]} and #{number})"
            )
        first[key] = number


def _keywords(value: tuple[str, ...]) -> tuple[str, ...]:
    """Keywords stripped; an empty one is refused (it would match everything)."""
    for keyword in value:
        if not keyword.strip():
            raise ValueError("keywords must not be empty strings")
    return tuple(k.strip() for k in value)


def _regexes(value: tuple[str, ...]) -> tuple[str, ...]:
    """Patterns that compile; the first that does not is named."""
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from exc
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sender(_Strict):
    """The From: of every issue."""

    name: str
    email: str

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        # The local part as RFC 5322 atext and an ASCII domain of non-empty labels: what
        # email.headers.envelope_address accepts, so no message fails to compose later.
        atext = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
        label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        if not re.fullmatch(rf"{atext}(\.{atext})*@(?:{label}\.)+[A-Za-z]{{2,63}}", value):
            raise ValueError(f"must be an address like digest@example.com, got {value!r}")
        return value

    @field_validator("name")
    @classmethod
    def _no_header_tricks(cls, value: str) -> str:
        return _header_safe(value, "must not contain line breaks or '=?' (encoded-word syntax)")

    @property
    def domain(self) -> str:
        """The sender's domain, used for Message-IDs and List-Id."""
        return self.email.rsplit("@", 1)[1].lower()


class Schedule(_Strict):
    """When the weekly issue is built and sent, in the newsletter's timezone."""

    day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = (
        "monday"
    )
    time: str = "08:00"

    @field_validator("day", mode="before")
    @classmethod
    def _lower_day(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("time", mode="before")
    @classmethod
    def _unquoted_time(cls, value: Any) -> Any:
        # YAML 1.1 reads an unquoted 18:30 as the base-60 number 1110: turn it back into a time.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            return f"{value // 60}:{value % 60:02d}"
        return value

    @field_validator("time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(value))
        if not match:
            raise ValueError(f"must be HH:MM in 24-hour time, got {value!r}")
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @property
    def weekday(self) -> int:
        """Monday is 0."""
        return WEEKDAYS.index(self.day)

    @property
    def at(self) -> TimeOfDay:
        """The send time of day."""
        hour, minute = self.time.split(":")
        return TimeOfDay(int(hour), int(minute))


class NewsletterConfig(_Strict):
    """The newsletter itself: title, sender, schedule, minimum size."""

    title: str
    sender: Sender
    reply_to: str | None = None
    timezone: str = "UTC"
    language: str = "en"
    schedule: Schedule = Schedule()
    min_items: int = Field(default=5, ge=0)
    subject: str = "{title} · {issue_label}"
    # language -> the title in that language's edition; pairs, so the model stays hashable
    titles: tuple[tuple[str, str], ...] = ()
    preheader: str | None = None
    templates: str = "templates"
    html_budget_bytes: int = Field(default=100_000, ge=10_000)
    auto_approve: bool = True
    draft_hours_before: float = Field(default=24.0, ge=0.0, le=144.0)
    editorial_dir: str = "editorial"
    fetch_articles: bool = True
    calendar_attachments: bool = False  # an .ics file per event in every copy (links always)
    # The editorial team: the workbench's "Send a test copy" goes to these addresses.
    test_recipients: tuple[str, ...] = Field(default=(), max_length=50)

    @field_validator("reply_to")
    @classmethod
    def _reply_to_shape(cls, value: str | None) -> str | None:
        # Checked here, not when the first message is built (a line break would fail there).
        return None if value is None else Sender._email_shape(value)

    @field_validator("test_recipients")
    @classmethod
    def _recipients_shape(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(Sender._email_shape(address) for address in value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name like Asia/Shanghai"
            ) from exc
        return value

    @field_validator("title", "subject")
    @classmethod
    def _single_line(cls, value: str) -> str:
        return _header_safe(value, "must be one line without '=?' (encoded-word syntax)")

    @field_validator("titles", mode="before")
    @classmethod
    def _titles_shape(cls, value: Any) -> tuple[tuple[str, str], ...]:
        return _language_titles(value, header=True)

    @property
    def tz(self) -> ZoneInfo:
        """The newsletter's timezone object."""
        return ZoneInfo(self.timezone)


class SectionConfig(_Strict):
    """One section of the issue, with the rules that route items into it."""

    id: str
    title: str
    # language -> the title in that language's edition; pairs, so the model stays hashable
    titles: tuple[tuple[str, str], ...] = ()
    max_items: int = Field(default=8, ge=1, le=100)
    priority: int | None = None
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    description: str = ""
    exclude: tuple[str, ...] = ()  # keywords that keep an item out of this section

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not SECTION_ID.match(value):
            raise ValueError(
                f"must be lowercase letters, digits, '-' or '_' starting with a letter, got {value!r}"
            )
        return value

    @field_validator("titles", mode="before")
    @classmethod
    def _titles_shape(cls, value: Any) -> tuple[tuple[str, str], ...]:
        return _language_titles(value, header=False)

    @field_validator("keywords", "exclude")
    @classmethod
    def _non_empty_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _keywords(value)

    @field_validator("patterns")
    @classmethod
    def _valid_regex(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes(value)


class FeedConfig(_Strict):
    """One feed to poll."""

    name: str
    url: str
    section: str
    weight: float = Field(default=1.0, ge=0.0, le=100.0)
    language: str = "en"
    encoding: str | None = None
    timezone: str | None = None
    allow_private: bool = False
    enabled: bool = True
    report: bool = False
    include: tuple[str, ...] = ()  # when set, only items with one of these keywords are read
    exclude: tuple[str, ...] = ()  # items with one of these keywords are left out

    @field_validator("include", "exclude")
    @classmethod
    def _filter_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _keywords(value)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be an http or https URL, got {value!r}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str | None) -> str | None:
        if value is None:
            return None
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(
                f"unknown encoding {value!r}; use a name like gb18030 or utf-8"
            ) from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _feed_zone(cls, value: str | None) -> str | None:
        return None if value is None else NewsletterConfig._known_zone(value)

    @property
    def tz(self) -> ZoneInfo | None:
        """The zone for dates the feed writes without an offset (None: UTC, or +08:00 for zh)."""
        return ZoneInfo(self.timezone) if self.timezone else None


class TopicExample(_Strict):
    """An example item an editor gives for the topic: it is training data for `model train`."""

    title: str = Field(min_length=1)
    summary: str = ""
    relevant: bool = True
    section: str | None = None


class TopicConfig(_Strict):
    """What belongs in this newsletter (docs/editorial.md, "Relevance")."""

    description: str = ""
    examples: tuple[TopicExample, ...] = ()
    exclude: tuple[str, ...] = ()  # keywords that leave an item out, whatever the model says
    exclude_patterns: tuple[str, ...] = ()  # the same as regular expressions
    relevance_threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # None: the model's
    use_model: bool = True  # false: every item not excluded by a rule is relevant
    per_source_cap: int = Field(default=3, ge=1, le=100)  # items of one feed per section
    # "healthcare": a funding round outside it (a carmaker's, a café's) never enters the
    # financing section or its totals; None: every round does.
    financing_sector: Literal["healthcare"] | None = None

    @field_validator("exclude")
    @classmethod
    def _exclude_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _keywords(value)

    @field_validator("exclude_patterns")
    @classmethod
    def _exclude_regex(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _regexes(value)


class Config(_Strict):
    """The whole feeds.yaml, validated."""

    newsletter: NewsletterConfig
    sections: tuple[SectionConfig, ...] = Field(min_length=1)
    feeds: tuple[FeedConfig, ...] = ()
    topic: TopicConfig = TopicConfig()
    path: Path = Path("feeds.yaml")

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        # Messages name the entry and the field, like the per-field errors (see _where).
        _each_once("section", "id", [s.id for s in self.sections])
        _each_once("feed", "name", [f.name for f in self.feeds])
        seen = {s.id for s in self.sections}
        for feed in self.feeds:
            if feed.section not in seen:
                raise ValueError(
                    f"feed {feed.name!r}, field 'section': {feed.section!r} is not one of the "
                    f"sections ({', '.join(s.id for s in self.sections)})"
                )
        for number, example in enumerate(self.topic.examples, 1):
            if example.section is not None and example.section not in seen:
                raise ValueError(
                    f"topic example #{number}, field 'section': {example.section!r} is not one "
                    f"of the sections ({', '.join(s.id for s in self.sections)})"
                )
        return self

    @property
    def base_dir(self) -> Path:
        """The folder of feeds.yaml; relative paths resolve against it."""
        return self.path.parent

    @property
    def editorial_dir(self) -> Path:
        """The folder of the editor's viewpoints (``2026-W48.md``)."""
        return (self.base_dir / self.newsletter.editorial_dir).resolve()

    @property
    def templates_dir(self) -> Path:
        """The templates folder."""
        return (self.base_dir / self.newsletter.templates).resolve()

    @cached_property
    def rule_order(self) -> tuple[SectionConfig, ...]:
        """Sections in the order their rules are tried: by priority, then issue order."""
        indexed = list(enumerate(self.sections))
        indexed.sort(
            key=lambda pair: (pair[1].priority if pair[1].priority is not None else 1000, pair[0])
        )
        return tuple(section for _, section in indexed)

    @cached_property
    def section_ids(self) -> tuple[str, ...]:
        """Section ids in issue order."""
        return tuple(s.id for s in self.sections)

    def section(self, section_id: str) -> SectionConfig:
        """The section with this id."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise ConfigError(f"{self.path}: no section {section_id!r}")

    def feed(self, name: str) -> FeedConfig:
        """The feed with this name."""
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise ConfigError(f"{self.path}: no feed named {name!r}")
