"""The statuses of feeds, issues, subscribers and deliveries, and the groups decisions test."""

from __future__ import annotations

from enum import StrEnum


class FeedStatus(StrEnum):
    """How a feed's last poll went (``Feed.last_status``)."""

    NEVER = "never"
    OK = "ok"
    NOT_MODIFIED = "not_modified"
    ERROR = "error"


class IssueStatus(StrEnum):
    """Where an issue is: editable (draft, approved, held), frozen (sending, paused, sent), or
    skipped for having too few items."""

    DRAFT = "draft"
    APPROVED = "approved"
    HELD = "held"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    SKIPPED = "skipped"


class SubscriberStatus(StrEnum):
    """A subscriber: pending until the address is confirmed, active, or suppressed
    (unsubscribed, bounced) until a new confirmation."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class DeliveryStatus(StrEnum):
    """One message of an issue: queued (again, for a retry), held by a sender, or done."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SKIPPED = "skipped"


# An issue in these states has frozen content: it can no longer be rebuilt, changed or approved.
FROZEN = (IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT)
# Addresses that stay suppressed until a new confirmation.
SUPPRESSED = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED)
