"""Configuration, loaded once at the edge: NEWSLETTER_* settings and the feeds.yaml schema."""

from __future__ import annotations

import difflib
import os
import re
import typing
from datetime import date
from datetime import time as TimeOfDay
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.errors import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SECTION_ID = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class Settings(BaseSettings):
    """Operational settings from NEWSLETTER_* environment variables or a .env file."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", extra="ignore", frozen=True
    )

    config: Path = Path("feeds.yaml")
    data_dir: Path = Path("data")
    database_url: str | None = None
    mail_transport: Literal["file", "smtp"] = "file"
    outbox_dir: Path | None = None
    smtp_host: str = "localhost"
    smtp_port: int | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "starttls"
    smtp_timeout: float = 30.0
    base_url: str = "http://localhost:8000"
    secret_key: SecretStr | None = None
    allow_private_addresses: bool = False
    fetch_timeout: float = 20.0
    fetch_max_bytes: int = 10 * 1024 * 1024
    fetch_concurrency: int = 32
    max_items_per_feed: int = 200
    feed_disable_after: int = 10
    parse_workers: int = Field(default_factory=lambda: os.cpu_count() or 1)
    poll_minutes: int = 60
    misfire_grace_hours: float = 12.0
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    # Web app (`newsletter serve`): subscriptions, archive, preview, click statistics.
    confirm_days: float = Field(default=7.0, gt=0)
    click_tracking: bool = True
    click_track_subscribers: bool = False
    preview_token: SecretStr | None = None
    subscribe_limit_per_ip: int = Field(default=20, ge=1)  # subscribe requests per hour
    subscribe_limit_per_address: int = Field(default=3, ge=1)  # confirmation emails per hour
    trust_proxy_headers: bool = False

    # Delivery (`newsletter worker`, and sending from `run` and `send`).
    smtp_connections: int = Field(default=4, ge=1, le=64)
    smtp_messages_per_connection: int = Field(default=200, ge=1)
    send_rate_per_second: float = Field(default=0.0, ge=0)  # 0: no limit
    send_rate_per_hour: int = Field(default=0, ge=0)  # 0: no limit
    delivery_batch: int = Field(default=50, ge=1, le=1000)
    delivery_lease_seconds: float = Field(default=600.0, gt=0)
    retry_first_minutes: float = Field(default=5.0, gt=0)
    retry_max_minutes: float = Field(default=240.0, gt=0)
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    pause_error_rate: float = Field(default=0.2, gt=0, le=1)
    pause_min_attempts: int = Field(default=50, ge=1)
    dkim_key_path: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"must be an http(s) URL such as https://news.example.com, got {value!r}"
            )
        return value.rstrip("/")

    @field_validator(
        "fetch_concurrency",
        "parse_workers",
        "poll_minutes",
        "fetch_max_bytes",
        "max_items_per_feed",
        "feed_disable_after",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL: NEWSLETTER_DATABASE_URL, else a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'newsletter.db').resolve()}"

    @property
    def resolved_outbox_dir(self) -> Path:
        """Where the file transport writes .eml files."""
        return self.outbox_dir if self.outbox_dir is not None else self.data_dir / "outbox"

    @property
    def resolved_smtp_port(self) -> int:
        """The SMTP port: explicit, else 465 for implicit TLS, 587 for STARTTLS, 25 for none."""
        if self.smtp_port is not None:
            return self.smtp_port
        return {"tls": 465, "starttls": 587, "none": 25}[self.smtp_tls]


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; errors name the variable to fix."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(
                f"NEWSLETTER_{field.upper()}: {err['msg'].removeprefix('Value error, ')}"
            )
        raise ConfigError("invalid setting: " + "; ".join(problems)) from exc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sender(_Strict):
    """The From: of every issue."""

    name: str
    email: str

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        # The local part as RFC 5322 atext (what mailer.envelope_address accepts), ASCII domain.
        atext = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
        if not re.fullmatch(rf"{atext}(\.{atext})*@[A-Za-z0-9.-]+\.[A-Za-z]{{2,}}", value):
            raise ValueError(f"must be an address like digest@example.com, got {value!r}")
        return value

    @field_validator("name")
    @classmethod
    def _no_header_tricks(cls, value: str) -> str:
        if any(c in value for c in "\r\n") or "=?" in value:
            raise ValueError("must not contain line breaks or '=?' (encoded-word syntax)")
        return value

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
    subject: str = "{title} · {period_label}"
    preheader: str | None = None
    templates: str = "templates"
    html_budget_bytes: int = Field(default=100_000, ge=10_000)
    auto_approve: bool = True
    draft_hours_before: float = Field(default=24.0, ge=0.0, le=144.0)
    editorial_dir: str = "editorial"
    fetch_articles: bool = True

    @field_validator("reply_to")
    @classmethod
    def _reply_to_shape(cls, value: str | None) -> str | None:
        # Checked here, not when the first message is built (a line break would fail there).
        return None if value is None else Sender._email_shape(value)

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
        if any(c in value for c in "\r\n") or "=?" in value:
            raise ValueError("must be one line without '=?' (encoded-word syntax)")
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The newsletter's timezone object."""
        return ZoneInfo(self.timezone)


class SectionConfig(_Strict):
    """One section of the issue, with the rules that route items into it."""

    id: str
    title: str
    max_items: int = Field(default=8, ge=1, le=100)
    priority: int | None = None
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not SECTION_ID.match(value):
            raise ValueError(
                f"must be lowercase letters, digits, '-' or '_' starting with a letter, got {value!r}"
            )
        return value

    @field_validator("keywords")
    @classmethod
    def _non_empty_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for keyword in value:
            if not keyword.strip():
                raise ValueError("keywords must not be empty strings")
        return tuple(k.strip() for k in value)

    @field_validator("patterns")
    @classmethod
    def _valid_regex(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regular expression: {exc}"
                ) from exc
        return value


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


class Config(_Strict):
    """The whole feeds.yaml, validated."""

    newsletter: NewsletterConfig
    sections: tuple[SectionConfig, ...] = Field(min_length=1)
    feeds: tuple[FeedConfig, ...] = ()
    path: Path = Path("feeds.yaml")

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        # Messages name the entry and the field, like the per-field errors (see _where).
        seen: dict[str, int] = {}
        for number, section in enumerate(self.sections, 1):
            if section.id in seen:
                raise ValueError(
                    f"section {section.id!r}, field 'id': appears twice "
                    f"(sections #{seen[section.id]} and #{number})"
                )
            seen[section.id] = number
        names: dict[str, int] = {}
        for number, feed in enumerate(self.feeds, 1):
            if feed.name in names:
                raise ValueError(
                    f"feed {feed.name!r}, field 'name': appears twice "
                    f"(feeds #{names[feed.name]} and #{number})"
                )
            names[feed.name] = number
            if feed.section not in seen:
                raise ValueError(
                    f"feed {feed.name!r}, field 'section': {feed.section!r} is not one of the "
                    f"sections ({', '.join(s.id for s in self.sections)})"
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


def _where(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into 'feed 'X', field 'url'' using the raw data's names."""
    if not loc:
        return "top level"
    head = loc[0]
    if head in ("feeds", "sections") and len(loc) >= 2 and isinstance(loc[1], int):
        kind = "feed" if head == "feeds" else "section"
        index = loc[1]
        label = f"{kind} #{index + 1}"
        try:
            entry = raw[head][index]
            key = "name" if head == "feeds" else "id"
            if isinstance(entry, dict) and isinstance(entry.get(key), str) and entry[key]:
                label = f"{kind} {entry[key]!r}"
        except (KeyError, IndexError, TypeError):
            pass
        rest = ".".join(str(p) for p in loc[2:])
        return f"{label}, field {rest!r}" if rest else label
    return "field " + repr(".".join(str(p) for p in loc))


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``tuple[FeedConfig, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (a pydantic location without the bad key)."""
    model: type[BaseModel] = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        inner = _inner_model(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return [name for name in model.model_fields if not (model is Config and name == "path")]


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    """'unknown key' with a "did you mean" from the keys allowed there (difflib)."""
    key = loc[-1] if loc else "?"
    if isinstance(key, bool):
        # YAML 1.1: an unquoted on/off/yes/no *key* becomes a boolean.
        return (
            f"unknown key {key!r}: YAML reads an unquoted yes/no/on/off key as a boolean; "
            "check the spelling against docs/configuration.md"
        )
    known = _known_keys(loc[:-1])
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}? (check the spelling against docs/configuration.md)"
    listed = f"; allowed here: {', '.join(known)}" if known else ""
    return f"unknown key (check the spelling against docs/configuration.md{listed})"


def _yaml_hint(value: Any, error_type: str) -> str | None:
    """Why a value has the wrong type, for YAML 1.1 traps (``no`` is false, dates, numbers)."""
    if isinstance(value, bool):
        word = "true" if value else "false"
        return (
            f"got the boolean {word}: YAML reads an unquoted yes/no/on/off/true/false as a "
            'boolean; put the value in quotes, for example "no"'
        )
    if isinstance(value, date):  # datetime is a date too
        text = value.isoformat()
        return f'got the date {text}: YAML reads an unquoted date as a date; write it in quotes, "{text}"'
    if error_type == "string_type" and isinstance(value, int | float):
        return (
            f"got the number {value!r}: put text in quotes (YAML reads an unquoted 012 as 10 "
            "and 18:30 as 1110)"
        )
    if error_type == "string_type" and value is None:
        return "the value is empty"
    return None


def _yaml_lines(text: str, path: Path) -> dict[tuple[int | str, ...], int]:
    """The line of every mapping key and list item in a YAML document, by location.

    Also refuses a key given twice in one mapping: PyYAML silently keeps the last one.
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[int | str, ...], int] = {}

    def walk(node: yaml.Node, loc: tuple[int | str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise ConfigError(
                        f"{path}: line {line}: key {key!r} appears twice in the same mapping "
                        f"(first on line {seen[key]}); YAML would silently keep only the last one"
                    )
                seen[key] = line
                lines[(*loc, key)] = line
                walk(value_node, (*loc, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*loc, index)] = item.start_mark.line + 1
                walk(item, (*loc, index))

    if root is not None:
        walk(root, ())
    return lines


def _line(lines: dict[tuple[int | str, ...], int], loc: tuple[int | str, ...]) -> int | None:
    """The line of the longest prefix of ``loc`` that the document has."""
    for end in range(len(loc), 0, -1):
        line = lines.get(tuple(str(p) if isinstance(p, bool) else p for p in loc[:end]))
        if line is not None:
            return line
    return None


def parse_config(
    raw: Any, path: Path, lines: dict[tuple[int | str, ...], int] | None = None
) -> Config:
    """Validate already-loaded YAML data into a Config; errors name the file, entry and field
    (and the line, when ``lines`` from the YAML source are given)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'newsletter', 'sections' and 'feeds'")
    problems: list[str] = []
    if "path" in raw:  # Config.path is where the file was read from, not a key of the file
        problems.append(f"field 'path': {_unknown_key(('path',))}")
    try:
        config = Config.model_validate(
            {**{k: v for k, v in raw.items() if k != "path"}, "path": path}
        )
    except ValidationError as exc:
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                msg = _unknown_key(loc)
            elif err["type"] == "invalid_key":
                # pydantic puts the bad key's value where the key would be; name the key.
                loc = (*loc[:-1], err["input"]) if loc else (err["input"],)
                msg = _unknown_key(loc)
            else:
                hint = _yaml_hint(err.get("input"), err["type"])
                if hint:
                    msg = f"{msg}; {hint}"
            where = _where(raw, loc) if loc else ""
            line = _line(lines or {}, loc)
            if line is not None:
                where = f"{where} (line {line})" if where else f"line {line}"
            problems.append(f"{where}: {msg}" if where else msg)
    else:
        if not problems:
            return config
    raise ConfigError(f"{path}: " + "; ".join(problems))


def load_config(path: Path) -> Config:
    """Read and validate feeds.yaml."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: file not found; pass --config PATH or set NEWSLETTER_CONFIG"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(f"{path}: YAML syntax error at {where}: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from exc
    return parse_config(raw, path.resolve(), _yaml_lines(text, path.resolve()))
