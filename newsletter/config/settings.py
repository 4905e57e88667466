"""Operational settings: NEWSLETTER_* environment variables or a .env file, read once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from newsletter.errors import ConfigError


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
    log_level: str = "WARNING"  # run, worker and serve log at least INFO
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
    # A sending process whose heartbeat is older than this is taken for dead: its claims go.
    sender_stale_seconds: float = Field(default=30.0, gt=0)
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
