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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from newsletter.domain.overrides import FACT_FIELDS, TEXT_FIELDS
from newsletter.domain.periods import Period
from newsletter.errors import AccountError, IssueError
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
    REORDER_ACTIONS,
    VIEWPOINT_CHARS,
    StaleIssueError,
    change_item,
    edit_facts,
    edit_item,
    reorder_item,
    save_viewpoint,
    set_status,
    unapprove,
)
from newsletter.service.feedlist import export_opml
from newsletter.service.sending import send_test_copies
from newsletter.service.workbench import draft_view, next_period, period_of, viewpoint_preview
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
    "unchanged": "Nothing changed: that was already done to item {item}.",
    "approve": "Approved: the content is frozen as it is now.",
    "unapprove": "Returned to a draft: items can change again.",
    "hold": "Held: this issue will not be sent until it is approved.",
    "up": "Moved item {item} up.",
    "down": "Moved item {item} down.",
    "edit": "Saved the text of item {item} for this issue.",
    "facts": "Saved the facts of item {item} for this issue.",
    "viewpoint": "Saved the viewpoint for this issue.",
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
            pages=Pages(
                web.app.config.templates_dir / "admin",
                web.pages.site,
                shared=web.app.config.templates_dir / "web",
            ),
            account_limiter=RequestRateLimiter(LOGIN_LIMIT_PER_ACCOUNT, LOGIN_WINDOW),
            ip_limiter=RequestRateLimiter(LOGIN_LIMIT_PER_IP, LOGIN_WINDOW),
        )
        request.app.state.admin = ctx
    assert isinstance(ctx, AdminContext)
    return ctx


Ctx = Annotated[AdminContext, Depends(admin_context)]


def current_account(ctx: AdminContext, request: Request) -> SignedIn | None:
    return signed_in(ctx.web.app, request.cookies.get(SESSION_COOKIE))


def to_login(request: Request) -> Response:
    """Off to the sign-in form, coming back here afterwards (GET pages only)."""
    target = request.url.path if request.method == "GET" else "/admin"
    return RedirectResponse(f"/admin/login?next={quote(target, safe='/')}", status_code=303)


def signed_form(ctx: AdminContext, request: Request, form: Form) -> SignedIn | None:
    """Who posted ``form``: None without a session (the caller redirects to the sign-in and
    changes nothing); 403 when the form does not carry the session's CSRF token."""
    who = current_account(ctx, request)
    if who is not None:
        check_csrf(form, who.csrf_token)
    return who


def check_csrf(form: Form, expected: str) -> None:
    presented = form.first("csrf_token")
    if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(
            403, "this form has expired or did not come from this site; reload the page and retry"
        )


def _login_csrf(ctx: AdminContext, nonce: str) -> str:
    return hmac.new(
        ctx.web.app.secret(), b"admin-login:" + nonce.encode(), hashlib.sha256
    ).hexdigest()


# The preview's policy, plus the workbench's own script (the viewpoint's live preview) and its
# requests to this site; no inline script.
ADMIN_CSP = PREVIEW_CSP + "; script-src 'self'; connect-src 'self'"
SCRIPT = "workbench.js"


def admin_page(ctx: AdminContext, template: str, status_code: int = 200, **values: Any) -> Response:
    response = ctx.pages.page(template, status_code=status_code, **values)
    response.headers["Content-Security-Policy"] = ADMIN_CSP
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


@router.get("/admin/workbench.js")
def admin_script(ctx: Ctx) -> Response:
    """The workbench's small script (templates/admin/workbench.js): the viewpoint's live
    preview. Every page works without it."""
    try:
        body = (ctx.pages.folder / SCRIPT).read_bytes()
    except OSError as exc:
        raise HTTPException(404, f"{SCRIPT} is missing from the admin templates") from exc
    return Response(
        body,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/admin/login")
def login_form(ctx: Ctx, request: Request, next: str = "/admin", signed_out: str = "") -> Response:
    """The sign-in form (email, password, hidden csrf_token)."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = admin_page(
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
    check_csrf(form, _login_csrf(ctx, nonce) if nonce else "")
    email, password = form.first("email").strip(), form.first("password")
    target = _safe_next(form.first("next") or "/admin")

    def again(status: int, error: str) -> Response:
        return admin_page(
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
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    end_session(ctx.web.app, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/admin/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/admin")
def admin_home(ctx: Ctx, request: Request) -> Response:
    """The next issue's draft."""
    if current_account(ctx, request) is None:
        return to_login(request)
    return RedirectResponse(f"/admin/issues/{next_period(ctx.web.app).label}", status_code=303)


def _draft_page(
    ctx: AdminContext,
    who: SignedIn,
    label: str,
    status_code: int = 200,
    done: str | None = None,
    error: str | None = None,
    form: Form | None = None,
    item_id: int | None = None,
    viewpoint_preview_html: str | None = None,
) -> Response:
    """The draft page; after a refused form, that form's values are shown again with the error
    (``form`` and ``item_id``), so nothing typed is lost and nothing was applied."""
    try:
        period = period_of(ctx.web.app, label)
    except IssueError as exc:
        raise HTTPException(404, str(exc)) from exc
    view = draft_view(ctx.web.app, period)
    again: dict[str, str] = {}
    if form is not None:
        names = (*TEXT_FIELDS, *FACT_FIELDS, "viewpoint")
        again = {name: form.first(name) for name in names if name in form.values}
    return admin_page(
        ctx,
        "issue.html",
        status_code=status_code,
        view=view,
        who=who,
        done=done,
        error=error,
        item_actions=ITEM_ACTIONS,
        again=again,
        again_item=item_id,
        again_action=form.first("action") if form is not None else "",
        viewpoint_preview=viewpoint_preview_html,
    )


@router.get("/admin/issues/{period}")
def issue_page(
    ctx: Ctx, request: Request, period: str, done: str = "", item: int | None = None
) -> Response:
    """The draft: the email as it will be sent beside every section's items, the left-out
    items, approval buttons and the change log."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    message = DONE.get(done, "").format(item=item) or None
    if done == "test-copy":
        message = _last_test_copy(ctx, period)
    return _draft_page(ctx, who, period, done=message)


def _last_test_copy(ctx: AdminContext, label: str) -> str | None:
    try:
        view = draft_view(ctx.web.app, period_of(ctx.web.app, label))
    except IssueError:
        return None
    notes = [e.note for e in view.log if e.action == "test-copy"]
    return f"Test copy: {notes[-1]}." if notes and notes[-1] else None


def _version(form: Form) -> int:
    try:
        return int(form.first("version"))
    except ValueError as exc:
        raise HTTPException(400, "the form has no version field; reload the page") from exc


# What a form on the draft page asks of the service: the period, who, the form and the page's
# version in; the DONE key and the item to name in the message out.
IssueChange = Callable[[Period, SignedIn, Form, int], tuple[str, int | None]]


async def _issue_form(
    ctx: AdminContext, request: Request, period: str, change: IssueChange
) -> Response:
    """Every form of the draft page: read it, then (in the thread pool, off the event loop:
    database work, building and rendering) require a session and its CSRF token, carry the
    page's version to the service (a stale page is refused with 409), and redirect to the
    page with a message; a refused change re-shows the page with the reason and the form."""
    form = await read_form(request)
    return await run_in_threadpool(_apply_issue_form, ctx, request, form, period, change)


def _apply_issue_form(
    ctx: AdminContext, request: Request, form: Form, period: str, change: IssueChange
) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    version = _version(form)
    try:
        the_period = period_of(ctx.web.app, period)
        done, item = change(the_period, who, form, version)
    except IssueError as exc:
        status = 409 if isinstance(exc, StaleIssueError) else 400
        item_id = request.path_params.get("item_id")
        return _draft_page(
            ctx,
            who,
            period,
            status_code=status,
            error=str(exc),
            form=form,
            item_id=int(item_id) if item_id is not None else None,
        )
    suffix = f"&item={item}" if item is not None else ""
    return RedirectResponse(f"/admin/issues/{period}?done={done}{suffix}", status_code=303)


@router.post("/admin/issues/{period}/items/{item_id}")
async def item_action(ctx: Ctx, request: Request, period: str, item_id: int) -> Response:
    """Pin, unpin, drop, restore, move, reorder (up, down), edit (title, summary, blurb) or
    change the facts of one item (CSRF token and page version required)."""

    def change(the_period: Period, who: SignedIn, form: Form, version: int) -> tuple[str, int]:
        app, action = ctx.web.app, form.first("action")
        if action in ITEM_ACTIONS:
            section = (
                form.first("section") or None if action in ("move", "pin", "restore") else None
            )
            done = change_item(
                app,
                the_period,
                action,
                item_id,
                section=section,
                actor=who.email,
                expected_version=version,
            )
            if isinstance(done, str):  # the same change again: not logged
                return "unchanged", item_id
        elif action in REORDER_ACTIONS:
            reorder_item(app, the_period, item_id, action, who.email, version)
        elif action == "edit":
            edit_item(
                app,
                the_period,
                item_id,
                form.first("title"),
                form.first("summary"),
                form.first("blurb"),
                who.email,
                version,
            )
        elif action == "facts":
            # A field the form did not show keeps what was set before.
            values = {n: form.first(n) if n in form.values else None for n in FACT_FIELDS}
            edit_facts(app, the_period, item_id, values, who.email, version)
        else:
            names = (*ITEM_ACTIONS, *REORDER_ACTIONS, "edit", "facts")
            raise HTTPException(400, f"action must be one of {', '.join(names)}")
        return action, item_id

    return await _issue_form(ctx, request, period, change)


@router.post("/admin/issues/{period}/status")
async def status_action(ctx: Ctx, request: Request, period: str) -> Response:
    """Approve, unapprove or hold the issue (CSRF token and page version required)."""

    def change(the_period: Period, who: SignedIn, form: Form, version: int) -> tuple[str, None]:
        app, action = ctx.web.app, form.first("action")
        if action == "approve":
            set_status(app, the_period, "approved", actor=who.email, expected_version=version)
        elif action == "hold":
            set_status(app, the_period, "held", actor=who.email, expected_version=version)
        elif action == "unapprove":
            unapprove(app, the_period, actor=who.email, expected_version=version)
        else:
            raise HTTPException(400, "action must be approve, unapprove or hold")
        return action, None

    return await _issue_form(ctx, request, period, change)


@router.post("/admin/issues/{period}/viewpoint")
async def viewpoint_action(ctx: Ctx, request: Request, period: str) -> Response:
    """Save the viewpoint written on the page (action=save), or, without JavaScript, show its
    preview without saving (action=preview)."""
    form = await read_form(request)
    if form.first("action") == "preview":
        return await run_in_threadpool(_viewpoint_preview_page, ctx, request, form, period)

    def change(the_period: Period, who: SignedIn, form: Form, version: int) -> tuple[str, None]:
        save_viewpoint(ctx.web.app, the_period, form.first("viewpoint"), who.email, version)
        return "viewpoint", None

    return await run_in_threadpool(_apply_issue_form, ctx, request, form, period, change)


def _viewpoint_preview_page(
    ctx: AdminContext, request: Request, form: Form, period: str
) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    return _draft_page(
        ctx,
        who,
        period,
        done="Preview of the viewpoint below; it is not saved yet.",
        form=form,
        viewpoint_preview_html=viewpoint_preview(form.first("viewpoint")),
    )


@router.post("/admin/issues/{period}/viewpoint/preview")
async def viewpoint_preview_fragment(ctx: Ctx, request: Request, period: str) -> Response:
    """The viewpoint's Markdown as sanitized HTML, for the page's live preview (script)."""
    form = await read_form(request)
    who = await run_in_threadpool(signed_form, ctx, request, form)
    if who is None:
        raise HTTPException(403, "sign in again")
    text = form.first("viewpoint")
    if len(text) > VIEWPOINT_CHARS:
        raise HTTPException(413, f"the viewpoint is limited to {VIEWPOINT_CHARS} characters")
    return Response(
        viewpoint_preview(text),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'"},
    )


@router.post("/admin/issues/{period}/test-copy")
async def test_copy_action(ctx: Ctx, request: Request, period: str) -> Response:
    """Send a test copy of the issue as it stands to newsletter.test_recipients, through the
    configured transport; the result is shown on the page and logged."""

    def change(the_period: Period, who: SignedIn, form: Form, version: int) -> tuple[str, None]:
        app = ctx.web.app
        send_test_copies(app, the_period, app.transport, who.email)
        return "test-copy", None

    return await _issue_form(ctx, request, period, change)


@router.get("/admin/feeds.opml")
def feeds_opml(ctx: Ctx, request: Request) -> Response:
    """The configured feeds as OPML 2.0 (for feed readers and `newsletter feeds import`)."""
    if current_account(ctx, request) is None:
        return to_login(request)
    document = export_opml(ctx.web.app.config, datetime.now(UTC))
    return Response(
        document,
        media_type="text/x-opml; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="feeds.opml"'},
    )


def require_admin(who: SignedIn, what: str) -> None:
    """403 unless an admin signed in; ``what`` says what only admins may do."""
    if not who.is_admin:
        raise HTTPException(403, f"only admins {what}; ask an admin")


def _users_page(
    ctx: AdminContext,
    who: SignedIn,
    status_code: int = 200,
    done: str | None = None,
    error: str | None = None,
) -> Response:
    return admin_page(
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
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    require_admin(who, "manage accounts")
    return _users_page(ctx, who, done=DONE.get(done))


@router.post("/admin/users")
async def users_action(ctx: Ctx, request: Request) -> Response:
    """Add or remove an account (admins only; CSRF token required)."""
    form = await read_form(request)
    # Database work, building and rendering happen in the thread pool, off the event loop.
    return await run_in_threadpool(_users_action, ctx, request, form)


def _users_action(ctx: AdminContext, request: Request, form: Form) -> Response:
    who = signed_form(ctx, request, form)
    if who is None:
        return to_login(request)
    require_admin(who, "manage accounts")
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
