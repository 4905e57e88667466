"""Public read-only routes: the archive (index, issue pages, Atom), the click redirect, health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from newsletter.service.archive import (
    archive_atom,
    archive_html,
    event_calendar_file,
    sent_issues,
)
from newsletter.service.clicks import follow_link
from newsletter.service.health import database_health
from newsletter.web.context import WebContext, web_context
from newsletter.web.middleware import ARCHIVE_CSP
from newsletter.web.pages import STYLESHEET

router = APIRouter()
Ctx = Annotated[WebContext, Depends(web_context)]
PUBLIC_CACHE = "public, max-age=300"


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
def home() -> Response:
    """The site's address leads to the archive (which links to the subscribe form)."""
    return RedirectResponse("/archive", status_code=303)


@router.api_route("/archive", methods=["GET", "HEAD"], response_class=HTMLResponse)
def archive_index(ctx: Ctx) -> Response:
    """Every sent issue, newest first, with a link to the Atom feed."""
    return ctx.pages.page(
        "archive.html", issues=sent_issues(ctx.app), headers={"Cache-Control": PUBLIC_CACHE}
    )


@router.api_route("/archive.atom", methods=["GET", "HEAD"])
def archive_feed(ctx: Ctx) -> Response:
    """The archive as an Atom feed."""
    return Response(
        archive_atom(ctx.app),
        media_type="application/atom+xml; charset=utf-8",
        headers={"Cache-Control": PUBLIC_CACHE},
    )


@router.api_route("/archive/{period}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def archive_issue(ctx: Ctx, period: str) -> Response:
    """A sent issue as it was emailed, with nothing personal in it ("view in browser")."""
    return HTMLResponse(
        archive_html(ctx.app, period),
        headers={"Content-Security-Policy": ARCHIVE_CSP, "Cache-Control": PUBLIC_CACHE},
    )


@router.api_route("/archive/{period}/events/{item_id}.ics", methods=["GET", "HEAD"])
def event_calendar(ctx: Ctx, period: str, item_id: int) -> Response:
    """An upcoming event of an issue that went out, as a calendar file ("Add to calendar")."""
    return Response(
        event_calendar_file(ctx.app, period, item_id),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Cache-Control": PUBLIC_CACHE,
            "Content-Disposition": f'attachment; filename="event-{item_id}.ics"',
        },
    )


@router.get("/c/{token}")
def click(ctx: Ctx, token: str, background: BackgroundTasks, u: str | None = None) -> Response:
    """Redirect to the link's stored http(s) target (nothing else), and count the click after
    answering: a database that cannot take the write (locked, full) never holds up or breaks
    the redirect; the count stays queued (see ClickCounter)."""
    target = follow_link(ctx.app, token, u)
    if target.click is not None:
        ctx.clicks.add(target.click)
        background.add_task(ctx.clicks.flush)
    return RedirectResponse(target.url, status_code=302)


@router.api_route("/healthz", methods=["GET", "HEAD"])
def healthz(ctx: Ctx) -> Response:
    """200 when the database answers and takes a write, else 503 saying which."""
    health = database_health(ctx.app)
    body = {"status": "ok" if health.ok else "error", "database": health.database}
    return JSONResponse(body, status_code=200 if health.ok else 503)


@router.api_route(f"/static/{STYLESHEET}", methods=["GET", "HEAD"])
def stylesheet(ctx: Ctx) -> Response:
    """The pages' stylesheet (templates/web/style.css)."""
    return Response(
        ctx.pages.stylesheet,
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )


__all__ = ["router"]
