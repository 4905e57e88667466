"""Links of sent issues (the click redirect's allow-list) and the clicks on them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


def record_click(session: Session, link: Link, subscriber_id: int | None) -> None:
    """Count a click on a link and log it (with who clicked, when that is kept)."""
    assert link.id is not None
    # One UPDATE, so concurrent clicks are all counted.
    session.execute(
        sa.update(Link)
        .where(col(Link.id) == link.id)
        .values(clicks=col(Link.clicks) + 1)
        .execution_options(synchronize_session=False)
    )
    session.add(
        Click(
            link_id=link.id,
            issue_id=link.issue_id,
            subscriber_id=subscriber_id,
            created_at=utcnow(),
        )
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
