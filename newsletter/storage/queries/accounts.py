"""Workbench accounts and their signed-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, select

from newsletter.storage.models import Account, AdminSession


def get_account(session: Session, email: str) -> Account | None:
    """An account by normalized address."""
    return session.exec(select(Account).where(Account.email == email)).first()


def get_account_by_id(session: Session, account_id: int) -> Account | None:
    """An account by id."""
    return session.get(Account, account_id)


def list_accounts(session: Session) -> list[Account]:
    """Every account, by address."""
    return list(session.exec(select(Account).order_by(col(Account.email))).all())


def save_account(session: Session, account: Account) -> Account:
    """Insert or update an account row."""
    session.add(account)
    session.flush()
    return account


def delete_account(session: Session, account: Account) -> None:
    """Delete an account and every session it has."""
    end_sessions(session, account.id or 0)
    session.delete(account)
    session.flush()


def count_admins(session: Session) -> int:
    """How many admin accounts there are."""
    return len(session.exec(select(Account.id).where(Account.role == "admin")).all())


def add_session(session: Session, row: AdminSession) -> None:
    """Record a signed-in browser."""
    session.add(row)
    session.flush()


def get_session(session: Session, token_hash: str, now: datetime) -> AdminSession | None:
    """The unexpired session with this token hash."""
    row = session.get(AdminSession, token_hash)
    if row is None or row.expires_at <= now:
        return None
    return row


def end_session(session: Session, token_hash: str) -> None:
    """Forget one signed-in browser."""
    session.execute(delete(AdminSession).where(col(AdminSession.token_hash) == token_hash))


def end_sessions(session: Session, account_id: int) -> None:
    """Forget every signed-in browser of an account."""
    session.execute(delete(AdminSession).where(col(AdminSession.account_id) == account_id))


def purge_expired(session: Session, now: datetime) -> None:
    """Delete expired sessions."""
    session.execute(delete(AdminSession).where(col(AdminSession.expires_at) <= now))
