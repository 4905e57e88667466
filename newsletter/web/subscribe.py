"""Routes for subscribers: subscribe (form and JSON), confirm, unsubscribe, preferences.

Every route only translates between HTTP and ``service.subscriptions``; errors raised there are
turned into pages by the handlers in ``web.app``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from newsletter.email.i18n import N_
from newsletter.errors import NewsletterError, SubscriberError
from newsletter.service.subscriptions import (
    ConfirmationMail,
    Evidence,
    SubscriberView,
    check_confirmation,
    choices,
    confirm,
    prepare_subscription,
    send_confirmation,
    set_preferences,
    subscribe,
    subscriber_by_token,
    unsubscribe,
)
from newsletter.web.context import WebContext, web_context
from newsletter.web.forms import Form, optional_strings, optional_text, read_form, read_json
from newsletter.web.limits import rate_key

log = logging.getLogger(__name__)
router = APIRouter()
Ctx = Annotated[WebContext, Depends(web_context)]
FormBody = Annotated[Form, Depends(read_form)]
JsonBody = Annotated[dict[str, Any], Depends(read_json)]
HONEYPOT = "website"  # a field people never see (hidden with CSS) and bots fill in
ACCEPTED_MESSAGE = N_(
    "If this address can receive the newsletter, a confirmation link is on its way. "
    "Open it to start your subscription."
)


def _evidence(ctx: WebContext, request: Request) -> Evidence:
    return Evidence(ctx.client_ip(request), request.headers.get("user-agent"))


def _send_later(ctx: WebContext, mail: ConfirmationMail) -> None:
    """Runs after the response has gone: a slow or failing relay neither delays nor changes
    the answer (which would tell the requester the address's state)."""
    try:
        send_confirmation(ctx.app, ctx.transport_factory(), mail)
    except NewsletterError as exc:
        log.warning("confirmation email to %s not sent: %s", mail.email, exc)


def _request_subscription(
    ctx: WebContext,
    request: Request,
    background: BackgroundTasks,
    email: str,
    name: str | None,
    sections: list[str] | None,
    language: str | None,
    honeypot: str,
) -> None:
    """Everything a subscribe request does; the caller answers the same way whatever happened
    here (except for input that is invalid whatever the address's state)."""
    if honeypot.strip():
        log.info("subscribe request with the honeypot field filled in; ignored")
        return
    wanted = prepare_subscription(ctx.app, email, name, sections, language)
    if not ctx.ip_limiter.hit(rate_key(ctx.client_ip(request))):
        log.info("subscribe requests from %s over the hourly limit", ctx.client_ip(request))
        return
    outcome = subscribe(
        ctx.app, wanted, evidence=_evidence(ctx, request), may_send=ctx.address_limiter.hit
    )
    if outcome.confirmation is not None:
        background.add_task(_send_later, ctx, outcome.confirmation)


def _form_page(
    ctx: WebContext, status_code: int = 200, error: str | None = None, form: Form | None = None
) -> HTMLResponse:
    offered = choices(ctx.app)
    picked = form.all("sections") if form else [s for s, _ in offered.sections]
    return ctx.pages.page(
        "subscribe.html",
        status_code=status_code,
        choices=offered,
        error=error,
        email=form.first("email") if form else "",
        name=form.first("name") if form else "",
        picked=picked,
        language=form.first("language") if form else "",
    )


@router.api_route("/subscribe", methods=["GET", "HEAD"], response_class=HTMLResponse)
def subscribe_form(ctx: Ctx) -> Response:
    """The subscribe form."""
    return _form_page(ctx)


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe_submit(
    ctx: Ctx, request: Request, form: FormBody, background: BackgroundTasks
) -> Response:
    """Double opt-in: the same answer for every address; the email tells the rest."""
    try:
        _request_subscription(
            ctx,
            request,
            background,
            form.first("email"),
            form.first("name") or None,
            form.all("sections") or None,
            form.first("language") or None,
            form.first(HONEYPOT),
        )
    except SubscriberError as exc:  # in the page's language; the JSON API answers in English
        return _form_page(ctx, 400, exc.in_language(ctx.pages.gettext), form)
    return ctx.pages.page("subscribe_done.html", message=ctx.pages.gettext(ACCEPTED_MESSAGE))


@router.post("/api/subscribers")
def subscribe_api(
    ctx: Ctx, request: Request, data: JsonBody, background: BackgroundTasks
) -> Response:
    """JSON double opt-in: {"email": ..., "name"?, "sections"?, "language"?} → 202, always
    the same body for a valid address."""
    try:
        _request_subscription(
            ctx,
            request,
            background,
            optional_text(data, "email") or "",
            optional_text(data, "name"),
            optional_strings(data, "sections"),
            optional_text(data, "language"),
            optional_text(data, HONEYPOT) or "",
        )
    except SubscriberError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"status": "accepted", "message": ACCEPTED_MESSAGE}, status_code=202)


# ---- confirm -------------------------------------------------------------------------------


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(ctx: Ctx, token: str) -> Response:
    """A button that confirms (link scanners fetch every URL; a GET changes nothing)."""
    state = check_confirmation(ctx.app, token)
    if state == "already":
        return ctx.pages.page("confirmed.html", already=True)
    return ctx.pages.page("confirm.html", token=token)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_submit(ctx: Ctx, request: Request, token: str) -> Response:
    """Confirm: the address becomes active; a second time changes nothing."""
    outcome = confirm(ctx.app, token, _evidence(ctx, request))
    return ctx.pages.page("confirmed.html", already=outcome == "already")


# ---- unsubscribe ---------------------------------------------------------------------------


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(ctx: Ctx, token: str) -> Response:
    """A confirmation page with a button; a GET never unsubscribes."""
    view = subscriber_by_token(ctx.app, token)
    return ctx.pages.page("unsubscribe.html", view=view)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_submit(ctx: Ctx, token: str) -> Response:
    """RFC 8058 one-click: a POST (body ``List-Unsubscribe=One-Click``, url-encoded or
    multipart; our own button sends the same) unsubscribes at once, with no cookie or CSRF
    token, and answers 200 without a redirect. The body is not needed, so it is not parsed:
    a mail provider's POST is never refused for its encoding. Idempotent."""
    outcome = unsubscribe(ctx.app, token)
    return ctx.pages.page("unsubscribed.html", already=outcome == "already")


# ---- preferences ---------------------------------------------------------------------------


def _preferences_page(
    ctx: WebContext,
    view: SubscriberView,
    status_code: int = 200,
    saved: bool = False,
    error: str | None = None,
) -> HTMLResponse:
    offered = choices(ctx.app)
    picked = list(view.sections) if view.sections is not None else [s for s, _ in offered.sections]
    return ctx.pages.page(
        "preferences.html",
        status_code=status_code,
        view=view,
        choices=offered,
        picked=picked,
        language=view.locale or "",
        saved=saved,
        error=error,
    )


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(ctx: Ctx, token: str) -> Response:
    """The sections and language form, and an unsubscribe button."""
    return _preferences_page(ctx, subscriber_by_token(ctx.app, token))


@router.post("/preferences/{token}", response_class=HTMLResponse)
def preferences_submit(ctx: Ctx, token: str, form: FormBody) -> Response:
    """Save sections and language; unknown ones are refused (400) and nothing changes."""
    view = subscriber_by_token(ctx.app, token)
    try:
        view = set_preferences(ctx.app, token, form.all("sections"), form.first("language") or None)
    except SubscriberError as exc:
        return _preferences_page(ctx, view, 400, error=exc.in_language(ctx.pages.gettext))
    return _preferences_page(ctx, view, saved=True)


__all__ = ["router"]
