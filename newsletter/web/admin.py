"""The editor's workbench under /admin: sign-in, the draft of an issue with per-item controls,
approval, accounts (admins only) and the feed list as OPML.

Sessions are server-side rows (newsletter.service.accounts): the cookie holds a random token,
HttpOnly, SameSite=Lax, Secure when NEWSLETTER_BASE_URL is https, limited to /admin. Every
form carries a CSRF token: the session's for signed-in forms, and for the sign-in form an HMAC
of a random cookie (double submit), so a page elsewhere cannot sign a browser in or act for it.
Without a session a page redirects to the sign-in form and a POST changes nothing."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from newsletter.errors import AccountError, IssueError, NewsletterError
from newsletter.service.accounts import (
    SignedIn,
    account_email,
    add_account,
    authenticate,
    end_session,
    list_accounts,
    remove_account,
    signed_in,
    start_session,
)
from newsletter.service.editing import (
    ITEM_ACTIONS,
    StaleIssueError,
    change_item,
    set_status,
    unapprove,
)
from newsletter.service.feedlist import export_opml
from newsletter.service.workbench import draft_view, next_period, period_of
from newsletter.web.context import WebContext, web_context
from newsletter.web.forms import Form, read_form
from newsletter.web.limits import RequestRateLimiter, rate_key
from newsletter.web.middleware import PREVIEW_CSP
from newsletter.web.pages import Pages

router = APIRouter()
SESSION_COOKIE = "newsletter_admin"
LOGIN_COOKIE = "newsletter_login"
COOKIE_PATH = "/admin"
# Sign-in attempts (right or wrong) per 15 minutes: per account, and per client address.
LOGIN_WINDOW = 15 * 60.0
LOGIN_LIMIT_PER_ACCOUNT = 10
LOGIN_LIMIT_PER_IP = 30
DONE = {
    "pin": "Pinned item {item}.",
    "unpin": "Unpinned item {item}.",
    "drop": "Dropped item {item}; it is listed under Left out, where Restore brings it back.",
    "restore": "Restored item {item}.",
    "move": "Moved item {item}.",
    "approve": "Approved: the content is frozen as it is now.",
    "unapprove": "Returned to a draft: items can change again.",
    "hold": "Held: this issue will not be sent until it is approved.",
    "user-added": "Account added.",
    "user-removed": "Account removed.",
}


@dataclass
class AdminContext:
    """The workbench's pages and sign-in limits, made once per web app."""

    web: WebContext
    pages: Pages
    account_limiter: RequestRateLimiter
    ip_limiter: RequestRateLimiter

    @property
    def secure(self) -> bool:
        """Cookies only over HTTPS when the site is served over HTTPS."""
        return urlsplit(self.web.app.settings.base_url).scheme == "https"


def admin_context(request: Request) -> AdminContext:
    """The AdminContext of this web app, made on first use (a FastAPI dependency)."""
    ctx = getattr(request.app.state, "admin", None)
    if ctx is None:
        web = web_context(request)
        ctx = AdminContext(
            web=web,
            pages=Pages(web.app.config.templates_dir / "admin", web.pages.site),
            account_limiter=RequestRateLimiter(LOGIN_LIMIT_PER_ACCOUNT, LOGIN_WINDOW),
            ip_limiter=RequestRateLimiter(LOGIN_LIMIT_PER_IP, LOGIN_WINDOW),
        )
        request.app.state.admin = ctx
    assert isinstance(ctx, AdminContext)
    return ctx


Ctx = Annotated[AdminContext, Depends(admin_context)]


def _who(ctx: AdminContext, request: Request) -> SignedIn | None:
    return signed_in(ctx.web.app, request.cookies.get(SESSION_COOKIE))


def _to_login(request: Request) -> Response:
    """Off to the sign-in form, coming back here afterwards (GET pages only)."""
    target = request.url.path if request.method == "GET" else "/admin"
    return RedirectResponse(f"/admin/login?next={quote(target, safe='/')}", status_code=303)


def _check_csrf(form: Form, expected: str) -> None:
    presented = form.first("csrf_token")
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(
            403, "this form has expired or did not come from this site; reload the page and retry"
        )


def _login_csrf(ctx: AdminContext, nonce: str) -> str:
    return hmac.new(
        ctx.web.app.secret(), b"admin-login:" + nonce.encode(), hashlib.sha256
    ).hexdigest()


def _page(ctx: AdminContext, template: str, status_code: int = 200, **values: Any) -> Response:
    response = ctx.pages.page(template, status_code=status_code, **values)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    return response


def _safe_next(value: str) -> str:
    """Only our own /admin pages are followed after sign-in (no open redirect)."""
    if value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin"


@router.get("/admin/style.css")
def admin_stylesheet(ctx: Ctx) -> Response:
    """The workbench's stylesheet (templates/admin/style.css)."""
    return Response(
        ctx.pages.stylesheet,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/admin/login")
def login_form(ctx: Ctx, request: Request, next: str = "/admin", signed_out: str = "") -> Response:
    """The sign-in form (email, password, hidden csrf_token)."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = _page(
        ctx,
        "login.html",
        csrf_token=_login_csrf(ctx, nonce),
        next=_safe_next(next),
        error=None,
        done="You are signed out." if signed_out else None,
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, path=COOKIE_PATH, httponly=True, samesite="lax", secure=ctx.secure
    )
    return response


@router.post("/admin/login")
async def login(ctx: Ctx, request: Request) -> Response:
    """Check the password (rate-limited per account and per address) and start a session."""
    form = await read_form(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or ""
    _check_csrf(form, _login_csrf(ctx, nonce) if nonce else "")
    email, password = form.first("email").strip(), form.first("password")
    target = _safe_next(form.first("next") or "/admin")

    def again(status: int, error: str) -> Response:
        return _page(
            ctx,
            "login.html",
            status_code=status,
            csrf_token=_login_csrf(ctx, nonce),
            next=target,
            error=error,
            email=email,
        )

    if not email or not password:
        return again(400, "Enter your email address and your password.")
    try:
        account_key = account_email(email)
    except AccountError:
        account_key = email.lower()
    ip_ok = ctx.ip_limiter.hit(rate_key(ctx.web.client_ip(request)))
    if not ip_ok or not ctx.account_limiter.hit(account_key):
        return again(
            429, "Too many sign-in attempts. Wait 15 minutes, or ask an admin to check the account."
        )
    # argon2 takes tens of milliseconds on purpose: off the event loop.
    account = await run_in_threadpool(authenticate, ctx.web.app, email, password)
    if account is None:
        return again(401, "That email address and password do not match an account.")
    started = await run_in_threadpool(start_session, ctx.web.app, account.email)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=ctx.secure,
    )
    response.delete_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/admin/logout")
async def logout(ctx: Ctx, request: Request) -> Response:
    """End the session (with its CSRF token) and go back to the sign-in form."""
    form = await read_form(request)
    # Database work, building and rendering happen in the thread pool, off the event loop.
    return await run_in_threadpool(_logout, ctx, request, form)


def _logout(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = _who(ctx, request)
    if who is None:
        return _to_login(request)
    _check_csrf(form, who.csrf_token)
    end_session(ctx.web.app, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/admin/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/admin")
def admin_home(ctx: Ctx, request: Request) -> Response:
    """The next issue's draft."""
    if _who(ctx, request) is None:
        return _to_login(request)
    return RedirectResponse(f"/admin/issues/{next_period(ctx.web.app).label}", status_code=303)


def _draft_page(
    ctx: AdminContext,
    who: SignedIn,
    label: str,
    status_code: int = 200,
    done: str | None = None,
    error: str | None = None,
) -> Response:
    try:
        period = period_of(ctx.web.app, label)
    except IssueError as exc:
        raise HTTPException(404, str(exc)) from exc
    view = draft_view(ctx.web.app, period)
    return _page(
        ctx,
        "issue.html",
        status_code=status_code,
        view=view,
        who=who,
        done=done,
        error=error,
        item_actions=ITEM_ACTIONS,
    )


@router.get("/admin/issues/{period}")
def issue_page(
    ctx: Ctx, request: Request, period: str, done: str = "", item: int | None = None
) -> Response:
    """The draft: the email as it will be sent beside every section's items, the left-out
    items, approval buttons and the change log."""
    who = _who(ctx, request)
    if who is None:
        return _to_login(request)
    message = DONE.get(done, "").format(item=item) or None
    return _draft_page(ctx, who, period, done=message)


def _version(form: Form) -> int:
    try:
        return int(form.first("version"))
    except ValueError as exc:
        raise HTTPException(400, "the form has no version field; reload the page") from exc


def _after(ctx: AdminContext, who: SignedIn, period: str, done: str, item: int | None) -> Response:
    suffix = f"&item={item}" if item is not None else ""
    return RedirectResponse(f"/admin/issues/{period}?done={done}{suffix}", status_code=303)


def _refused(ctx: AdminContext, who: SignedIn, period: str, exc: NewsletterError) -> Response:
    status = 409 if isinstance(exc, StaleIssueError) else 400
    return _draft_page(ctx, who, period, status_code=status, error=str(exc))


@router.post("/admin/issues/{period}/items/{item_id}")
async def item_action(ctx: Ctx, request: Request, period: str, item_id: int) -> Response:
    """Pin, unpin, drop, restore or move one item (CSRF token and page version required)."""
    form = await read_form(request)
    # Database work, building and rendering happen in the thread pool, off the event loop.
    return await run_in_threadpool(_item_action, ctx, request, form, period, item_id)


def _item_action(
    ctx: AdminContext, request: Request, form: Form, period: str, item_id: int
) -> Response:
    who = _who(ctx, request)
    if who is None:
        return _to_login(request)
    _check_csrf(form, who.csrf_token)
    action = form.first("action")
    if action not in ITEM_ACTIONS:
        raise HTTPException(400, f"action must be one of {', '.join(ITEM_ACTIONS)}")
    section = form.first("section") or None if action in ("move", "pin", "restore") else None
    version = _version(form)
    try:
        the_period = period_of(ctx.web.app, period)
        change_item(
            ctx.web.app,
            the_period,
            action,
            item_id,
            section=section,
            actor=who.email,
            expected_version=version,
        )
    except IssueError as exc:
        return _refused(ctx, who, period, exc)
    return _after(ctx, who, period, action, item_id)


@router.post("/admin/issues/{period}/status")
async def status_action(ctx: Ctx, request: Request, period: str) -> Response:
    """Approve, unapprove or hold the issue (CSRF token and page version required)."""
    form = await read_form(request)
    # Database work, building and rendering happen in the thread pool, off the event loop.
    return await run_in_threadpool(_status_action, ctx, request, form, period)


def _status_action(ctx: AdminContext, request: Request, form: Form, period: str) -> Response:
    who = _who(ctx, request)
    if who is None:
        return _to_login(request)
    _check_csrf(form, who.csrf_token)
    action = form.first("action")
    version = _version(form)
    try:
        the_period = period_of(ctx.web.app, period)
        if action == "approve":
            set_status(
                ctx.web.app, the_period, "approved", actor=who.email, expected_version=version
            )
        elif action == "hold":
            set_status(ctx.web.app, the_period, "held", actor=who.email, expected_version=version)
        elif action == "unapprove":
            unapprove(ctx.web.app, the_period, actor=who.email, expected_version=version)
        else:
            raise HTTPException(400, "action must be approve, unapprove or hold")
    except IssueError as exc:
        return _refused(ctx, who, period, exc)
    return _after(ctx, who, period, action, None)


@router.get("/admin/feeds.opml")
def feeds_opml(ctx: Ctx, request: Request) -> Response:
    """The configured feeds as OPML 2.0 (for feed readers and `newsletter feeds import`)."""
    if _who(ctx, request) is None:
        return _to_login(request)
    document = export_opml(ctx.web.app.config, datetime.now(UTC))
    return Response(
        document,
        media_type="text/x-opml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="feeds.opml"'},
    )


def _admin_only(who: SignedIn) -> None:
    if not who.is_admin:
        raise HTTPException(403, "only admins manage accounts; ask an admin")


def _users_page(
    ctx: AdminContext,
    who: SignedIn,
    status_code: int = 200,
    done: str | None = None,
    error: str | None = None,
) -> Response:
    return _page(
        ctx,
        "users.html",
        status_code=status_code,
        who=who,
        accounts=list_accounts(ctx.web.app),
        done=done,
        error=error,
    )


@router.get("/admin/users")
def users_page(ctx: Ctx, request: Request, done: str = "") -> Response:
    """The accounts, with forms to add and remove them (admins only)."""
    who = _who(ctx, request)
    if who is None:
        return _to_login(request)
    _admin_only(who)
    return _users_page(ctx, who, done=DONE.get(done))


@router.post("/admin/users")
async def users_action(ctx: Ctx, request: Request) -> Response:
    """Add or remove an account (admins only; CSRF token required)."""
    form = await read_form(request)
    # Database work, building and rendering happen in the thread pool, off the event loop.
    return await run_in_threadpool(_users_action, ctx, request, form)


def _users_action(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = _who(ctx, request)
    if who is None:
        return _to_login(request)
    _admin_only(who)
    _check_csrf(form, who.csrf_token)
    action = form.first("action")
    try:
        if action == "add":
            add_account(
                ctx.web.app, form.first("email"), form.first("role"), form.first("password")
            )
            done = "user-added"
        elif action == "remove":
            if account_email(form.first("email")) == who.email:
                raise AccountError("you cannot remove your own account while signed in with it")
            remove_account(ctx.web.app, form.first("email"))
            done = "user-removed"
        else:
            raise HTTPException(400, "action must be add or remove")
    except AccountError as exc:
        return _users_page(ctx, who, status_code=400, error=str(exc))
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


__all__ = ["router"]
