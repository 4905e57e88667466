"""Workbench accounts (editors and admins) and their signed-in sessions.

Passwords are hashed with argon2id (argon2-cffi); only the hash is stored. A session is a
random token in an HttpOnly cookie; the database keeps its SHA-256 (a leaked database does not
sign anyone in), the account, a per-session CSRF token and the expiry. Logging out, changing
the password or removing the account deletes the rows, so it takes effect at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from newsletter.errors import AccountError, SubscriberError
from newsletter.service.app import App
from newsletter.service.subscribers import normalize_email
from newsletter.storage.db import Session, session_scope
from newsletter.storage.models import Account, AdminSession, utcnow
from newsletter.storage.queries import accounts

ROLES = ("editor", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
SESSION_LIFETIME = timedelta(hours=12)

_hasher = PasswordHasher()  # argon2id, the library's current defaults (RFC 9106 low-memory)
# Verified against when the address has no account, so that a wrong address takes as long as
# a wrong password and the timing does not tell which addresses exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class AccountView:
    """An account as people see it (never the hash)."""

    email: str
    role: str
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class SignedIn:
    """Who a session belongs to, and the CSRF token its forms carry."""

    account_id: int
    email: str
    role: str
    csrf_token: str

    @property
    def is_admin(self) -> bool:
        """Admins manage accounts; editors do not."""
        return self.role == "admin"


@dataclass(frozen=True)
class NewSession:
    """A session just started: the cookie token (shown once, stored only hashed) and its owner."""

    token: str
    signed_in: SignedIn


def _view(row: Account) -> AccountView:
    return AccountView(row.email, row.role, row.created_at, row.last_login_at)


def account_email(raw: str) -> str:
    """A validated, normalized account address."""
    try:
        return normalize_email(raw)
    except SubscriberError as exc:
        raise AccountError(str(exc)) from exc


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; use editor or admin")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must be at most {MAX_PASSWORD} characters long")
    if password != password.strip():
        raise AccountError("the password starts or ends with a space; remove it")
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_account(app: App, email: str, role: str, password: str) -> AccountView:
    """Create an account; refused when the address already has one."""
    address = account_email(email)
    row = Account(
        email=address,
        role=_check_role(role),
        password_hash=_hasher.hash(_check_password(password)),
    )
    with session_scope(app.engine) as session:
        if accounts.get_account(session, address) is not None:
            raise AccountError(
                f"{address} already has an account; `newsletter users passwd` changes its password"
            )
        return _view(accounts.save_account(session, row))


def list_accounts(app: App) -> list[AccountView]:
    """Every account, by address."""
    with session_scope(app.engine) as session:
        return [_view(row) for row in accounts.list_accounts(session)]


def _existing(session: Session, address: str) -> Account:
    row = accounts.get_account(session, address)
    if row is None:
        raise AccountError(f"no account {address}; `newsletter users list` shows them")
    return row


def remove_account(app: App, email: str) -> None:
    """Delete an account and sign it out everywhere; the last admin cannot be removed."""
    address = account_email(email)
    with session_scope(app.engine) as session:
        row = _existing(session, address)
        if row.role == "admin" and accounts.count_admins(session) <= 1:
            raise AccountError(f"{address} is the last admin; add another admin first")
        accounts.delete_account(session, row)


def change_password(app: App, email: str, password: str) -> None:
    """Set a new password and sign the account out everywhere."""
    address = account_email(email)
    new_hash = _hasher.hash(_check_password(password))
    with session_scope(app.engine) as session:
        row = _existing(session, address)
        row.password_hash = new_hash
        row.password_changed_at = utcnow()
        accounts.save_account(session, row)
        accounts.end_sessions(session, row.id or 0)


def authenticate(app: App, email: str, password: str) -> AccountView | None:
    """The account when the address and password match, else None (same work either way)."""
    try:
        address = account_email(email)
    except AccountError:
        address = ""
    with session_scope(app.engine) as session:
        row = accounts.get_account(session, address) if address else None
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            row.password_hash = _hasher.hash(password)
        row.last_login_at = utcnow()
        accounts.save_account(session, row)
        return _view(row)


def start_session(app: App, email: str, now: datetime | None = None) -> NewSession:
    """Sign an account in: a new random token and CSRF token (old expired sessions purged)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with session_scope(app.engine) as session:
        row = _existing(session, account_email(email))
        accounts.purge_expired(session, now)
        accounts.add_session(
            session,
            AdminSession(
                token_hash=_token_hash(token),
                account_id=row.id or 0,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            ),
        )
        return NewSession(token, SignedIn(row.id or 0, row.email, row.role, csrf))


def signed_in(app: App, token: str | None, now: datetime | None = None) -> SignedIn | None:
    """Who holds this session cookie token, or None (unknown, expired or signed out)."""
    if not token or len(token) > 200:
        return None
    with session_scope(app.engine) as session:
        row = accounts.get_session(session, _token_hash(token), now or utcnow())
        if row is None:
            return None
        account = accounts.get_account_by_id(session, row.account_id)
        if account is None:
            return None
        return SignedIn(account.id or 0, account.email, account.role, row.csrf_token)


def end_session(app: App, token: str | None) -> None:
    """Sign a browser out (nothing happens for an unknown token)."""
    if not token:
        return
    with session_scope(app.engine) as session:
        accounts.end_session(session, _token_hash(token))


__all__ = [
    "ROLES",
    "AccountView",
    "NewSession",
    "SignedIn",
    "account_email",
    "add_account",
    "authenticate",
    "change_password",
    "end_session",
    "list_accounts",
    "remove_account",
    "signed_in",
    "start_session",
]
