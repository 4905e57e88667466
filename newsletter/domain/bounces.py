"""Bounces and complaints: what a delivery report or a provider's event means for an address.

Pure decisions: a DSN status code or a provider's bounce type becomes a kind (hard, soft,
complaint, unsubscribe), and a kind plus the address's recent soft bounces says whether to
suppress it. The readers (DSN mailbox, webhooks) and the storage live elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class BounceKind(StrEnum):
    """What a report says about an address."""

    HARD = "hard"  # the address does not exist or is disabled: suppress at once
    SOFT = "soft"  # a temporary or policy failure: suppress after a threshold
    COMPLAINT = "complaint"  # the reader marked the issue as spam: suppress at once
    UNSUBSCRIBE = "unsubscribe"  # the mailto: List-Unsubscribe address was used


class BounceSource(StrEnum):
    """Where a report came from."""

    SMTP = "smtp"  # the relay's reply during the send
    DSN = "dsn"  # a delivery status notification (RFC 3464) in the bounce mailbox
    ARF = "arf"  # a feedback report (RFC 5965) in the bounce mailbox
    MAILTO = "mailto"  # a message to the List-Unsubscribe mailto: address
    SES = "ses"
    POSTMARK = "postmark"
    MAILGUN = "mailgun"
    SENDGRID = "sendgrid"


@dataclass(frozen=True, slots=True)
class BounceEvent:
    """One report about one address: ``event_id`` is unique per source, so a report read or
    posted twice is recorded once."""

    email: str
    kind: BounceKind
    source: BounceSource
    diagnostic: str
    occurred_at: datetime
    event_id: str
    token: str | None = None  # the subscriber's token, for a mailto: unsubscribe


@dataclass(frozen=True, slots=True)
class SoftBouncePolicy:
    """How many soft bounces within how many days suppress an address."""

    threshold: int
    window: timedelta


_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def status_code(text: str) -> str | None:
    """The first enhanced status code (RFC 3463, ``5.1.1``) in a text, or None."""
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else None


# RFC 3463 §3.2: X.1.x are address errors (bad mailbox, bad domain, moved); X.2.1 is a
# mailbox disabled. Those addresses will not come back. A full mailbox (X.2.2), a policy or
# spam rejection (X.7.x) or a network problem says nothing final about the address. 5.0.0
# ("permanent, no detail") is hard only when the reply says the user does not exist (Exim's
# "550 No such user here"): Postfix also writes 5.0.0 for its own configuration errors
# (Diagnostic-Code: X-Postfix; ...), which must not take every address off the list.
_HARD_CODES = ("5.2.1",)


_NO_SUCH_USER = re.compile(
    r"\b55[013]\b.{0,80}?(no such (user|mailbox|recipient)|(user|mailbox|recipient|address)"
    r"( \S+)? (unknown|not found|does not exist|doesn't exist|unavailable)|unknown (user|recipient"
    r"|mailbox))|recipient name is not recognized|"
    r"no mailbox here by that name|doesn't have an? \S+ account|"
    r"(用户|邮箱|收件人)(名)?(不存在|未找到)",
    re.IGNORECASE,
)


def kind_for_dsn(action: str, status: str | None, diagnostic: str = "") -> BounceKind | None:
    """The kind of one DSN recipient block (RFC 3464 §2.3.3 Action, §2.3.4 Status): None
    for a delivered, relayed or expanded message, which is not a bounce."""
    action = action.strip().lower()
    if action in ("delivered", "relayed", "expanded"):
        return None
    code = status or status_code(diagnostic)
    if code in (None, "5.0.0") and _NO_SUCH_USER.search(diagnostic):
        return BounceKind.HARD  # a 550 "no such user" (QQ Mail writes no 5.x.x at all)
    if action == "delayed" or code is None or code.startswith("4."):
        return BounceKind.SOFT
    if code.startswith("5.1.") or code in _HARD_CODES:
        return BounceKind.HARD
    return BounceKind.SOFT


def should_suppress(kind: BounceKind, soft_bounces: int, policy: SoftBouncePolicy) -> bool:
    """Whether this event takes the address off the list: a hard bounce, a complaint or an
    unsubscribe at once; a soft bounce when ``soft_bounces`` (within the policy's window,
    this one included) reaches the threshold."""
    if kind is BounceKind.SOFT:
        return soft_bounces >= policy.threshold
    return True


def suppression_reason(event: BounceEvent) -> str:
    """The reason stored on a suppressed subscriber."""
    words = {
        BounceKind.HARD: "hard bounce",
        BounceKind.SOFT: "repeated soft bounces",
        BounceKind.COMPLAINT: "complaint",
        BounceKind.UNSUBSCRIBE: "unsubscribed by email",
    }
    detail = f": {event.diagnostic}" if event.diagnostic else ""
    return f"{words[event.kind]} ({event.source}){detail}"[:500]
