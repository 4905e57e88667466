"""The editors' routes behind the preview secret: the next issue, and each issue's statistics.

The secret is accepted as ``?token=`` (then kept in an HttpOnly, SameSite=Strict cookie for
the following pages), or as ``Authorization: Bearer``. No secret: 401; a wrong one: 403.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from newsletter.service.preview import THIN_BELOW, is_preview_token, next_issue_preview
from newsletter.service.stats import issue_report
from newsletter.web.charts import bar_chart
from newsletter.web.context import WebContext, web_context
from newsletter.web.middleware import PREVIEW_CSP

router = APIRouter()
Ctx = Annotated[WebContext, Depends(web_context)]
COOKIE = "newsletter_preview"
COOKIE_SECONDS = 12 * 3600


def _presented(request: Request) -> tuple[str | None, bool]:
    """The secret the request presents, and whether it came in the query string."""
    query = request.query_params.get("token")
    if query is not None:
        return query, True
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), False
    return request.cookies.get(COOKIE), False


def _authorize(ctx: WebContext, request: Request) -> bool:
    """Check the secret; returns whether it came as ``?token=`` (so the cookie is set)."""
    token, from_query = _presented(request)
    if not token:
        raise HTTPException(
            401,
            "this page needs the preview token: open the URL `newsletter preview-url` prints",
            headers={"WWW-Authenticate": 'Bearer realm="preview"'},
        )
    if not is_preview_token(ctx.app, token):
        raise HTTPException(
            403, "wrong preview token; `newsletter preview-url` prints the right one"
        )
    return from_query


def _respond(ctx: WebContext, request: Request, response: Response, from_query: bool) -> Response:
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    if from_query:
        token, _ = _presented(request)
        response.set_cookie(
            COOKIE,
            token or "",
            max_age=COOKIE_SECONDS,
            path="/preview",
            secure=urlsplit(ctx.app.settings.base_url).scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response


@router.get("/preview", response_class=HTMLResponse)
def preview(ctx: Ctx, request: Request) -> Response:
    """The next issue as it would be sent (HTML in a sandboxed frame, and the text part), the
    sections' sizes, the failing feeds and the latest issues."""
    from_query = _authorize(ctx, request)
    report = next_issue_preview(ctx.app)
    page = ctx.pages.page("preview.html", report=report, thin_below=THIN_BELOW)
    return _respond(ctx, request, page, from_query)


@router.get("/preview/issues/{period}", response_class=HTMLResponse)
def preview_issue_stats(ctx: Ctx, request: Request, period: str) -> Response:
    """Sends, bounces, unsubscribes and clicks of one issue by story title, with a small
    chart (the workbench's /admin/stats/PERIOD shows the same with click rates)."""
    from_query = _authorize(ctx, request)
    stats = issue_report(ctx.app, period)
    if stats.clicks_by_day:
        chart = bar_chart([(d.day[5:], d.clicks) for d in stats.clicks_by_day])
    else:
        chart = bar_chart([(f"#{i}", s.clicks) for i, s in enumerate(stats.stories[:12], 1)])
    page = ctx.pages.page("issue_stats.html", stats=stats, chart=chart)
    return _respond(ctx, request, page, from_query)


__all__ = ["router"]
