"""The feed table as a SQLAlchemy Core table, for `newsletter ingest`'s start-up path.

The schema's source of truth is the SQLModel classes in ``newsletter.storage.models`` (and the
migrations). Importing them costs SQLModel, pydantic's model machinery and SQLAlchemy's ORM:
about a quarter of the instructions `newsletter ingest` spent before its first request
(docs/performance.md). What a poll reads and writes of a feed before and between its requests
(``queries.feed_states``) needs only this Core copy of the ``feed`` table, which is built
from SQLAlchemy Core alone. tests/storage/test_tables.py checks that it equals
``models.Feed.__table__`` column by column (type as each dialect writes it, nullability,
defaults, keys and indexes): change both together. ``UTCDateTime`` lives here so that both
can use it without the ORM.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from newsletter.domain.statuses import FeedStatus


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite drops offsets, so we never rely on them."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


metadata = sa.MetaData()  # its own: never used to create or migrate the schema


feed = sa.Table(
    "feed",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True, index=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("section", sa.String(40), nullable=False),
    sa.Column("weight", sa.Float, nullable=False, default=1.0),
    sa.Column("language", sa.String(20), nullable=False, default="en"),
    sa.Column("encoding", sa.String(40)),
    sa.Column("enabled", sa.Boolean, nullable=False, default=True),
    sa.Column("etag", sa.String(500)),
    sa.Column("last_modified", sa.String(200)),
    sa.Column("body_hash", sa.String(64)),
    sa.Column("last_status", sa.String(20), nullable=False, default=FeedStatus.NEVER),
    sa.Column("last_http_status", sa.Integer),
    sa.Column("last_error", sa.String(2000)),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_fetched_at", UTCDateTime),
    sa.Column("last_success_at", UTCDateTime),
    sa.Column("next_poll_at", UTCDateTime),
    sa.Column("disabled_reason", sa.String(500)),
    sa.Column("redirect_url", sa.String(2000)),
    sa.Column("redirect_candidate", sa.String(2000)),
    sa.Column("redirect_count", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("auto_disabled_at", UTCDateTime),
    sa.Column("auto_disabled_reason", sa.String(500)),
    sa.Column("poll_due_at", UTCDateTime, index=True),
    sa.Column("poll_reason", sa.String(300)),
    sa.Column("weekly_entries", sa.Integer),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_until", UTCDateTime),
)
