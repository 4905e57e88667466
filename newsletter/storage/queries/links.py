"""Links of sent issues (the click redirect's allow-list) and the clicks on them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.storage.db import dialect_insert
from newsletter.storage.models import Click, Link, utcnow


def ensure_links(
    session: Session, issue_id: int, urls: Sequence[str], tokens: Iterator[str]
) -> dict[str, str]:
    """A Link row per URL of the issue (kept if there); returns url -> redirect token."""
    existing = {
        link.url: link.token
        for link in session.exec(select(Link).where(Link.issue_id == issue_id)).all()
    }
    missing = [u for u in dict.fromkeys(urls) if u not in existing and len(u) <= 2000]
    if missing:
        now = utcnow()
        stmt = dialect_insert(session, Link).on_conflict_do_nothing(
            index_elements=["issue_id", "url"]
        )
        session.execute(
            stmt,
            [
                {
                    "issue_id": issue_id,
                    "url": u,
                    "token": next(tokens),
                    "clicks": 0,
                    "created_at": now,
                }
                for u in missing
            ],
        )
        existing = {
            link.url: link.token
            for link in session.exec(select(Link).where(Link.issue_id == issue_id)).all()
        }
    return existing


def link_by_token(session: Session, token: str) -> Link | None:
    """The link a click-redirect token names."""
    return session.exec(select(Link).where(Link.token == token)).first()


def issue_links(session: Session, issue_id: int) -> list[Link]:
    """An issue's links, most clicked first."""
    stmt = (
        select(Link)
        .where(Link.issue_id == issue_id)
        .order_by(col(Link.clicks).desc(), col(Link.id))
    )
    return list(session.exec(stmt).all())


@dataclass(frozen=True, slots=True)
class ClickRecord:
    """A click to count: which link of which issue, who (when that is kept), and when."""

    link_id: int
    issue_id: int
    subscriber_id: int | None
    created_at: datetime


def record_clicks(session: Session, clicks: Sequence[ClickRecord]) -> None:
    """Count clicks that were queued: one UPDATE per link (``clicks + n``, so concurrent
    writers all count) and one multi-row INSERT of the click rows."""
    if not clicks:
        return
    per_link = Counter(click.link_id for click in clicks)
    for link_id, count in per_link.items():
        session.execute(
            sa.update(Link)
            .where(col(Link.id) == link_id)
            .values(clicks=col(Link.clicks) + count)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        sa.insert(Click.__table__),  # type: ignore[attr-defined]
        [
            {
                "link_id": c.link_id,
                "issue_id": c.issue_id,
                "subscriber_id": c.subscriber_id,
                "created_at": c.created_at,
            }
            for c in clicks
        ],
    )


@dataclass(frozen=True, slots=True)
class DayClicks:
    """The clicks on an issue's links on one day (``YYYY-MM-DD``, UTC)."""

    day: str
    clicks: int


def clicks_by_day(session: Session, issue_id: int) -> list[DayClicks]:
    """An issue's clicks per day, oldest day first."""
    day = sa.func.date(col(Click.created_at))
    rows = session.exec(
        select(day, func.count()).where(Click.issue_id == issue_id).group_by(day).order_by(day)
    ).all()
    return [DayClicks(str(d), int(n)) for d, n in rows]
