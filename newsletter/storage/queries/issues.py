"""Issues, their status changes, and the editor's actions on them (pins, drops, moves)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.domain.content import EditorChoices
from newsletter.domain.overrides import ItemEdit
from newsletter.domain.statuses import IssueStatus
from newsletter.storage.db import dialect_insert
from newsletter.storage.models import (
    Feed,
    Issue,
    IssueAction,
    IssueViewpoint,
    Item,
    ItemOverride,
    utcnow,
)


def get_issue(session: Session, period: str) -> Issue | None:
    """The issue of a period, if any."""
    return session.exec(select(Issue).where(Issue.period == period)).first()


def issue_number(session: Session, start: datetime) -> int:
    """The number readers see for an issue whose window starts at ``start``: one more than
    the issues before it that went out (sending, paused or sent)."""
    stmt = select(func.count()).where(
        col(Issue.window_end) <= start,
        col(Issue.status).in_([IssueStatus.SENDING, IssueStatus.PAUSED, IssueStatus.SENT]),
        col(Issue.period).not_like(SPECIAL_LIKE),  # special issues keep out of the numbering
    )
    return int(session.exec(stmt).one()) + 1


SPECIAL_LIKE = "special-%"
SPECIAL_ACTION = "special"  # the log entry that made a special issue; its note is the title


def special_issues(session: Session) -> list[Issue]:
    """Every special issue, the latest window first."""
    stmt = (
        select(Issue)
        .where(col(Issue.period).like(SPECIAL_LIKE))
        .order_by(col(Issue.window_end).desc(), col(Issue.period))
    )
    return list(session.exec(stmt).all())


def special_titles(session: Session) -> dict[str, str]:
    """Each special issue's title (the latest one given), by period."""
    stmt = (
        select(IssueAction)
        .where(IssueAction.action == SPECIAL_ACTION)
        .order_by(col(IssueAction.id))
    )
    return {a.period: a.note or "" for a in session.exec(stmt).all()}


def special_title(session: Session, period: str) -> str | None:
    """A special issue's title, None for a weekly issue."""
    stmt = (
        select(IssueAction.note)
        .where(IssueAction.period == period, IssueAction.action == SPECIAL_ACTION)
        .order_by(col(IssueAction.id).desc())
    )
    title: str | None = session.exec(stmt).first()
    return title


def get_issue_by_id(session: Session, issue_id: int) -> Issue | None:
    """An issue by id."""
    return session.get(Issue, issue_id)


def get_or_create_issue(session: Session, period: str, start: datetime, end: datetime) -> Issue:
    """The issue of a period, created as a draft if missing; safe when two processes race."""
    stmt = (
        dialect_insert(session, Issue)
        .values(
            period=period,
            status=IssueStatus.DRAFT,
            subject="",
            window_start=start,
            window_end=end,
            content={},
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["period"])
    )
    session.execute(stmt)
    issue = get_issue(session, period)
    assert issue is not None
    return issue


def lock_issue(session: Session, issue_id: int) -> Issue:
    """Re-read an issue row, locked FOR UPDATE on PostgreSQL (SQLite serializes writers anyway)."""
    stmt = select(Issue).where(Issue.id == issue_id).with_for_update()
    issue = session.exec(stmt.execution_options(populate_existing=True)).one()
    return issue


def save_issue(session: Session, issue: Issue) -> None:
    """Write a changed issue row with the session's transaction."""
    session.add(issue)


def issues_with_status(session: Session, status: IssueStatus) -> list[Issue]:
    """Every issue of one status."""
    return list(session.exec(select(Issue).where(Issue.status == status)).all())


def newest_frozen_issue(session: Session) -> Issue | None:
    """The issue frozen last (being sent, paused or sent)."""
    return session.exec(
        select(Issue).where(col(Issue.frozen_at).is_not(None)).order_by(col(Issue.frozen_at).desc())
    ).first()


def latest_issues(
    session: Session, limit: int | None, status: IssueStatus | None = None
) -> list[Issue]:
    """Issues (of one status), newest period first."""
    stmt = select(Issue)
    if status is not None:
        stmt = stmt.where(Issue.status == status)
    # By window: a special issue's label sorts after every week's, its window does not.
    stmt = stmt.order_by(col(Issue.window_end).desc(), col(Issue.period).desc()).limit(limit)
    return list(session.exec(stmt).all())


def next_frozen_after(session: Session, frozen_at: datetime, issue_id: int) -> datetime | None:
    """When the next issue (weekly or special) was frozen after ``frozen_at``, if one was.

    By time, not by period label: ``special-…`` labels sort after every ``2026-W…`` one, so a
    comparison of labels made a special issue "later" than any week and no week later than it."""
    value: datetime | None = session.exec(
        select(func.min(col(Issue.frozen_at))).where(
            col(Issue.frozen_at) > frozen_at, col(Issue.id) != issue_id
        )
    ).one()
    return value


def set_issue_status(
    session: Session,
    issue_id: int,
    status: IssueStatus,
    expect: Sequence[IssueStatus],
    reason: str | None = None,
) -> bool:
    """Change an issue's status only from one of ``expect`` (so two processes agree)."""
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if status == IssueStatus.PAUSED:
        values["paused_reason"] = (reason or "")[:1000]
    elif status in (IssueStatus.SENDING, IssueStatus.SENT):
        values["paused_reason"] = None
    if status == IssueStatus.SENT:
        values["sent_at"] = utcnow()
    stmt = (
        sa.update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status).in_(list(expect)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


# ---- editor actions ------------------------------------------------------------------------


def add_action(session: Session, action: IssueAction) -> IssueAction:
    """Record an editor's action."""
    session.add(action)
    session.flush()
    return action


def actions(session: Session, period: str) -> list[IssueAction]:
    """An issue's editor actions, oldest first."""
    stmt = select(IssueAction).where(IssueAction.period == period).order_by(col(IssueAction.id))
    return list(session.exec(stmt).all())


def action_count(session: Session, period: str) -> int:
    """How many editor actions an issue has: its version, so a stale form can be refused."""
    stmt = select(func.count()).where(IssueAction.period == period)
    return int(session.exec(stmt).one())


def editor_choices(session: Session, period: str) -> EditorChoices:
    """The net effect of an issue's pin, unpin, drop, restore and move actions (latest wins)."""
    pins: dict[int, str | None] = {}
    drops: set[int] = set()
    moves: dict[int, str] = {}
    restores: dict[int, str | None] = {}
    for act in actions(session, period):
        if act.item_id is None:
            continue
        if act.action == "pin":
            pins[act.item_id] = act.section
            drops.discard(act.item_id)
        elif act.action == "unpin":
            pins.pop(act.item_id, None)
        elif act.action == "drop":
            drops.add(act.item_id)
            pins.pop(act.item_id, None)
            restores.pop(act.item_id, None)
        elif act.action == "restore":
            # Undoes a drop; brings back an item the relevance rules or model left out.
            drops.discard(act.item_id)
            restores[act.item_id] = act.section
        elif act.action == "move" and act.section:
            moves[act.item_id] = act.section
    return EditorChoices(
        pins=pins,
        drops=frozenset(drops),
        moves=moves,
        restores=restores,
        edits=item_edits(session, period),
    )


# ---- per-issue item overrides and the viewpoint -----------------------------------------------


def _edit_of(row: ItemOverride) -> ItemEdit:
    facts = row.facts or {}
    return ItemEdit(
        item_id=row.item_id,
        title=row.title,
        summary=row.summary,
        blurb=row.blurb,
        financing=dict(facts.get("financing") or {}),
        event=dict(facts.get("event") or {}),
        position=row.position,
    )


def item_edits(session: Session, period: str) -> dict[int, ItemEdit]:
    """An issue's per-item overrides, by item id."""
    stmt = select(ItemOverride).where(ItemOverride.period == period)
    return {row.item_id: _edit_of(row) for row in session.exec(stmt).all()}


def _override_row(session: Session, period: str, item_id: int, actor: str | None) -> ItemOverride:
    row = session.exec(
        select(ItemOverride).where(ItemOverride.period == period, ItemOverride.item_id == item_id)
    ).first()
    if row is None:
        row = ItemOverride(period=period, item_id=item_id, facts={})
    row.updated_at = utcnow()
    row.updated_by = actor
    return row


def set_item_text(
    session: Session,
    period: str,
    item_id: int,
    title: str | None,
    summary: str | None,
    blurb: str | None,
    actor: str | None,
) -> None:
    """Keep an item's title, summary and blurb overrides for an issue (None: the feed's)."""
    row = _override_row(session, period, item_id, actor)
    row.title, row.summary, row.blurb = title, summary, blurb
    session.add(row)
    session.flush()


def set_item_facts(
    session: Session,
    period: str,
    item_id: int,
    financing: dict[str, Any],
    event: dict[str, Any],
    actor: str | None,
) -> None:
    """Keep an item's facts overrides for an issue (replacing earlier ones)."""
    row = _override_row(session, period, item_id, actor)
    facts: dict[str, Any] = {}
    if financing:
        facts["financing"] = financing
    if event:
        facts["event"] = event
    row.facts = facts
    session.add(row)
    session.flush()


def set_positions(session: Session, period: str, order: list[int], actor: str | None) -> None:
    """Keep the order of a section's items for an issue (their positions 0, 1, ...)."""
    for position, item_id in enumerate(order):
        row = _override_row(session, period, item_id, actor)
        row.position = position
        session.add(row)
    session.flush()


def viewpoint_text(session: Session, period: str) -> str | None:
    """The viewpoint written in the workbench for an issue, if any (blank counts as none)."""
    row = session.get(IssueViewpoint, period)
    return row.text if row is not None and row.text.strip() else None


def set_viewpoint(session: Session, period: str, text: str, actor: str | None) -> None:
    """Keep (or, with blank text, clear) the workbench's viewpoint of an issue."""
    row = session.get(IssueViewpoint, period) or IssueViewpoint(period=period)
    row.text, row.updated_at, row.updated_by = text, utcnow(), actor
    session.add(row)
    session.flush()


@dataclass(frozen=True)
class EditorLabel:
    """What an editor's decisions say about one item: relevant or not, and its section."""

    item_id: int
    feed: str
    title: str
    summary: str
    relevant: bool
    section: str | None


LABEL_ACTIONS = ("pin", "unpin", "drop", "restore", "move")


def last_label_action(session: Session, item_id: int) -> IssueAction | None:
    """The latest pin, unpin, drop, restore or move of an item, in any issue: the decision
    `editor_labels` learns from."""
    stmt = (
        select(IssueAction)
        .where(IssueAction.item_id == item_id, col(IssueAction.action).in_(LABEL_ACTIONS))
        .order_by(col(IssueAction.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def editor_labels(session: Session) -> list[EditorLabel]:
    """Every item an editor pinned, dropped, restored or moved, with the latest decision (over all
    issues): a drop says "not relevant", the others "relevant", in the section given or the
    item's own (or suggested) one."""
    stmt = (
        select(IssueAction, Item, Feed)
        .join(Item, col(Item.id) == col(IssueAction.item_id))
        .join(Feed, col(Feed.id) == col(Item.feed_id))
        .where(col(IssueAction.action).in_(LABEL_ACTIONS))
        .order_by(col(IssueAction.id))
    )
    latest: dict[int, EditorLabel] = {}
    for action, item, feed in session.exec(stmt).all():
        if action.action == "unpin":  # the pin is taken back: it says nothing any more
            latest.pop(item.id or 0, None)
            continue
        relevant = action.action != "drop"
        section = action.section or item.section or item.suggested_section
        latest[item.id or 0] = EditorLabel(
            item.id or 0,
            feed.name,
            item.title,
            item.summary_text,
            relevant,
            section if relevant else None,
        )
    return list(latest.values())
