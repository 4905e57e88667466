"""The workbench's statistics: the latest issues side by side with a chart, and each issue's
sends, bounces, unsubscribes and clicks by story title with click rates. Editors and admins
see them; nothing here changes anything."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from newsletter.service.stats import IssueReport, issue_report, recent_reports
from newsletter.web.admin import Ctx, admin_page, current_account, to_login
from newsletter.web.charts import Chart, bar_chart

router = APIRouter()


def trend_chart(reports: Sequence[IssueReport], unique: bool) -> Chart | None:
    """Bars per issue, oldest first: unique clickers when known, else clicks on stories."""
    return bar_chart(
        [
            (
                r.period.rsplit("-", 1)[-1][:8],
                (r.unique_clickers or 0) if unique else r.story_clicks,
            )
            for r in reports
        ]
    )


@router.get("/admin/stats")
def stats_page(ctx: Ctx, request: Request) -> Response:
    """The latest issues that went out: sends, bounces, unsubscribes, clicks and rates."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    reports = recent_reports(ctx.web.app)
    unique = any(r.unique_clickers is not None for r in reports)
    return admin_page(
        ctx,
        "stats.html",
        who=who,
        reports=list(reversed(reports)),
        chart=trend_chart(reports, unique),
        unique=unique,
    )


@router.get("/admin/stats/{period}")
def issue_stats_page(ctx: Ctx, request: Request, period: str) -> Response:
    """One issue: deliveries, bounces, unsubscribes, clicks by story with click rates, and
    the clicks per day."""
    who = current_account(ctx, request)
    if who is None:
        return to_login(request)
    report = issue_report(ctx.web.app, period)
    days = report.clicks_by_day
    chart = bar_chart(
        [(d.day[5:], d.clicks) for d in days], width=float(min(max(len(days), 4) * 60, 600))
    )
    return admin_page(ctx, "stats_issue.html", who=who, r=report, chart=chart)


__all__ = ["router"]
