"""`GET /metrics`: the Prometheus numbers, behind a bearer token (NEWSLETTER_METRICS_TOKEN)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from newsletter.service.metrics import CONTENT_TYPE, database_metrics
from newsletter.web.context import WebContext, web_context

router = APIRouter()
Ctx = Annotated[WebContext, Depends(web_context)]


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether an ``Authorization: Bearer TOKEN`` header carries ``expected`` (compared in
    constant time)."""
    if not authorization:
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@router.get("/metrics")
async def metrics(request: Request, ctx: Ctx) -> Response:
    """The database's numbers for Prometheus. Off (404) until NEWSLETTER_METRICS_TOKEN is set;
    then a scrape needs ``Authorization: Bearer TOKEN`` (401 without it, 403 when wrong)."""
    secret = ctx.app.settings.metrics_token
    expected = secret.get_secret_value() if secret is not None else ""
    if not expected:
        raise HTTPException(404, "metrics are off: set NEWSLETTER_METRICS_TOKEN to turn them on")
    header = request.headers.get("authorization")
    if not header:
        raise HTTPException(
            401,
            "send the metrics token as Authorization: Bearer TOKEN",
            {"WWW-Authenticate": "Bearer"},
        )
    if not token_matches(expected, header):
        raise HTTPException(403, "wrong metrics token")
    body = await run_in_threadpool(database_metrics, ctx.app)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


__all__ = ["router", "token_matches"]
