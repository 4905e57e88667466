"""Operational settings: NEWSLETTER_* environment variables or a .env file, read once.

Read by this module rather than by pydantic-settings, which imports its command-line and
cloud-secret sources, JSON and python-dotenv with it: about 3 % of the instructions of a
`newsletter ingest` before its first request (docs/performance.md). The rules are
pydantic-settings' as the project used them: names case-insensitive, the environment over the
.env file (python-dotenv's syntax, read only when there is one), values given to ``Settings()``
over both, defaults validated too, unknown names ignored (and warned about by the CLI).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from newsletter.errors import ConfigError

log = logging.getLogger("newsletter.config")
PREFIX = "NEWSLETTER_"
# Read by the test suite, not by the package: never reported as unknown.
RESERVED_PREFIXES = ("NEWSLETTER_TEST_",)
ENV_FILE = Path(".env")  # in the working folder


class Settings(BaseModel):
    """Operational settings from NEWSLETTER_* environment variables or a .env file."""

    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    def __init__(self, *, _env_file: Path | str | None = ENV_FILE, **values: Any) -> None:
        """The settings of the environment and ``_env_file`` (None: no file), with ``values``
        (by field name) over both."""
        super().__init__(**{**environment_values(_env_file), **values})

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
    # Adaptive polling (each feed's next poll, newsletter.domain.polling) and ingest workers.
    poll_min_minutes: float = Field(default=15.0, gt=0)
    poll_max_minutes: float = Field(default=1440.0, gt=0)
    ingest_lease_seconds: float = Field(default=300.0, gt=0)
    ingest_batch: int = Field(default=20, ge=1, le=1000)
    misfire_grace_hours: float = 12.0
    # One template render stops past these (newsletter.email.sandbox): an editor's runaway
    # loop is one error line, not a hung build, preview or weekly job.
    template_time_limit: float = Field(default=10.0, gt=0)  # seconds
    template_output_limit: int = Field(default=5 * 1024 * 1024, ge=1024)  # bytes
    debug: bool = False  # the CLI shows a traceback for an unexpected error (also --debug)
    log_level: str = "WARNING"  # run, worker and serve log at least INFO
    log_format: Literal["text", "json"] = "text"

    # Web app (`newsletter serve`): subscriptions, archive, preview, click statistics.
    confirm_days: float = Field(default=7.0, gt=0)
    click_tracking: bool = True
    click_track_subscribers: bool = False
    preview_token: SecretStr | None = None
    metrics_token: SecretStr | None = None  # unset or empty: /metrics answers 404
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
    # A sending process whose heartbeat is older than this is taken for dead: its claims go.
    sender_stale_seconds: float = Field(default=30.0, gt=0)
    # A sender retries an unreachable SMTP server this long before it stops the run.
    smtp_outage_seconds: float = Field(default=300.0, ge=0)
    retry_first_minutes: float = Field(default=5.0, gt=0)
    retry_max_minutes: float = Field(default=240.0, gt=0)
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    pause_error_rate: float = Field(default=0.2, gt=0, le=1)
    pause_min_attempts: int = Field(default=50, ge=1)
    dkim_key_path: Path | None = None
    dkim_selector: str | None = None
    dkim_domain: str | None = None

    # Bounces and complaints (`newsletter bounces fetch`, the scheduler, the webhooks).
    bounce_imap_host: str | None = None  # unset: no bounce mailbox is read
    bounce_imap_port: int | None = None
    bounce_imap_user: str | None = None
    bounce_imap_password: SecretStr | None = None
    bounce_imap_folder: str = "INBOX"
    bounce_imap_tls: Literal["none", "starttls", "tls"] = "tls"
    bounce_imap_timeout: float = Field(default=30.0, gt=0)
    bounce_fetch_minutes: float = Field(default=5.0, gt=0)  # how often `run` reads the mailbox
    bounce_soft_threshold: int = Field(default=3, ge=1)  # soft bounces that suppress ...
    bounce_soft_window_days: float = Field(default=30.0, gt=0)  # ... within this many days
    webhook_max_age_seconds: float = Field(default=900.0, gt=0)  # older events are replays
    # Amazon SES through SNS: certificate URLs allowed (shell patterns on scheme://host/path)
    # and the topics accepted (comma-separated ARNs; empty: the webhook is off).
    ses_sns_topic_arns: str = ""
    ses_sns_cert_urls: str = "https://sns.*.amazonaws.com/*"
    postmark_webhook_user: str | None = None
    postmark_webhook_password: SecretStr | None = None
    mailgun_signing_key: SecretStr | None = None
    sendgrid_verification_key: str | None = None  # the Event Webhook's public key (base64)

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

    @model_validator(mode="after")
    def _poll_bounds_ordered(self) -> Settings:
        if self.poll_min_minutes > self.poll_max_minutes:
            raise ValueError(
                f"NEWSLETTER_POLL_MIN_MINUTES ({self.poll_min_minutes:g}) is more than "
                f"NEWSLETTER_POLL_MAX_MINUTES ({self.poll_max_minutes:g}); make the minimum "
                "the smaller"
            )
        return self

    def anchored(self, config_path: Path) -> Settings:
        """These settings with relative folders and files (NEWSLETTER_DATA_DIR,
        NEWSLETTER_OUTBOX_DIR, NEWSLETTER_DKIM_KEY_PATH and a relative SQLite file in
        NEWSLETTER_DATABASE_URL) resolved against the folder of feeds.yaml, not the working
        directory: a command run from another folder finds the same database.
        """
        base = config_path.resolve().parent
        update: dict[str, Any] = {"data_dir": _under(base, self.data_dir)}
        if self.outbox_dir is not None:
            update["outbox_dir"] = _under(base, self.outbox_dir)
        if self.dkim_key_path is not None and str(self.dkim_key_path):
            update["dkim_key_path"] = _under(base, self.dkim_key_path)
        if self.database_url:
            update["database_url"] = _anchor_sqlite_url(self.database_url, base)
        return self.model_copy(update=update)

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
    def resolved_bounce_imap_port(self) -> int:
        """The IMAP port: explicit, else 993 for implicit TLS, 143 otherwise."""
        if self.bounce_imap_port is not None:
            return self.bounce_imap_port
        return 993 if self.bounce_imap_tls == "tls" else 143

    @property
    def resolved_smtp_port(self) -> int:
        """The SMTP port: explicit, else 465 for implicit TLS, 587 for STARTTLS, 25 for none."""
        if self.smtp_port is not None:
            return self.smtp_port
        return {"tls": 465, "starttls": 587, "none": 25}[self.smtp_tls]


def environment_values(
    env_file: Path | str | None = ENV_FILE, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The settings given by NEWSLETTER_* variables, by field name: from ``env_file`` when it
    is a file, then from the environment, which wins. Names are case-insensitive; other
    names are left out."""
    fields = {f"{PREFIX}{name}".lower(): name for name in Settings.model_fields}
    values: dict[str, Any] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values

        try:
            read = dotenv_values(env_file, encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"cannot read {env_file}: byte {exc.start} is not UTF-8; save the file as UTF-8 "
                "text (or remove it and set NEWSLETTER_* variables in the environment)"
            ) from exc
        except OSError as exc:
            raise ConfigError(
                f"cannot read {env_file}: {exc.strerror or exc}; make it readable by this user "
                "(or remove it and set NEWSLETTER_* variables in the environment)"
            ) from exc
        for name, value in read.items():
            # A line with no "=" (python-dotenv gives None) sets nothing, as pydantic-settings
            # read it.
            if value is not None and name.lower() in fields:
                values[fields[name.lower()]] = value
    for name, value in (os.environ if environ is None else environ).items():
        if name.lower() in fields:
            values[fields[name.lower()]] = value
    return values


def _under(base: Path, path: Path) -> Path:
    """``path`` if absolute (``~`` expanded), else ``base / path``."""
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _anchor_sqlite_url(url: str, base: Path) -> str:
    """A ``sqlite:///relative/file.db`` URL made absolute against ``base``; other URLs as given."""
    head, sep, rest = url.partition(":///")
    if not sep or head.split("+", 1)[0] != "sqlite":
        return url
    file, query_sep, query = rest.partition("?")
    if not file or file == ":memory:" or file.startswith("/"):
        return url
    return f"{head}:///{_under(base, Path(file))}{query_sep}{query}"


@dataclass(frozen=True, slots=True)
class UnknownVariable:
    """A NEWSLETTER_* name no setting reads, and the closest one that does (or None)."""

    name: str
    suggestion: str | None
    source: str  # "environment" or the .env file's path

    def warning(self) -> str:
        """The one warning line for it."""
        hint = f"; did you mean {self.suggestion}?" if self.suggestion else ""
        return (
            f"{self.name} (from the {self.source}) is not a setting and is ignored{hint} "
            "(the settings are listed in docs/configuration.md)"
        )


def unknown_variables(names: Iterable[str], source: str) -> list[UnknownVariable]:
    """The NEWSLETTER_* names among ``names`` that no setting reads, each with a did-you-mean
    (difflib) from the known names. Case-insensitive, as the settings are read."""
    known = [PREFIX + field.upper() for field in Settings.model_fields]
    found = []
    for name in sorted(set(names)):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper.startswith(RESERVED_PREFIXES):
            continue
        if upper in known:
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        found.append(UnknownVariable(name, close[0] if close else None, source))
    return found


_warned: set[tuple[str, str]] = set()


def warn_unknown_variables(
    environ: Mapping[str, str] | None = None, env_file: Path = Path(".env")
) -> list[UnknownVariable]:
    """Log one warning per unknown NEWSLETTER_* variable, in the environment or in .env, once
    per process. A misspelled name is otherwise ignored silently. Returns the unknown ones."""
    environ = os.environ if environ is None else environ
    found = unknown_variables(environ, "environment")
    if env_file.is_file():
        from dotenv import dotenv_values

        try:
            names = list(dotenv_values(env_file))
        except (OSError, UnicodeDecodeError):
            names = []  # reading the settings reports an unreadable .env itself
        found += unknown_variables(names, f"{env_file} file")
    for unknown in found:
        if (unknown.name, unknown.source) not in _warned:
            _warned.add((unknown.name, unknown.source))
            log.warning("%s", unknown.warning())
    return found


def load_settings(*, warn_unknown: bool = True, **overrides: Any) -> Settings:
    """Read settings from the environment; errors name the variable to fix. Unknown
    NEWSLETTER_* variables are warned about once (``warn_unknown``)."""
    if warn_unknown:
        warn_unknown_variables()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if not err["loc"]:  # a check of several settings names them itself
                problems.append(message)
                continue
            problems.append(f"NEWSLETTER_{str(err['loc'][0]).upper()}: {message}")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from exc
