"""SQLModel tables (feed, item, issue, subscriber, delivery, sender): the schema's source of truth
(storage/tables.py holds a Core copy of the feed table, tested to be equal)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from newsletter.domain.statuses import DeliveryStatus, FeedStatus, IssueStatus, SubscriberStatus

# The UTC column type and clock, shared with the Core copy of the feed table (tables.py).
from newsletter.storage.tables import UTCDateTime as UTCDateTime
from newsletter.storage.tables import utcnow as utcnow


class Table(SQLModel):
    """The base of every table: pydantic's validation schema is built on first use, not when
    the module is imported (about 20 ms of every command's start-up; rows are mostly built
    by the ORM from the database, which needs no schema)."""

    model_config = ConfigDict(defer_build=True)  # type: ignore[assignment]


class Feed(Table, table=True):
    """A feed from feeds.yaml plus its polling state (validators, health)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True, index=True)
    url: str = Field(max_length=2000)
    section: str = Field(max_length=40)
    weight: float = 1.0
    language: str = Field(default="en", max_length=20)
    encoding: str | None = Field(default=None, max_length=40)
    enabled: bool = True
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=200)
    body_hash: str | None = Field(default=None, max_length=64)
    last_status: str = Field(default=FeedStatus.NEVER, max_length=20)
    last_http_status: int | None = None
    last_error: str | None = Field(default=None, max_length=2000)
    consecutive_failures: int = 0
    last_fetched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_poll_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=500)
    # A permanent redirect (301/308) seen on consecutive polls is adopted: fetched instead of
    # ``url``, which stays as configured in feeds.yaml (and shown by `newsletter feeds`).
    redirect_url: str | None = Field(default=None, max_length=2000)
    redirect_candidate: str | None = Field(default=None, max_length=2000)
    redirect_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Set by polling (410 Gone, or too many failures in a row), unlike ``enabled``, which
    # mirrors feeds.yaml; cleared by a successful fetch or a new url in feeds.yaml.
    auto_disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    auto_disabled_reason: str | None = Field(default=None, max_length=500)
    # Adaptive polling: when the feed is due again and why (newsletter.domain.polling), from
    # the entries it posted in the last week (kept across 304s) and the server's cache hints.
    poll_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    poll_reason: str | None = Field(default=None, max_length=300)
    weekly_entries: int | None = None
    # An ingest worker's claim: who polls the feed now, until when (renewed by heartbeats).
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Item(Table, table=True):
    """One feed entry, normalized and cleaned, with its section and the reason for it."""

    __table_args__ = (sa.UniqueConstraint("feed_id", "key", name="uq_item_feed_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    key: str = Field(max_length=512)
    url: str | None = Field(default=None, max_length=2000)
    title: str = Field(max_length=1000)
    summary_html: str = Field(default="", sa_type=sa.Text)
    summary_text: str = Field(default="", sa_type=sa.Text)
    author: str | None = Field(default=None, max_length=300)
    published: datetime = Field(sa_type=UTCDateTime, index=True)
    published_source: str = Field(default="feed", max_length=20)
    first_seen: datetime = Field(sa_type=UTCDateTime)
    language: str = Field(default="en", max_length=20)
    section: str | None = Field(default=None, max_length=40)  # None: left out (see reason)
    section_reason: str | None = Field(default=None, max_length=300)
    relevance: float | None = Field(default=None)  # the relevance model's score, 0-1
    suggested_section: str | None = Field(default=None, max_length=40)  # had it been relevant
    facts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    cluster: str | None = Field(default=None, max_length=64)
    content_hash: str = Field(max_length=64)
    article_text: str | None = Field(default=None, sa_type=sa.Text)
    article_status: str | None = Field(default=None, max_length=300)


class Issue(Table, table=True):
    """One period's issue: draft, then frozen content and rendered parts once sending starts."""

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=20, unique=True, index=True)
    status: str = Field(default=IssueStatus.DRAFT, max_length=20)
    subject: str = Field(default="", max_length=500)
    window_start: datetime = Field(sa_type=UTCDateTime)
    window_end: datetime = Field(sa_type=UTCDateTime)
    content: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    html: str | None = Field(default=None, sa_type=sa.Text)
    text: str | None = Field(default=None, sa_type=sa.Text)
    skipped_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    frozen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why sending stopped (status "paused"): the error rate passed the threshold, or an operator.
    paused_reason: str | None = Field(default=None, max_length=1000)


class Subscriber(Table, table=True):
    """A subscriber: normalized address, status, opaque token, preferences, consent evidence."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    name: str | None = Field(default=None, max_length=200)
    status: str = Field(default=SubscriberStatus.ACTIVE, max_length=20, index=True)
    token: str = Field(max_length=64, unique=True, index=True)
    sections: list[str] | None = Field(default=None, sa_type=sa.JSON)
    locale: str | None = Field(default=None, max_length=20)
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    consent_ip: str | None = Field(default=None, max_length=64)
    consent_user_agent: str | None = Field(default=None, max_length=500)
    source: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    unsubscribed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Double opt-in: only the SHA-256 of the emailed confirmation token is stored.
    confirm_token_hash: str | None = Field(default=None, max_length=64, index=True)
    confirm_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirm_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    confirm_ip: str | None = Field(default=None, max_length=64)
    confirm_user_agent: str | None = Field(default=None, max_length=500)
    # Hard bounce (5.1.1-style reply) or complaint: suppressed until a new confirmation.
    bounced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    suppressed_reason: str | None = Field(default=None, max_length=500)


class Delivery(Table, table=True):
    """One (issue, subscriber) message: queued once, sent at most once apart from in-flight crashes."""

    __table_args__ = (
        sa.UniqueConstraint("issue_id", "subscriber_id", name="uq_delivery_issue_subscriber"),
        sa.Index("ix_delivery_claim", "issue_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    status: str = Field(default=DeliveryStatus.QUEUED, max_length=20, index=True)
    attempts: int = 0
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Deterministic per (issue, subscriber) (tokens.message_id); computed when the delivery is
    # sent and stored with its first result, so queueing is one INSERT ... SELECT that never
    # loads the subscriber list.
    message_id: str | None = Field(default=None, max_length=300)
    last_reply: str | None = Field(default=None, max_length=1000)
    smtp_code: int | None = None
    worker: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Sender(Table, table=True):
    """A sending process (one `send`, `run` or `worker` run of an issue) and its heartbeat: the
    deliveries it holds (``delivery.worker`` = ``name``) are taken over once the heartbeat is
    stale, without waiting for their lease."""

    id: int | None = Field(default=None, primary_key=True)
    # host:pid:random, as on delivery.worker
    name: str = Field(max_length=100, unique=True, index=True)
    host: str = Field(max_length=100)
    pid: int
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    heartbeat_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IssueAction(Table, table=True):
    """An editor's change to an issue (pin, drop, move, approve, hold, ...), kept as a log."""

    __tablename__ = "issue_action"

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=20, index=True)
    action: str = Field(max_length=20)
    item_id: int | None = None
    section: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=500)
    actor: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FeedAction(Table, table=True):
    """A change to the feed list made in the workbench (added, changed, disabled, enabled,
    imported), with the account that made it: feeds.yaml keeps no history of its own."""

    __tablename__ = "feed_action"

    id: int | None = Field(default=None, primary_key=True)
    feed: str = Field(max_length=200)  # the feed's name when the change was made
    action: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=500)
    actor: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class ItemOverride(Table, table=True):
    """An editor's per-issue edit of one item: title, summary, blurb, facts (JSON with the
    ``financing`` and ``event`` keys set) and its position in its section. Kept for that issue
    only; the item as read from the feed is untouched."""

    __tablename__ = "item_override"
    __table_args__ = (sa.UniqueConstraint("period", "item_id", name="uq_item_override"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=20, index=True)
    item_id: int = Field(foreign_key="item.id")
    title: str | None = Field(default=None, max_length=300)
    summary: str | None = Field(default=None, sa_type=sa.Text)
    blurb: str | None = Field(default=None, sa_type=sa.Text)
    facts: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    position: int | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str | None = Field(default=None, max_length=100)


class IssueViewpoint(Table, table=True):
    """The editor's viewpoint for one issue, written in the workbench (Markdown); it wins over
    the file editorial/PERIOD.md."""

    __tablename__ = "issue_viewpoint"

    period: str = Field(max_length=20, primary_key=True)
    text: str = Field(default="", sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str | None = Field(default=None, max_length=100)


class Link(Table, table=True):
    """An http(s) link that appeared in a sent issue; the click redirect only knows these."""

    __table_args__ = (sa.UniqueConstraint("issue_id", "url", name="uq_link_issue_url"),)

    id: int | None = Field(default=None, primary_key=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    url: str = Field(max_length=2000)
    token: str = Field(max_length=32, unique=True, index=True)
    clicks: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Click(Table, table=True):
    """One click through the redirect; who clicked is kept only when the operator enables it."""

    id: int | None = Field(default=None, primary_key=True)
    link_id: int = Field(foreign_key="link.id", index=True)
    issue_id: int = Field(foreign_key="issue.id", index=True)
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class Account(Table, table=True):
    """An editor or admin of the workbench; only an argon2 hash of the password is kept."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    role: str = Field(max_length=20)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    password_changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AdminSession(Table, table=True):
    """A signed-in browser: the SHA-256 of its cookie token (never the token), its CSRF token
    and when it expires. Logging out, a password change or removing the account deletes it."""

    __tablename__ = "admin_session"

    token_hash: str = Field(max_length=64, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class BounceRecord(Table, table=True):
    """One bounce, complaint or mailto: unsubscribe about an address, from the bounce mailbox
    or a provider's webhook; recorded once per (source, event_id)."""

    __tablename__ = "bounce_event"
    __table_args__ = (sa.UniqueConstraint("source", "event_id", name="uq_bounce_event_source_id"),)

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int | None = Field(default=None, foreign_key="subscriber.id", index=True)
    email: str = Field(max_length=320, index=True)
    kind: str = Field(max_length=20)
    source: str = Field(max_length=20)
    diagnostic: str = Field(default="", max_length=500)
    event_id: str = Field(max_length=300)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    suppressed: bool = False  # this event took the address off the list


class WebhookReceipt(Table, table=True):
    """A webhook request already accepted (SNS MessageId, Mailgun token, ...): the same one
    again is a replay and is refused."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (
        sa.UniqueConstraint("source", "receipt_id", name="uq_webhook_receipt_source_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    receipt_id: str = Field(max_length=200)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


FEED_STATUSES = tuple(FeedStatus)
ISSUE_STATUSES = tuple(IssueStatus)
SUBSCRIBER_STATUSES = tuple(SubscriberStatus)
DELIVERY_STATUSES = tuple(DeliveryStatus)


class HealthCheck(Table, table=True):
    """One row that /healthz rewrites: proof that the database takes a committed write."""

    __tablename__ = "health_check"

    id: int = Field(primary_key=True)
    checked_at: datetime = Field(sa_type=UTCDateTime)
